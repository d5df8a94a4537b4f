"""What every simulated game shares, whatever its sport: its messages (numbered per event), its main
markets' prices sent only when they change, the end of the game, and the faults injected into game 1.

A sport's game (feed/football.py, feed/basketball.py) says which markets it offers,
their fair probabilities in its current state, and plays itself (``play``) into ``(at, message)``
pairs, ``at`` being the simulator's time in game minutes (breaks included), rising.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from feed.pricing import price_book


class Simulator(Protocol):
    """What a game reads of the simulator playing it (feed/simulator.py, which imports the games)."""

    rng: random.Random
    source: str
    faults: set[str]
    start: datetime
    margin: Decimal
    minutes: int
    competition: str

    def teams_draw(self, teams: list[str], index: int) -> tuple[str, str]: ...

Timed = tuple[float, dict[str, Any] | str]
MarketRef = tuple[str, str, Decimal | None]  # (feed ref, kind, line)
BURST_AT, CANCEL_AT = 10, 30  # game minutes of the burst and cancel-market faults


class Game:
    sport: ClassVar[str]
    teams: ClassVar[list[str]]
    # (ref suffix, kind, line) of the markets the game opens with (a class's, or a game's own when its
    # line depends on the teams); the last one is what the cancel-market fault cancels.
    main_markets: list[MarketRef]

    def __init__(self, simulator: Simulator, index: int, ref: str) -> None:
        self.sim, self.index, self.ref = simulator, index, ref
        self.home, self.away = simulator.teams_draw(self.teams, index)
        self.seq = 0
        self.last_prices: dict[tuple[str, str], str] = {}

    @property
    def rng(self) -> random.Random:
        return self.sim.rng

    def probabilities(self) -> dict[str, dict[str, float]]:
        """Fair probabilities by market key (``kind``, or ``kind:line`` for a market with a line)."""
        raise NotImplementedError

    def play(self) -> list[Timed]:
        raise NotImplementedError

    # --- messages --------------------------------------------------------------------------------
    def msg(self, at: float, message_type: str, **body: Any) -> tuple[float, dict[str, Any]]:
        self.seq += 1
        ts = (self.sim.start + timedelta(minutes=at)).isoformat().replace("+00:00", "Z")
        return at, {"type": message_type, "source": self.sim.source, "event": self.ref, "seq": self.seq, "ts": ts,
                    **body}

    def created(self, **body: Any) -> tuple[float, dict[str, Any]]:
        markets = []
        books = self.books(self.main_refs(0))
        for ref, kind, line in self.main_refs(0):
            self.last_prices.update({(ref, k): p for k, p in books[ref].items()})
            markets.append({"market": ref, "kind": kind, "prices": books[ref],
                            **({"line": str(line)} if line is not None else {})})
        return self.msg(0, "event_created", home=self.home, away=self.away, sport=self.sport,
                        competition=self.sim.competition, start_time=self.sim.start.isoformat(), markets=markets,
                        **body)

    def clock(self, at: float, clock: str, score: str) -> tuple[float, dict[str, Any]]:
        return self.msg(at, "clock", clock=clock, score=score)

    # --- markets ---------------------------------------------------------------------------------
    def main_refs(self, at: float) -> list[MarketRef]:
        refs = [(f"{self.ref}:{suffix}", kind, line) for suffix, kind, line in self.main_markets]
        if self._faulty("cancel-market") and at >= CANCEL_AT:
            refs = refs[:-1]
        return refs

    def book(self, probabilities: dict[str, dict[str, float]], kind: str, line: Decimal | None) -> dict[str, str]:
        key = kind if line is None else f"{kind}:{line}"
        return {k: f"{v}" for k, v in price_book(probabilities[key], margin=self.sim.margin).items()}

    def books(self, refs: list[MarketRef]) -> dict[str, dict[str, str]]:
        probabilities = self.probabilities()
        return {ref: self.book(probabilities, kind, line) for ref, kind, line in refs}

    def reprice(self, at: float, refs: list[MarketRef]) -> list[Timed]:
        changes = []
        for ref, prices in self.books(refs).items():
            for key, price in prices.items():
                if self.last_prices.get((ref, key)) != price:
                    self.last_prices[(ref, key)] = price
                    changes.append({"market": ref, "outcome": key, "price": price})
        return [self.msg(at, "prices", prices=changes)] if changes else []

    def suspend(self, at: float, refs: list[MarketRef], reason: str) -> list[Timed]:
        return [self.msg(at, "market_suspended", market=ref, reason=reason) for ref, _, _ in refs]

    def resume(self, at: float, refs: list[MarketRef]) -> list[Timed]:
        return [self.msg(at, "market_resumed", market=ref) for ref, _, _ in refs]

    # --- the end ---------------------------------------------------------------------------------
    def finish(self, at: float, home_score: int, away_score: int, **result: Any) -> list[Timed]:
        """The whistle, then the result (two game minutes late with the late-results fault)."""
        late = 2 if "late-results" in self.sim.faults else 0.1
        return [self.msg(at, "event_finished"),
                self.msg(at + late, "result", home_score=home_score, away_score=away_score, **result)]

    # --- faults ----------------------------------------------------------------------------------
    def _faulty(self, fault: str) -> bool:
        return fault in self.sim.faults and self.index == 0

    def faults_due(self, before: float, at: float) -> list[Timed]:
        """The faults of game 1 whose minute falls in (before, at]: 50 price updates at once at 10',
        and its last main market cancelled at 30'."""
        out: list[Timed] = []
        if self._faulty("burst") and before < BURST_AT <= at:
            ref = f"{self.ref}:{self.main_markets[0][0]}"
            key = next(k for (r, k) in self.last_prices if r == ref)
            for i in range(50):
                price = Decimal(self.last_prices[(ref, key)]) + Decimal("0.01") * (i % 5)
                out.append(self.msg(at + i / 1000, "prices", prices=[{"market": ref, "outcome": key,
                                                                       "price": f"{price}"}]))
        if self._faulty("cancel-market") and before < CANCEL_AT <= at:
            out.append(self.msg(at, "market_cancelled", market=f"{self.ref}:{self.main_markets[-1][0]}",
                                reason="data provider outage"))
        return out
