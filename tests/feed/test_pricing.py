"""The pricing model: fair probabilities that add up, prices on the ladder with the margin, seeded goals."""

import itertools
import math
import random
from decimal import Decimal

import pytest

from feed.pricing import (
    GameState,
    fair_probabilities,
    goals_in_minute,
    on_ladder,
    price_book,
    remaining_rates,
    to_tick,
)

LINES = (Decimal("0.5"), Decimal("2.5"), Decimal("3"), Decimal("4.5"))
STATES = [GameState(1.6, 1.1, minute, home, away)
          for minute in (0.0, 30.0, 60.0, 85.5, 89.0, 90.0) for home, away in ((0, 0), (1, 0), (2, 2), (0, 3))]


def all_ticks():
    bands = [("1.01", "2", "0.01"), ("2", "3", "0.02"), ("3", "4", "0.05"), ("4", "6", "0.1"), ("6", "10", "0.2"),
             ("10", "20", "0.5"), ("20", "30", "1"), ("30", "50", "2"), ("50", "100", "5"), ("100", "1000", "10")]
    ticks = []
    for low, high, step in bands:
        price = Decimal(low)
        while price < Decimal(high):
            ticks.append(price)
            price += Decimal(step)
    return [*ticks, Decimal("1000")]


# --- remaining rates -----------------------------------------------------------------------------
@pytest.mark.parametrize(("minute", "expected"), [(0.0, (1.6, 1.1)), (45.0, (0.8, 0.55)), (90.0, (0.0, 0.0)),
                                                  (95.0, (0.0, 0.0))])
def test_remaining_rates_scale_with_the_time_left_and_never_go_negative(minute, expected):
    assert remaining_rates(GameState(1.6, 1.1, minute, 0, 0)) == pytest.approx(expected)


def test_a_state_refuses_impossible_values():
    with pytest.raises(ValueError):
        GameState(-0.1, 1.1, 0.0, 0, 0)
    with pytest.raises(ValueError):
        GameState(1.6, 1.1, math.nan, 0, 0)
    with pytest.raises(ValueError):
        GameState(1.6, 1.1, 0.0, -1, 0)


# --- fair probabilities --------------------------------------------------------------------------
@pytest.mark.parametrize("state", STATES, ids=lambda s: f"{s.minute:g}'{s.home_goals}-{s.away_goals}")
def test_every_market_sums_to_one_and_double_chance_to_two(state):
    probabilities = fair_probabilities(state, lines=LINES)
    assert set(probabilities) == {"match_result", "double_chance", "both_teams_to_score", "next_goal_window",
                                  *(f"over_under:{line}" for line in LINES)}
    for kind, outcomes in probabilities.items():
        assert all(0.0 <= p <= 1.0 for p in outcomes.values()), (kind, outcomes)
        assert sum(outcomes.values()) == pytest.approx(2.0 if kind == "double_chance" else 1.0), kind
    result, double = probabilities["match_result"], probabilities["double_chance"]
    assert double == pytest.approx({"home_draw": result["home"] + result["draw"],
                                    "home_away": result["home"] + result["away"],
                                    "draw_away": result["draw"] + result["away"]})


def test_the_kickoff_book_matches_the_poisson_model():
    probabilities = fair_probabilities(GameState(1.6, 1.1, 0.0, 0, 0))
    total = 2.7
    assert probabilities["over_under:2.5"]["under"] == pytest.approx(math.exp(-total) * (1 + total + total**2 / 2))
    assert probabilities["both_teams_to_score"]["yes"] == pytest.approx((1 - math.exp(-1.6)) * (1 - math.exp(-1.1)))
    assert probabilities["next_goal_window"]["yes"] == pytest.approx(1 - math.exp(-total * 5 / 90))
    result = probabilities["match_result"]
    assert result["home"] > result["away"] > 0.2 and result["draw"] > 0.2


def test_at_full_time_the_result_is_certain_and_priced_at_the_limits():
    probabilities = fair_probabilities(GameState(1.6, 1.1, 90.0, 1, 0))
    assert probabilities["match_result"] == {"home": 1.0, "draw": 0.0, "away": 0.0}
    assert probabilities["over_under:2.5"] == {"over": 0.0, "under": 1.0}
    assert probabilities["both_teams_to_score"] == {"yes": 0.0, "no": 1.0}
    assert probabilities["next_goal_window"] == {"yes": 0.0, "no": 1.0}
    book = price_book(probabilities["match_result"])
    assert book == {"home": Decimal("1.01"), "draw": Decimal("100"), "away": Decimal("100")}


