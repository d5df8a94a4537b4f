"""What every market kind is: its outcomes, its grading, its line; and the registry of kinds by key."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from core.errors import InvalidInput


@dataclass(frozen=True)
class Score:
    """A final result; kinds that need more (corners, cards) will read extra stats."""

    home: int
    away: int

    @property
    def total(self) -> int:
        return self.home + self.away


@dataclass(frozen=True)
class OutcomeSpec:
    key: str
    name: str


class MarketKind:
    key: ClassVar[str]
    label: ClassVar[str]
    needs_line: ClassVar[bool] = False
    # False for kinds only the feed can result (micro-markets); a final score cancels them instead.
    graded_by_score: ClassVar[bool] = True

    def outcomes(self, *, home: str, away: str, line: Decimal | None) -> list[OutcomeSpec]:
        raise NotImplementedError

    def grade(self, *, key: str, line: Decimal | None, score: Score) -> str:
        """"won", "lost" or "void" for the outcome ``key`` given the final score."""
        raise NotImplementedError

    def market_name(self, *, line: Decimal | None) -> str:
        return f"{self.label} {line:f}" if line is not None else self.label

    def line_validate(self, line: Decimal | None) -> Decimal | None:
        if not self.needs_line:
            if line is not None:
                raise InvalidInput(f"A {self.key} market takes no line.", code="invalid_line")
            return None
        if line is None:
            raise InvalidInput(f"A {self.key} market needs a line, e.g. \"2.5\".", code="invalid_line")
        return line


REGISTRY: dict[str, MarketKind] = {}


def register(kind_class: type[MarketKind]) -> type[MarketKind]:
    REGISTRY[kind_class.key] = kind_class()
    return kind_class


def market_kind(key: str) -> MarketKind:
    try:
        return REGISTRY[key]
    except KeyError:
        raise InvalidInput(f"Unknown market kind {key!r}; known kinds: {', '.join(sorted(REGISTRY))}.",
                           code="unknown_market_kind", details={"kind": key}) from None


def kind_choices() -> list[tuple[str, str]]:
    return [(key, kind.label) for key, kind in sorted(REGISTRY.items())]
