"""The game simulator: plays football games at an accelerated clock and writes the wire format.

Goals come from a Poisson model with team strengths; fair prices for every market come from the
score, the time left and the strengths (oddslab/feed/pricing.py), with a margin, on the tick ladder,
clamped to the limits. On a goal the game's markets are suspended, then repriced and resumed half a
game-minute later; a "goal before minute N" micro-market runs on a rolling five-minute window.
Everything is drawn from one seeded ``random.Random``, so a seed replays a run exactly.

``messages()`` yields ``(game_minute, message)`` in time order; a message is a dict, or a raw
string where a fault injects a malformed line. ``run_feed`` paces them in real time.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from oddslab.feed.pricing import GameState, fair_probabilities, goals_in_minute, price_book

FAULTS = {"late-results", "cancel-market", "burst", "duplicates", "malformed"}
TEAMS = ["Riverside Rovers", "Harbour Town", "Northgate United", "Old Mill Athletic", "Castle Park",
         "Westbrook City", "Eastfield", "Kingsbridge", "Lakeside", "Hillcrest", "Southport Albion",
         "Ashford Wanderers", "Millbrook", "Stonebridge", "Fairhaven", "Redcliffe"]
LINE = Decimal("2.5")
WINDOW = 5  # minutes of a "goal before" micro-market


@dataclass
class Game:
    index: int
    ref: str
    home: str
    away: str
    home_rate: float
    away_rate: float
    minute: int = 0
    home_goals: int = 0
    away_goals: int = 0
    seq: int = 0
    last_prices: dict[tuple[str, str], str] = field(default_factory=dict)
    window: tuple[str, int, bool] | None = None  # (market ref, end minute, goal seen)

    @property
    def score(self) -> str:
        return f"{self.home_goals}-{self.away_goals}"

    def state(self) -> GameState:
        return GameState(self.home_rate, self.away_rate, self.minute, self.home_goals, self.away_goals)


MAIN_MARKETS = [("mr", "match_result", None), ("dc", "double_chance", None), ("ou25", "over_under", LINE),
                ("btts", "both_teams_to_score", None)]


class Simulator:
    def __init__(self, *, games: int = 3, seed: int = 1, source: str = "sim", faults: set[str] | None = None,
                 start: datetime, margin: Decimal = Decimal("0.05"), minutes: int = 90,
                 competition: str = "Odds Lab Live", ref_prefix: str = "sim") -> None:
        unknown = (faults or set()) - FAULTS
        if unknown:
            raise ValueError(f"unknown faults: {', '.join(sorted(unknown))}")
        self.rng = random.Random(seed)
        self.source, self.faults, self.start, self.margin = source, faults or set(), start, margin
        self.minutes, self.competition = minutes, competition
        teams = self.rng.sample(TEAMS, k=min(len(TEAMS), games * 2)) if games * 2 <= len(TEAMS) else None
        self.games = [
            Game(i, f"{ref_prefix}-{seed}-{i + 1}",
                 teams[2 * i] if teams else f"Home {i + 1}", teams[2 * i + 1] if teams else f"Away {i + 1}",
                 home_rate=round(self.rng.uniform(0.9, 2.0), 2), away_rate=round(self.rng.uniform(0.7, 1.7), 2))
            for i in range(games)]

    # --- message helpers ----------------------------------------------------------------------
    def _msg(self, game: Game, at: float, message_type: str, **body: Any) -> tuple[float, dict[str, Any]]:
        game.seq += 1
        ts = (self.start + timedelta(minutes=at)).isoformat().replace("+00:00", "Z")
        return at, {"type": message_type, "source": self.source, "event": game.ref, "seq": game.seq, "ts": ts, **body}

    def _book(self, game: Game, kind: str, line: Decimal | None) -> dict[str, str]:
        probabilities = fair_probabilities(game.state(), lines=(LINE,), window_minutes=WINDOW)
        key = f"over_under:{line}" if kind == "over_under" else kind
        return {k: f"{v}" for k, v in price_book(probabilities[key], margin=self.margin).items()}

    def _reprice(self, game: Game, at: float, refs: list[tuple[str, str, Decimal | None]]):
        changes = []
        for ref, kind, line in refs:
            for key, price in self._book(game, kind, line).items():
                if game.last_prices.get((ref, key)) != price:
                    game.last_prices[(ref, key)] = price
                    changes.append({"market": ref, "outcome": key, "price": price})
        return [self._msg(game, at, "prices", prices=changes)] if changes else []

    def _main_refs(self, game: Game) -> list[tuple[str, str, Decimal | None]]:
        refs = [(f"{game.ref}:{suffix}", kind, line) for suffix, kind, line in MAIN_MARKETS]
        if "cancel-market" in self.faults and game.index == 0 and game.minute >= 30:
            refs = [r for r in refs if not r[0].endswith(":btts")]
        return refs

    # --- one game -------------------------------------------------------------------------------
    def _play(self, game: Game) -> list[tuple[float, dict[str, Any] | str]]:
        out: list[tuple[float, Any]] = []
        markets = []
        for ref, kind, line in self._main_refs(game):
            prices = self._book(game, kind, line)
            game.last_prices.update({(ref, k): p for k, p in prices.items()})
            markets.append({"market": ref, "kind": kind, "prices": prices,
                            **({"line": str(line)} if line is not None else {})})
        out.append(self._msg(game, 0, "event_created", home=game.home, away=game.away, sport="football",
                             competition=self.competition, start_time=self.start.isoformat(), markets=markets))
        out.append(self._msg(game, 0, "event_started"))
        out += self._open_window(game, 0)
        for minute in range(1, self.minutes + 1):
            game.minute = minute
            home, away = goals_in_minute(self.rng, game.state())
            if home or away:
                out += self._goal(game, minute, home, away)
            else:
                out += self._reprice(game, minute, self._main_refs(game))
            if game.window and minute >= game.window[1]:
                out += self._close_window(game, minute)
                if minute < self.minutes - WINDOW:
                    out += self._open_window(game, minute)
            if "cancel-market" in self.faults and game.index == 0 and minute == 30:
                out.append(self._msg(game, minute, "market_cancelled", market=f"{game.ref}:btts",
                                     reason="data provider outage"))
            if "burst" in self.faults and game.index == 0 and minute == 10:
                for i in range(50):
                    ref = f"{game.ref}:mr"
                    price = Decimal(game.last_prices[(ref, "home")]) + Decimal("0.01") * (i % 5)
                    out.append(self._msg(game, minute + i / 1000, "prices",
                                         prices=[{"market": ref, "outcome": "home", "price": f"{price}"}]))
        if game.window:
            out += self._close_window(game, self.minutes)
        out.append(self._msg(game, self.minutes, "event_finished"))
        result_at = self.minutes + (2 if "late-results" in self.faults else 0.1)
        out.append(self._msg(game, result_at, "result", home_score=game.home_goals, away_score=game.away_goals))
        return out

    def _goal(self, game: Game, minute: int, home: int, away: int):
        out = []
        refs = self._main_refs(game)
        for ref, _, _ in refs:
            out.append(self._msg(game, minute, "market_suspended", market=ref, reason="goal"))
        if game.window:
            ref, end, _ = game.window
            game.window = (ref, end, True)
            out.append(self._msg(game, minute, "market_suspended", market=ref, reason="goal"))
        game.home_goals += home
        game.away_goals += away
        out.append(self._msg(game, minute, "game_event", kind="goal", team="home" if home else "away",
                             minute=minute, score=game.score))
        if game.window:  # the window saw its goal: result it now
            out += self._close_window(game, minute + 0.25)
        out += self._reprice(game, minute + 0.5, refs)
        for ref, _, _ in refs:
            out.append(self._msg(game, minute + 0.5, "market_resumed", market=ref))
        return out

    def _open_window(self, game: Game, minute: int):
        end = minute + WINDOW
        ref = f"{game.ref}:ng{end}"
        game.window = (ref, end, False)
        prices = self._book(game, "next_goal_window", None)
        return [self._msg(game, minute, "market_created", market=ref, kind="next_goal_window", line=str(end),
                          prices=prices)]

    def _close_window(self, game: Game, at: float):
        ref, _, goal = game.window
        game.window = None
        return [self._msg(game, at, "market_closed", market=ref),
                self._msg(game, at, "market_result", market=ref, winners=["yes" if goal else "no"])]

    # --- all games, in time order -------------------------------------------------------------
    def messages(self) -> Iterator[tuple[float, dict[str, Any] | str]]:
        streams = [[(at, game.index, n, message) for n, (at, message) in enumerate(self._play(game))]
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