def test_a_home_goal_raises_home_and_lowers_the_others():
    before = fair_probabilities(GameState(1.6, 1.1, 30.0, 0, 0))
    after = fair_probabilities(GameState(1.6, 1.1, 30.0, 1, 0))
    assert after["match_result"]["home"] > before["match_result"]["home"]
    assert after["match_result"]["draw"] < before["match_result"]["draw"]
    assert after["match_result"]["away"] < before["match_result"]["away"]
    assert after["over_under:2.5"]["over"] > before["over_under:2.5"]["over"]
    assert after["both_teams_to_score"]["yes"] > before["both_teams_to_score"]["yes"]


def test_time_passing_favours_the_leader():
    leads = [fair_probabilities(GameState(1.1, 1.6, minute, 1, 0))["match_result"]["home"]
             for minute in (0.0, 30.0, 60.0, 80.0, 89.0)]
    assert leads == sorted(leads)


def test_a_whole_number_line_leaves_the_push_out():
    # 1-1 with total remaining mean m: under 3 = no more goal, push = exactly one, over = two or more.
    state = GameState(1.6, 1.1, 60.0, 1, 1)
    m = sum(remaining_rates(state))
    under, push = math.exp(-m), m * math.exp(-m)
    over = 1 - under - push
    book = fair_probabilities(state, lines=(Decimal("3"), Decimal("2.5"), Decimal("3.5")))
    assert book["over_under:3"] == pytest.approx({"over": over / (1 - push), "under": under / (1 - push)})
    # the half lines either side count the push as over (2.5) or under (3.5)
    assert book["over_under:2.5"] == pytest.approx({"over": over + push, "under": under})
    assert book["over_under:3.5"] == pytest.approx({"over": over, "under": under + push})


def test_a_certain_push_is_an_even_book_and_bad_lines_are_refused():
    book = fair_probabilities(GameState(1.6, 1.1, 90.0, 2, 1), lines=(Decimal("3"),))
    assert book["over_under:3"] == {"over": 0.5, "under": 0.5}
    for line in (Decimal("2.25"), Decimal("-0.5")):
        with pytest.raises(ValueError):
            fair_probabilities(GameState(1.6, 1.1, 0.0, 0, 0), lines=(line,))


def test_the_goal_window_is_capped_by_the_time_left():
    late = fair_probabilities(GameState(1.6, 1.1, 88.0, 0, 0), window_minutes=5.0)["next_goal_window"]
    assert late["yes"] == pytest.approx(1 - math.exp(-2.7 * 2 / 90))
    assert fair_probabilities(GameState(1.6, 1.1, 10.0, 0, 0), window_minutes=0.0)["next_goal_window"]["yes"] == 0.0


# --- the ladder ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("price", "tick"), [
    ("2.017", "2.00"), ("1.999", "1.99"), ("3.07", "3.05"), ("150", "150"), ("1.01", "1.01"), ("2", "2"),
    ("2.99", "2.98"), ("3.999", "3.95"), ("5.95", "5.9"), ("9.9", "9.8"), ("19.99", "19.5"), ("29.9", "29"),
    ("49.9", "48"), ("99.9", "95"), ("999", "990"), ("1000", "1000"), ("5000", "1000"),
    ("1.005", "1.00"),  # below the ladder: just rounded down; price_book clamps
])
def test_to_tick_rounds_down_onto_the_ladder(price, tick):
    result = to_tick(Decimal(price))
    assert result == Decimal(tick)
    assert result == result.quantize(Decimal("0.01")) and result.as_tuple().exponent == -2


def test_every_tick_is_a_fixed_point_and_anything_between_rounds_to_the_tick_below():
    ticks = all_ticks()
    assert all(to_tick(t) == t and on_ladder(t) for t in ticks)
    for below, above in itertools.pairwise(ticks):
        assert to_tick(above - Decimal("0.001")) == below
        assert to_tick((below + above) / 2) == below and not on_ladder((below + above) / 2)


def test_to_tick_refuses_floats_and_non_prices():
    with pytest.raises(TypeError):
        to_tick(2.5)
    for bad in (Decimal("0"), Decimal("-2"), Decimal("NaN")):
        with pytest.raises(ValueError):
            to_tick(bad)


