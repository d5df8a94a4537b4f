"""Properties of slip arithmetic, through the API: any slip it accepts gets the exact total odds and a
return rounded down to the cent; any slip it refuses gets an error code, never an exception."""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_DOWN, Decimal, localcontext
from math import prod

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import Outcome
from risk.models import LimitProfile
from tests.conftest import outcome_of

POOL = 8  # events the slips draw their legs from, one leg per event
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

prices = st.decimals(min_value=Decimal("1.01"), max_value=Decimal("60"), places=3)
stakes = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)
legs = st.lists(st.tuples(st.integers(0, POOL - 1), prices), min_size=1, max_size=POOL,
                unique_by=lambda leg: leg[0])


class _Undo(Exception):
    pass


@contextmanager
def each_example_alone() -> Iterator[None]:
    """Roll back what an example wrote, so every example (and hypothesis's replay of a failing one)
    meets the same book, balance and exposure."""
    try:
        with transaction.atomic():
            yield
            raise _Undo
    except _Undo:
        pass


@pytest.fixture
def book(make_event, make_user, api):
    """A funded player who may bet often, and POOL events whose home price each example sets."""
    LimitProfile.objects.create(scope="global", velocity_max_bets=100_000, velocity_max_stake=Decimal("10") ** 12)
    player = make_user("player", "punter", balance="1000000.00")
    return api(player), [outcome_of(make_event()) for _ in range(POOL)]


@PROPERTY
@given(chosen=legs, stake=stakes)
def test_an_accepted_slip_has_exact_odds_and_a_return_rounded_down(book, chosen, stake):
    with each_example_alone():
        _accepted_slip_is_exact(*book, chosen, stake)


def _accepted_slip_is_exact(client, outcomes, chosen, stake):
    for index, price in chosen:
        Outcome.objects.filter(pk=outcomes[index].pk).update(price=price)
    body = {"selections": [{"outcome_id": outcomes[i].pk, "price": str(p)} for i, p in chosen],
            "stake": str(stake), "bet_type": "single" if len(chosen) == 1 else "multiple", "odds_change": "none"}
    with localcontext(prec=2000):  # every digit: eight legs of three decimals already need 32
        exact = prod((p for _, p in chosen), start=Decimal(1))
        exact_return = stake * exact
    expected_return = exact_return.quantize(Decimal("0.01"), rounding=ROUND_DOWN)

    validated = client.post("/api/v1/bets/validate", body, format="json")
    placed = client.post("/api/v1/bets", body, format="json")

    assert validated.status_code == 200, validated.content
    check = validated.json()
    assert Decimal(check["total_odds"]) == exact
    assert Decimal(check["potential_return"]) == expected_return
    allowed = Decimal(check["max_allowed_stake"])
    assert allowed == allowed.quantize(Decimal("0.01"))
    if placed.status_code == 201:
        bet = placed.json()
        assert check["valid"]
        assert Decimal(bet["total_odds"]) == exact
        assert Decimal(bet["potential_return"]) == expected_return <= exact_return
        assert exact_return - expected_return < Decimal("0.01")
    else:
        assert 400 <= placed.status_code < 500, placed.content
        assert placed.json()["error"] in {v["error"] for v in check["violations"]} | {"insufficient_funds"}


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=12)
anything = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
money_text = st.from_regex(r"-?[0-9]{0,20}(\.[0-9]{0,4})?(e[0-9]{1,3})?", fullmatch=True)


@PROPERTY
@given(stake=st.one_of(money_text, anything), price=st.one_of(money_text, anything),
       outcome=st.one_of(st.integers(), anything),
       bet_type=st.one_of(st.sampled_from(["single", "multiple"]), anything),
       odds_change=st.one_of(st.sampled_from(["none", "higher", "any"]), anything), extra=anything)
def test_any_refused_slip_gets_an_error_code(book, stake, price, outcome, bet_type, odds_change, extra):
    client, outcomes = book
    if outcome == 0:
        outcome = outcomes[0].pk  # sometimes a real outcome, so the price and stake rules are reached
    body = {"selections": [{"outcome_id": outcome, "price": price}, extra], "stake": stake,
            "bet_type": bet_type, "odds_change": odds_change}
    with each_example_alone():
        for path in ("/api/v1/bets/validate", "/api/v1/bets"):
            response = client.post(path, body, format="json")
            assert response.status_code < 500, response.content
            if response.status_code >= 400:
                error = response.json()
                assert isinstance(error["error"], str) and error["error"] and isinstance(error["message"], str)
