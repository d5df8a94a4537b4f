"""A simulated basketball game: four 12-minute quarters (five-minute overtimes while level),
possession by possession, with a roster of eight a side whose stat lines make up the score.

The scoring model, per possession of a team: a turnover, a shooting foul (two free throws), or a
shot, a three with the team's three-point share; made by the team's make rates; a miss is
rebounded by the offence (27%, and the possession goes on) or the defence. A made shot is assisted
60% of the time. Points go to a shooter drawn by usage, rebounds and assists to players drawn by
their own weights, so a team's players' points always sum to its score.

Prices: each team's remaining points are normal, with the mean and variance per possession that the
model gives exactly (``Offense``) times the possessions left; the match winner (two-way) and the
total-points line follow. Markets are suspended at quarter breaks and half time only: baskets come
every few seconds and are priced as they come, not suspended on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from feed.game import Game, Timed

QUARTER_SECONDS, OVERTIME_SECONDS = 12 * 60, 5 * 60
BREAK, HALF_TIME = 1, 3  # simulator minutes between quarters, and at half time
POSSESSION_SECONDS = (8.0, 20.0)  # drawn evenly: 14 s on average, about 100 possessions a team
OFFENSIVE_REBOUND, ASSISTED = 0.27, 0.6
USAGE = (1.0, 0.9, 0.8, 0.75, 0.7, 0.45, 0.35, 0.3)  # shots taken, starters first
FIRST = ["Jay", "Marcus", "Andre", "Tyler", "Luis", "Sam", "Devon", "Kofi", "Noah", "Eli", "Ivan", "Omar",
         "Theo", "Ray", "Malik", "Jonas", "Darius", "Felix", "Isaac", "Nate"]
LAST = ["Brooks", "Okafor", "Moreno", "Hayes", "Lindqvist", "Carter", "Nakamura", "Petrov", "Diallo", "Reyes",
        "Walsh", "Bennett", "Osei", "Kowalski", "Grant", "Silva", "Fischer", "Mensah", "Ward", "Novak"]


@dataclass(frozen=True)
class Offense:
    """One team's possession: probabilities of its turnover, shooting foul, three-point attempt (of
    shots), made two, made three and made free throw."""

    turnover: float
    foul: float
    three_share: float
    two_make: float
    three_make: float
    free_throw: float

    def _round(self) -> tuple[float, float, float]:
        """(mean points, mean squared points, chance the possession goes on) of one try: a miss
        rebounded by the offence scores nothing in that try, so the tries add up simply."""
        shot = 1 - self.turnover - self.foul
        q = self.free_throw
        mean = self.foul * 2 * q + shot * (self.three_share * 3 * self.three_make
                                           + (1 - self.three_share) * 2 * self.two_make)
        square = self.foul * (2 * q * (1 - q) + 4 * q * q) + shot * (
            self.three_share * 9 * self.three_make + (1 - self.three_share) * 4 * self.two_make)
        miss = shot * (self.three_share * (1 - self.three_make) + (1 - self.three_share) * (1 - self.two_make))
        return mean, square, miss * OFFENSIVE_REBOUND

    def points(self) -> tuple[float, float]:
        """Mean and variance of the points of one possession."""
        mean, square, again = self._round()
        mean, square = mean / (1 - again), square / (1 - again)
        return mean, square - mean * mean


def _normal_above(x: float, mean: float, variance: float) -> float:
    """P(N(mean, variance) > x); certain either way when nothing is left to play."""
    if variance <= 0:
        return 1.0 if mean > x else 0.0 if mean < x else 0.5
    return 0.5 * math.erfc((x - mean) / math.sqrt(2 * variance))


def fair_probabilities(home: Offense, away: Offense, *, seconds_left: float, home_points: int,
                       away_points: int, line: Decimal) -> dict[str, dict[str, float]]:
    """``match_winner`` {home, away} (a tie goes to overtime, split evenly) and ``total_points:<line>``
    {over, under} (a half line: no push) from the score and the time left."""
    possessions = max(seconds_left, 0.0) / sum(POSSESSION_SECONDS)  # per team: they alternate
    (home_mean, home_var), (away_mean, away_var) = home.points(), away.points()
    lead = home_points - away_points + possessions * (home_mean - away_mean)
    spread = possessions * (home_var + away_var)
    home_wins = _normal_above(0.0, lead, spread)
    total = home_points + away_points + possessions * (home_mean + away_mean)
    over = _normal_above(float(line), total, spread)
    return {"match_winner": {"home": home_wins, "away": 1 - home_wins},
            f"total_points:{line}": {"over": over, "under": 1 - over}}


@dataclass
class CourtPlayer:
    """A player on the court: how much they shoot, rebound and pass, and their stat line."""

    ref: str
    name: str
    team: str
    usage: float
    rebounding: float
    passing: float
    points: int = 0
    rebounds: int = 0
    assists: int = 0

    def stats(self) -> dict[str, int]:
        return {"points": self.points, "rebounds": self.rebounds, "assists": self.assists}


class BasketballGame(Game):
    sport = "basketball"
    teams = ["Harbour City Hawks", "Valley Comets", "Northside Knights", "Bayview Blaze", "Ironwood Giants",
             "Lakeshore Lynx", "Summit Peaks", "Canal Street Cats", "Redrock Rockets", "Pinewood Owls",
             "Metro Mustangs", "Coastline Sharks", "Granite Bears", "Skyline Storm", "Riverbend Rapids",
             "Eastgate Eagles"]

    def __init__(self, simulator, index, ref):
        super().__init__(simulator, index, ref)
        self.offense = {team: self._offense() for team in ("home", "away")}
        self.line = Decimal(math.floor(self._expected_total())) + Decimal("0.5")
        self.main_markets = [("mw", "match_winner", None), ("tp", "total_points", self.line)]
        names = self.rng.sample([f"{f} {last}" for f in FIRST for last in LAST], k=2 * len(USAGE))
        self.roster = [CourtPlayer(f"{ref}:p{n + 1}", name, "home" if n < len(USAGE) else "away", USAGE[n % len(USAGE)],
                            round(self.rng.uniform(0.3, 1.0), 2), round(self.rng.uniform(0.3, 1.0), 2))
                       for n, name in enumerate(names)]
        self.period, self.elapsed = 1, 0.0  # seconds played in the period
        self.sent: dict[str, dict[str, int]] = {}  # stat lines as last sent

    def _offense(self) -> Offense:
        strength = self.rng.uniform(-0.04, 0.04)  # a better team makes more and loses the ball less
        return Offense(turnover=0.13 - strength / 2, foul=0.08, three_share=round(self.rng.uniform(0.33, 0.42), 2),
                       two_make=0.51 + strength, three_make=0.355 + strength * 0.8,
                       free_throw=round(self.rng.uniform(0.72, 0.82), 2))

    def _expected_total(self) -> float:
        possessions = 4 * QUARTER_SECONDS / sum(POSSESSION_SECONDS)
        return possessions * sum(offense.points()[0] for offense in self.offense.values())

    # --- the score -------------------------------------------------------------------------------
    def points(self, team: str) -> int:
        return sum(p.points for p in self.roster if p.team == team)

    @property
    def score(self) -> str:
        return f"{self.points('home')}-{self.points('away')}"

    def _length(self, period: int) -> int:
        return QUARTER_SECONDS if period <= 4 else OVERTIME_SECONDS

    def _seconds_left(self) -> float:
        left = self._length(self.period) - self.elapsed
        return left + QUARTER_SECONDS * max(0, 4 - self.period)

    def probabilities(self):
        return fair_probabilities(self.offense["home"], self.offense["away"], seconds_left=self._seconds_left(),
                                  home_points=self.points("home"), away_points=self.points("away"), line=self.line)

    def clock_text(self) -> str:
        left = math.ceil(self._length(self.period) - self.elapsed)
        name = f"Q{self.period}" if self.period <= 4 else f"OT{self.period - 4}"
        return f"{name} {left // 60:02d}:{left % 60:02d}"

    # --- one possession --------------------------------------------------------------------------
    def _pick(self, team: str, weight: str, besides: CourtPlayer | None = None) -> CourtPlayer:
        players = [p for p in self.roster if p.team == team and p is not besides]
        return self.rng.choices(players, weights=[getattr(p, weight) for p in players])[0]

    def _possession(self, team: str) -> None:
        offense, defence = self.offense[team], "away" if team == "home" else "home"
        while True:
            u = self.rng.random()
            if u < offense.turnover:
                return
            shooter = self._pick(team, "usage")
            if u < offense.turnover + offense.foul:
                shooter.points += sum(self.rng.random() < offense.free_throw for _ in range(2))
                return
            three = self.rng.random() < offense.three_share
            if self.rng.random() < (offense.three_make if three else offense.two_make):
                shooter.points += 3 if three else 2
                if self.rng.random() < ASSISTED:
                    self._pick(team, "passing", besides=shooter).assists += 1
                return
            if self.rng.random() >= OFFENSIVE_REBOUND:
                self._pick(defence, "rebounding").rebounds += 1
                return
            self._pick(team, "rebounding").rebounds += 1  # and the offence goes again

    # --- the game --------------------------------------------------------------------------------
    def play(self) -> list[Timed]:
        out: list[Timed] = [self.created(players=[{"player": p.ref, "name": p.name, "team": p.team}
                                                  for p in self.roster]),
                            self.msg(0, "event_started")]
        start, before, team = 0.0, 0.0, self.rng.choice(["home", "away"])
        while True:
            out.append(self.clock(start, self.clock_text(), self.score))
            length, tick = self._length(self.period), 60.0
            while self.elapsed < length:
                self.elapsed = min(length, self.elapsed + self.rng.uniform(*POSSESSION_SECONDS))
                self._possession(team)
                team = "away" if team == "home" else "home"
                if tick <= self.elapsed < length:  # the first possession past each minute reports it
                    at = start + self.elapsed / 60
                    out += self._tick(at) + self.faults_due(before, at)
                    tick, before = (self.elapsed // 60 + 1) * 60, at
            end = start + length / 60
            out += [*self._stats(end), self.clock(end, self.clock_text(), self.score)]
            home, away = self.points("home"), self.points("away")
            if self.period >= 4 and home != away:
                return out + self.finish(end, home, away, players=[
                    {"player": p.ref, **p.stats()} for p in self.roster])
            pause = HALF_TIME if self.period == 2 else BREAK
            refs = self.main_refs(end)
            out += self.suspend(end, refs, "half time" if self.period == 2 else "end of quarter")
            self.period, self.elapsed, start = self.period + 1, 0.0, end + pause
            out += self.reprice(start, refs) + self.resume(start, refs)

    def _tick(self, at: float) -> list[Timed]:
        # the stat lines first: the clock's event message then carries lines that add up to its score
        return [*self._stats(at), self.clock(at, self.clock_text(), self.score), *self.reprice(at, self.main_refs(at))]

    def _stats(self, at: float) -> list[Timed]:
        """The stat lines that changed since they were last sent."""
        changed = [p for p in self.roster if self.sent.get(p.ref) != p.stats()]
        self.sent.update({p.ref: p.stats() for p in changed})
        return [self.msg(at, "stats", players=[{"player": p.ref, **p.stats()} for p in changed])] if changed else []
