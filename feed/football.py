"""A simulated football game: Poisson goals by team strength (feed/pricing.py), the clock
every minute, its markets suspended on a goal and resumed half a minute later repriced, and a
"goal before minute N" micro-market on a rolling five-minute window."""

from __future__ import annotations

from decimal import Decimal

from feed.game import Game, Timed
from feed.pricing import GameState, fair_probabilities, goals_in_minute

LINE = Decimal("2.5")
WINDOW = 5  # minutes of a "goal before" micro-market


class FootballGame(Game):
    sport = "football"
    teams = ["Riverside Rovers", "Harbour Town", "Northgate United", "Old Mill Athletic", "Castle Park",
             "Westbrook City", "Eastfield", "Kingsbridge", "Lakeside", "Hillcrest", "Southport Albion",
             "Ashford Wanderers", "Millbrook", "Stonebridge", "Fairhaven", "Redcliffe"]
    main_markets = [("mr", "match_result", None), ("dc", "double_chance", None), ("ou25", "over_under", LINE),
                    ("btts", "both_teams_to_score", None)]

    def __init__(self, simulator, index, ref):
        super().__init__(simulator, index, ref)
        self.home_rate = round(self.rng.uniform(0.9, 2.0), 2)
        self.away_rate = round(self.rng.uniform(0.7, 1.7), 2)
        self.minute = self.home_goals = self.away_goals = 0
        self.window: tuple[str, int, bool] | None = None  # (market ref, end minute, goal seen)

    @property
    def score(self) -> str:
        return f"{self.home_goals}-{self.away_goals}"

    def state(self) -> GameState:
        return GameState(self.home_rate, self.away_rate, self.minute, self.home_goals, self.away_goals)

    def probabilities(self):
        return fair_probabilities(self.state(), lines=(LINE,), window_minutes=WINDOW)

    def play(self) -> list[Timed]:
        minutes = self.sim.minutes
        out: list[Timed] = [self.created(), self.msg(0, "event_started"), self.clock(0, "0'", self.score)]
        out += self._open_window(0)
        for minute in range(1, minutes + 1):
            self.minute = minute
            out.append(self.clock(minute, f"{minute}'", self.score))
            home, away = goals_in_minute(self.rng, self.state())
            if home or away:
                out += self._goal(minute, home, away)
            else:
                out += self.reprice(minute, self.main_refs(minute))
            if self.window and minute >= self.window[1]:
                out += self._close_window(minute)
                if minute < minutes - WINDOW:
                    out += self._open_window(minute)
            out += self.faults_due(minute - 1, minute)
        if self.window:
            out += self._close_window(minutes)
        return out + self.finish(minutes, self.home_goals, self.away_goals)

    def _goal(self, minute: int, home: int, away: int) -> list[Timed]:
        refs = self.main_refs(minute)
        out = self.suspend(minute, refs, "goal")
        if self.window:
            ref, end, _ = self.window
            self.window = (ref, end, True)
            out.append(self.msg(minute, "market_suspended", market=ref, reason="goal"))
        self.home_goals += home
        self.away_goals += away
        out.append(self.msg(minute, "game_event", kind="goal", team="home" if home else "away",
                            minute=minute, score=self.score))
        if self.window:  # the window saw its goal: result it now
            out += self._close_window(minute + 0.25)
        return out + self.reprice(minute + 0.5, refs) + self.resume(minute + 0.5, refs)

    def _open_window(self, minute: int) -> list[Timed]:
        end = minute + WINDOW
        ref = f"{self.ref}:ng{end}"
        self.window = (ref, end, False)
        prices = self.book(self.probabilities(), "next_goal_window", None)
        return [self.msg(minute, "market_created", market=ref, kind="next_goal_window", line=str(end),
                         prices=prices)]

    def _close_window(self, at: float) -> list[Timed]:
        ref, _, goal = self.window
        self.window = None
        return [self.msg(at, "market_closed", market=ref),
                self.msg(at, "market_result", market=ref, winners=["yes" if goal else "no"])]
