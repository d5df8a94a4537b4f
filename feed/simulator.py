"""The game simulator: plays football and basketball games at an accelerated clock and writes the
wire format (docs/feed.md).

Football (feed/football.py): Poisson goals by team strength, markets suspended on a goal,
a rolling "goal before minute N" micro-market. Basketball (feed/basketball.py): four
quarters possession by possession, a roster of eight a side and their stat lines, markets suspended
at the breaks only. Both send the running clock and score; fair prices come with a margin, on the
tick ladder, clamped to the limits (feed/pricing.py). Everything is drawn from one seeded
``random.Random``, so a seed replays a run exactly.

``messages()`` yields ``(game_minute, message)`` in time order; a message is a dict, or a raw
string where a fault injects a malformed line. ``run_feed`` paces them in real time.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from feed.basketball import BasketballGame
from feed.football import FootballGame
from feed.game import Game

FAULTS = {"late-results", "cancel-market", "burst", "duplicates", "malformed"}
SPORTS: dict[str, type[Game]] = {"football": FootballGame, "basketball": BasketballGame}


class Simulator:
    def __init__(self, *, games: int = 3, seed: int = 1, source: str = "sim", faults: set[str] | None = None,
                 start: datetime, margin: Decimal = Decimal("0.05"), minutes: int = 90,
                 competition: str = "Odds Lab Live", ref_prefix: str = "sim",
                 sports: Sequence[str] = ("football",)) -> None:
        """``games`` are dealt to ``sports`` in turn (game 1 the first sport's); ``minutes`` is the
        length of a football game."""
        unknown = (faults or set()) - FAULTS
        if unknown:
            raise ValueError(f"unknown faults: {', '.join(sorted(unknown))}")
        if not sports or set(sports) - set(SPORTS):
            raise ValueError(f"sports are some of {', '.join(SPORTS)}, not {', '.join(sports) or 'none'}")
        self.rng = random.Random(seed)
        self.source, self.faults, self.start, self.margin = source, faults or set(), start, margin
        self.minutes, self.competition = minutes, competition
        self._taken: set[str] = set()
        self.games = [SPORTS[sports[i % len(sports)]](self, i, f"{ref_prefix}-{seed}-{i + 1}") for i in range(games)]

    def teams_draw(self, teams: list[str], index: int) -> tuple[str, str]:
        """Two teams no other game of the run plays, or numbered ones when the names run out."""
        free = [team for team in teams if team not in self._taken]
        if len(free) < 2:
            return f"Home {index + 1}", f"Away {index + 1}"
        home, away = self.rng.sample(free, k=2)
        self._taken |= {home, away}
        return home, away

    # --- all games, in time order -------------------------------------------------------------
    def messages(self) -> Iterator[tuple[float, dict[str, Any] | str]]:
        streams = [[(at, game.index, n, message) for n, (at, message) in enumerate(game.play())]
                   for game in self.games]
        merged = [(at, message) for at, _, _, message in heapq.merge(*streams)]
        yield from self._faulty(merged) if self.faults & {"duplicates", "malformed"} else merged

    def _faulty(self, merged):
        held = None
        for i, (at, message) in enumerate(merged):
            if "duplicates" in self.faults and held is None and i % 41 == 5 and message["type"] == "prices":
                held = (at, message)  # delivered after the next message: out of order
                continue
            if "malformed" in self.faults and i % 97 == 13:
                yield at, self.rng.choice(['{"type": "prices", "seq": ', "not json at all",
                                           '{"type": "prices", "source": "sim", "event": "x", "seq": 1, '
                                           '"ts": "2026-01-01T00:00:00Z", "prices": [{"market": "m", '
                                           '"outcome": "o", "price": 2.5}]}'])
            yield at, message
            if held is not None:
                yield held
                held = None
            if "duplicates" in self.faults and i % 53 == 7:
                yield at, message  # the same message again: dropped by its seq
