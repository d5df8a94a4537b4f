"""Fair probabilities and book prices for the simulated football feed (pure Python, no Django).

The model: home and away goals for the rest of a game are independent Poisson counts whose means
are the teams' full-game rates scaled by the time left. The distribution of the remaining goals
(truncated where the tail is negligible, then renormalised) is combined with the current score to
give a fair, no-margin probability for every outcome of every market the simulator offers.

``price_book`` turns one market's fair probabilities into Decimal prices: a proportional margin
(each probability times ``1 + margin``), ``1 / p``, rounded DOWN onto the tick ladder (so the house
never offers more than the fair price with margin implies), then clamped into the price limits.
Floats stay inside the probability maths; prices are Decimals quantized to 0.01, never
``Decimal(float)``.

``goals_in_minute`` draws a minute's goals from the same model using only the ``random.Random``
it is given, so a seeded generator replays a game exactly.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext

FULL_TIME = 90.0  # minutes in a game; rates are expected goals over this
MIN_TRUNCATION = 15  # goals per team kept in the score distribution (more for very high rates)
CENT = Decimal("0.01")

# (from, up to, step): a Betfair-like ladder; prices at or above the top are the top.
LADDER: tuple[tuple[Decimal, Decimal, Decimal], ...] = tuple(
    (Decimal(lo), Decimal(hi), Decimal(step)) for lo, hi, step in (
        ("1.01", "2", "0.01"), ("2", "3", "0.02"), ("3", "4", "0.05"), ("4", "6", "0.1"), ("6", "10", "0.2"),
        ("10", "20", "0.5"), ("20", "30", "1"), ("30", "50", "2"), ("50", "100", "5"), ("100", "1000", "10")))
LADDER_MIN = LADDER[0][0]
LADDER_MAX = LADDER[-1][1]


@dataclass(frozen=True)
class GameState:
    home_rate: float  # expected home goals over a full 90 minutes (team strength), e.g. 1.6
    away_rate: float  # e.g. 1.1
    minute: float  # minutes played, 0..90 (values outside are treated as 0 or 90 for the time left)
    home_goals: int
    away_goals: int

    def __post_init__(self) -> None:
        for name in ("home_rate", "away_rate"):
            rate = getattr(self, name)
            if not math.isfinite(rate) or rate < 0:
                raise ValueError(f"{name} must be a finite number >= 0, not {rate!r}")
        if not math.isfinite(self.minute):
            raise ValueError(f"minute must be finite, not {self.minute!r}")
        for name in ("home_goals", "away_goals"):
            goals = getattr(self, name)
            if isinstance(goals, bool) or not isinstance(goals, int) or goals < 0:
                raise ValueError(f"{name} must be an int >= 0, not {goals!r}")


def _minutes_left(state: GameState) -> float:
    return min(max(FULL_TIME - state.minute, 0.0), FULL_TIME)


def remaining_rates(state: GameState) -> tuple[float, float]:
    """Expected further goals (home, away) in the time left: rate * (90 - minute) / 90, never negative."""
    share = _minutes_left(state) / FULL_TIME
    return state.home_rate * share, state.away_rate * share


def _poisson_pmf(mean: float) -> list[float]:
    """P(0..n) of a Poisson count, truncated where the tail is negligible and renormalised to sum to 1."""
    if mean <= 0:
        return [1.0]
    n = max(MIN_TRUNCATION, math.ceil(mean + 12 * math.sqrt(mean) + 12))
    log_mean = math.log(mean)
    pmf = [math.exp(k * log_mean - mean - math.lgamma(k + 1)) for k in range(n + 1)]
    total = math.fsum(pmf)
    return [p / total for p in pmf]


def _normalised(outcomes: dict[str, float]) -> dict[str, float]:
    """Clip float noise into [0, 1] and make the outcomes sum to 1."""
    clipped = {key: min(max(p, 0.0), 1.0) for key, p in outcomes.items()}
    total = math.fsum(clipped.values())
    return {key: p / total for key, p in clipped.items()}


def _over_under(totals: list[float], goals_so_far: int, line: Decimal) -> dict[str, float]:
    over = under = 0.0
    for remaining, p in enumerate(totals):
        total = goals_so_far + remaining
        if total > line:
            over += p
        elif total < line:
            under += p
        # total == line (whole-number lines only): a push, stakes returned, so left out
    if over + under <= 0:
        # The push is certain (e.g. full time with exactly `line` goals): the market can only be void,
        # so there is no conditional distribution; an even book keeps "sums to 1" and is never settled.
        return {"over": 0.5, "under": 0.5}
    return _normalised({"over": over, "under": under})


def fair_probabilities(state: GameState, *, lines: tuple[Decimal, ...] = (Decimal("2.5"),),
                       window_minutes: float = 5.0) -> dict[str, dict[str, float]]:
    """Fair (no-margin) probabilities per market kind and outcome key, from independent Poisson
    goals for the rest of the game:

      "match_result": {"home", "draw", "away"}
      "double_chance": {"home_draw", "home_away", "draw_away"}: each is the sum of two match_result
          probabilities, so the three sum to 2 (every outcome of the match is covered twice); returned as is
      f"over_under:{line}" for each line (the key uses ``str(line)``, e.g. "over_under:2.5"): {"over", "under"};
          for a whole-number line the mass of total == line is a push, excluded and renormalised so
          over + under = 1 (if the push is certain the market can only be void: 0.5 / 0.5 is returned)
      "both_teams_to_score": {"yes", "no"}
      "next_goal_window": {"yes", "no"}: P(at least one goal in the next ``window_minutes``, capped by the time left)

    Every market but double_chance sums to 1. Lines must be whole or half numbers >= 0 (quarter,
    "Asian", lines split the stake and are not modelled); ``window_minutes`` must be >= 0.
    """
    if not math.isfinite(window_minutes) or window_minutes < 0:
        raise ValueError(f"window_minutes must be a finite number >= 0, not {window_minutes!r}")
    parsed_lines = []
    for line in lines:
        value = Decimal(str(line))
        if not value.is_finite() or value < 0 or (value * 2) != (value * 2).to_integral_value():
            raise ValueError(f"over/under lines must be whole or half numbers >= 0, not {line!r}")
        parsed_lines.append((line, value))

    home_mean, away_mean = remaining_rates(state)
    home_pmf, away_pmf = _poisson_pmf(home_mean), _poisson_pmf(away_mean)

    lead = state.home_goals - state.away_goals
    home = draw = away = 0.0
    totals = [0.0] * (len(home_pmf) + len(away_pmf) - 1)
    for h, ph in enumerate(home_pmf):
        for a, pa in enumerate(away_pmf):
            p = ph * pa
            totals[h + a] += p
            diff = lead + h - a
            if diff > 0:
                home += p
            elif diff < 0:
                away += p
            else:
                draw += p
    result = _normalised({"home": home, "draw": draw, "away": away})

    home_scores = 1.0 if state.home_goals > 0 else 1.0 - home_pmf[0]
    away_scores = 1.0 if state.away_goals > 0 else 1.0 - away_pmf[0]
    btts_yes = home_scores * away_scores

    window = min(window_minutes, _minutes_left(state))
    window_mean = (state.home_rate + state.away_rate) * window / FULL_TIME
    window_no = math.exp(-window_mean)

    probabilities: dict[str, dict[str, float]] = {
        "match_result": result,
        "double_chance": {
            "home_draw": result["home"] + result["draw"],
            "home_away": result["home"] + result["away"],
            "draw_away": result["draw"] + result["away"],
        },
    }
    goals_so_far = state.home_goals + state.away_goals
    for line, value in parsed_lines:
        probabilities[f"over_under:{line}"] = _over_under(totals, goals_so_far, value)
    probabilities["both_teams_to_score"] = _normalised({"yes": btts_yes, "no": 1.0 - btts_yes})
    probabilities["next_goal_window"] = _normalised({"yes": -math.expm1(-window_mean), "no": window_no})
    return probabilities


def _exact(value: Decimal, name: str) -> Decimal:
    if isinstance(value, float | bool):
        raise TypeError(f"{name} must be an exact Decimal (or int or str), not a float")
    return value if isinstance(value, Decimal) else Decimal(str(value))


def to_tick(price: Decimal) -> Decimal:
    """Round DOWN onto a Betfair-like ladder: 1.01–2 step 0.01, 2–3 step 0.02, 3–4 step 0.05,
    4–6 step 0.1, 6–10 step 0.2, 10–20 step 0.5, 20–30 step 1, 30–50 step 2, 50–100 step 5, 100–1000 step 10.

    Prices at or above 1000 become 1000. Below the ladder (under 1.01) the price is just rounded
    down to 0.01 (so 1.005 → 1.00): clamping into the limits is ``price_book``'s job. The result is
    quantized to 0.01 (e.g. ``Decimal("150.00")``). A float is refused (TypeError): give a Decimal,
    an int or a string.
    """
    value = _exact(price, "price")
    if not value.is_finite() or value <= 0:
        raise ValueError(f"a price must be a finite number > 0, not {price!r}")
    if value >= LADDER_MAX:
        return LADDER_MAX.quantize(CENT)
    if value < LADDER_MIN:
        return value.quantize(CENT, rounding=ROUND_FLOOR)
    for low, high, step in LADDER:
        if value < high:
            return (low + (value - low) // step * step).quantize(CENT)
    raise AssertionError("unreachable: the ladder covers [1.01, 1000)")  # pragma: no cover


def on_ladder(price: Decimal) -> bool:
    """Whether ``price`` is a tick of the ladder (1.01..1000)."""
    return LADDER_MIN <= price <= LADDER_MAX and to_tick(price) == price


def price_book(probabilities: dict[str, float], *, margin: Decimal = Decimal("0.05"),
               min_price: Decimal = Decimal("1.01"), max_price: Decimal = Decimal("100")) -> dict[str, Decimal]:
    """Decimal prices for one market with an overround, by outcome key.

    Proportional margin: each fair probability is scaled by ``1 + margin`` (a market summing to 1
    gets an overround of ``1 + margin``; double_chance, summing to 2, gets ``2 * (1 + margin)``).
    price = 1 / scaled probability, rounded DOWN to the tick ladder (``to_tick``), then clamped into
    [min_price, max_price]; an outcome with (almost) no chance gets ``max_price``. Prices are Decimals
    quantized to 0.01. Rounding down keeps every price at or below the fair price with margin; only
    the clamp to ``min_price`` can lift a near-certain outcome above it (1.01 for a 99.9 % chance).

    ``margin`` must be >= 0; ``min_price`` and ``max_price`` must be ladder ticks, min <= max.
    """
    margin = _exact(margin, "margin")
    min_price, max_price = _exact(min_price, "min_price"), _exact(max_price, "max_price")
    if not margin.is_finite() or margin < 0:
        raise ValueError(f"margin must be >= 0, not {margin}")
    if not (on_ladder(min_price) and on_ladder(max_price) and min_price <= max_price):
        raise ValueError(f"min_price ({min_price}) and max_price ({max_price}) must be ladder ticks, min <= max")
    book: dict[str, Decimal] = {}
    with localcontext() as context:
        context.prec = 28
        for key, probability in probabilities.items():
            if not math.isfinite(probability) or not -1e-9 <= probability <= 1 + 1e-9:
                raise ValueError(f"probability of {key!r} must be within [0, 1], not {probability!r}")
            scaled = Decimal(repr(min(max(probability, 0.0), 1.0))) * (1 + margin)
            if scaled * max_price <= 1:  # no chance, or a fair price beyond the limit
                book[key] = max_price.quantize(CENT)
                continue
            price = to_tick(1 / scaled)
            book[key] = min(max(price, min_price), max_price).quantize(CENT)
    return book


def _poisson_draw(rng: random.Random, mean: float) -> int:
    """One Poisson count by inversion: one ``rng.random()`` per call for any mean up to 500."""
    goals = 0
    while True:
        chunk = min(mean, 500.0)  # exp(-mean) underflows far above this; a sum of Poissons is Poisson
        mean -= chunk
        u = rng.random()
        k, p = 0, math.exp(-chunk)
        cumulative = p
        while u > cumulative and p > 0:
            k += 1
            p *= chunk / k
            cumulative += p
        goals += k
        if mean <= 0:
            return goals


def goals_in_minute(rng: random.Random, state: GameState, minute_length: float = 1.0) -> tuple[int, int]:
    """Simulate goals (home, away) scored in the next ``minute_length`` minutes: Poisson draws with the
    rates scaled to that length (rate * minute_length / 90). Only ``rng`` is used (one ``random()``
    for home, then one for away), so a seeded generator reproduces the game. The time left is not
    applied here: the caller decides which minutes are played.
    """
    if not math.isfinite(minute_length) or minute_length < 0:
        raise ValueError(f"minute_length must be a finite number >= 0, not {minute_length!r}")
    share = minute_length / FULL_TIME
    return _poisson_draw(rng, state.home_rate * share), _poisson_draw(rng, state.away_rate * share)