# --- books ---------------------------------------------------------------------------------------
def assert_a_fair_book(book, probabilities, margin, min_price=Decimal("1.01"), max_price=Decimal("100")):
    assert set(book) == set(probabilities)
    for price in book.values():
        assert isinstance(price, Decimal) and price.as_tuple().exponent == -2
        assert min_price <= price <= max_price and on_ladder(price)
    for key, probability in probabilities.items():
        if min_price < book[key] < max_price:  # not clamped: never above the fair price with margin
            assert float(book[key]) <= 1 / (probability * (1 + float(margin))) + 1e-12


@pytest.mark.parametrize("margin", [Decimal("0"), Decimal("0.05"), Decimal("0.12")])
@pytest.mark.parametrize("state", [GameState(1.6, 1.1, 0.0, 0, 0), GameState(1.3, 1.3, 45.0, 1, 1),
                                   GameState(2.0, 0.7, 70.0, 0, 1)])
def test_books_carry_the_margin_within_ladder_rounding(state, margin):
    for kind, probabilities in fair_probabilities(state, lines=LINES).items():
        book = price_book(probabilities, margin=margin)
        assert_a_fair_book(book, probabilities, margin)
        if min(book.values()) == Decimal("1.01") or max(book.values()) == Decimal("100"):
            continue  # a clamped price gives back some of the margin
        target = (2 if kind == "double_chance" else 1) * (1 + float(margin))
        overround = sum(1 / float(price) for price in book.values())
        assert target - 1e-9 <= overround <= target * 1.1, (kind, book)  # a tick is at most 10 % of a price


def test_a_no_chance_outcome_gets_the_top_price_and_a_sure_thing_the_bottom():
    book = price_book({"yes": 0.0, "no": 1.0})
    assert book == {"yes": Decimal("100"), "no": Decimal("1.01")}
    assert price_book({"a": 1e-12, "b": 0.004, "c": 1 - 0.004 - 1e-12}) == {
        "a": Decimal("100"), "b": Decimal("100"), "c": Decimal("1.01")}
    assert price_book({"a": 0.5, "b": 0.5}, margin=Decimal("0")) == {"a": Decimal("2"), "b": Decimal("2")}


def test_price_book_honours_other_limits_and_refuses_bad_ones():
    probabilities = {"home": 0.02, "draw": 0.08, "away": 0.9}
    book = price_book(probabilities, min_price=Decimal("1.1"), max_price=Decimal("30"))
    assert_a_fair_book(book, probabilities, Decimal("0.05"), Decimal("1.1"), Decimal("30"))
    assert book["home"] == Decimal("30") and book["away"] == Decimal("1.1")
    for options in ({"margin": Decimal("-0.01")}, {"min_price": Decimal("1.015")}, {"max_price": Decimal("101")},
                    {"min_price": Decimal("5"), "max_price": Decimal("4")}):
        with pytest.raises(ValueError):
            price_book(probabilities, **options)
    with pytest.raises(TypeError):
        price_book(probabilities, margin=0.05)
    with pytest.raises(ValueError):
        price_book({"home": 1.5, "away": -0.5})


# --- simulated goals -----------------------------------------------------------------------------
def play(seed, state, minutes=90):
    rng = random.Random(seed)
    return [goals_in_minute(rng, state) for _ in range(minutes)]


def test_a_seed_replays_the_goals():
    state = GameState(1.6, 1.1, 0.0, 0, 0)
    assert play(3, state) == play(3, state)
    assert [play(seed, state) for seed in range(5)] != [play(seed, state) for seed in range(5, 10)]
    assert goals_in_minute(random.Random(1), state, minute_length=0.0) == (0, 0)


def test_simulated_games_average_the_rates():
    rng, games = random.Random(2026), 2000
    home = away = 0
    for _ in range(games):
        state = GameState(1.6, 1.1, 0.0, 0, 0)  # the draw does not depend on the minute
        for _ in range(90):
            h, a = goals_in_minute(rng, state)
            home, away = home + h, away + a
    assert home / games == pytest.approx(1.6, abs=0.1)
    assert away / games == pytest.approx(1.1, abs=0.1)


def test_a_whole_game_in_one_draw_has_the_poisson_mean():
    rng = random.Random(9)
    draws = [goals_in_minute(rng, GameState(1.6, 1.1, 0.0, 0, 0), minute_length=90.0) for _ in range(4000)]
    assert sum(h for h, _ in draws) / len(draws) == pytest.approx(1.6, abs=0.1)
    assert sum(a for _, a in draws) / len(draws) == pytest.approx(1.1, abs=0.1)
