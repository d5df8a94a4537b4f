"""The statement's arithmetic at its edges (agents.services.statement_figures): floors, caps, one
rounding down per line, and the negative GGR carried over. The default plan (API.md): deposits 2% of
each deposit of at least 10.00, at most 1,000.00 a deposit; turnover 1.5% of each stake of at least
5.00, at most 500.00 a bet; 10% of the positive net GGR."""

from decimal import Decimal as D

import pytest

from agents.models import CommissionPlan
from agents.services import last_complete_week, per_transaction_line, statement_figures

PLAN = CommissionPlan()  # the defaults, unsaved: no database needed


def figures(deposits=(), stakes=(), ggr="0.00", carried_in="0.00"):
    return statement_figures(plan=PLAN, deposits=[D(d) for d in deposits], stakes=[D(s) for s in stakes],
                             ggr=D(ggr), carried_in=D(carried_in))


def lines(result):
    return {line.kind: (line.base, line.rate, line.amount) for line in result.lines}


def test_the_default_plan_is_api_mds():
    assert (PLAN.deposit_rate, PLAN.deposit_floor, PLAN.deposit_cap) == (D("0.0200"), D("10.00"), D("1000.00"))
    assert (PLAN.turnover_rate, PLAN.turnover_floor, PLAN.turnover_cap) == (D("0.0150"), D("5.00"), D("500.00"))
    assert PLAN.ggr_share == D("0.1000")


@pytest.mark.parametrize(("deposit", "base", "amount"), [
    ("9.99", "0.00", "0.00"),      # one cent under the floor: no commission, not in the base
    ("10.00", "10.00", "0.20"),    # at the floor
    ("10.01", "10.01", "0.20"),    # 0.2002 rounded down
    ("49999.99", "49999.99", "999.99"),   # 999.9998: one cent under the cap, rounded down
    ("50000.00", "50000.00", "1000.00"),  # exactly the cap
    ("50000.01", "50000.01", "1000.00"),  # 1000.0002 held to the cap
])
def test_a_deposit_at_the_floor_and_the_cap(deposit, base, amount):
    result = figures(deposits=[deposit])
    assert lines(result)["deposits"] == (D(base), D("0.0200"), D(amount))
    assert result.deposits == D(deposit)  # the statement's deposits count every deposit


@pytest.mark.parametrize(("stake", "base", "amount"), [
    ("4.99", "0.00", "0.00"),
    ("5.00", "5.00", "0.07"),          # 0.075 rounded down
    ("33333.33", "33333.33", "499.99"),  # 499.99995
    ("33333.34", "33333.34", "500.00"),  # 500.0001 held to the cap
])
def test_a_stake_at_the_floor_and_the_cap(stake, base, amount):
    assert lines(figures(stakes=[stake]))["turnover"] == (D(base), D("0.0150"), D(amount))


def test_a_line_is_rounded_once_not_per_transaction():
    # given two deposits of 10.25 (0.205 each) and two stakes of 5.00 (0.075 each)
    result = figures(deposits=["10.25", "10.25"], stakes=["5.00", "5.00"])
    # then each line is the exact sum rounded down once: 0.41 and 0.15, not 0.40 and 0.14
    assert lines(result)["deposits"][2] == D("0.41")
    assert lines(result)["turnover"][2] == D("0.15")
    assert result.amount == D("0.56")


def test_the_cap_bounds_each_deposit_not_the_line():
    result = figures(deposits=["60000.00", "60000.00", "9.99"])
    assert lines(result)["deposits"] == (D("120000.00"), D("0.0200"), D("2000.00"))
    assert result.deposits == D("120009.99")


@pytest.mark.parametrize(("ggr", "carried_in", "base", "share", "carried_out"), [
    ("100.00", "0.00", "100.00", "10.00", "0.00"),
    ("0.09", "0.00", "0.09", "0.00", "0.00"),        # 0.009 rounded down
    ("0.10", "0.00", "0.10", "0.01", "0.00"),
    ("100.01", "-100.00", "0.01", "0.00", "0.00"),   # net one cent above zero: nothing carries on
    ("100.00", "-100.00", "0.00", "0.00", "0.00"),   # net zero
    ("99.99", "-100.00", "0.00", "0.00", "-0.01"),   # net one cent below zero carries on
    ("-250.00", "-100.00", "0.00", "0.00", "-350.00"),
    ("-250.00", "0.00", "0.00", "0.00", "-250.00"),
    ("350.10", "-100.00", "250.10", "25.01", "0.00"),
])
def test_the_ggr_share_and_the_carry_over(ggr, carried_in, base, share, carried_out):
    result = figures(ggr=ggr, carried_in=carried_in)
    assert lines(result)["ggr"] == (D(base), D("0.1000"), D(share))
    assert (result.ggr, result.carried_in, result.carried_out) == (D(ggr), D(carried_in), D(carried_out))


def test_the_amount_is_the_lines_sum():
    result = figures(deposits=["100.00"], stakes=["20.00"], ggr="55.55")
    assert [line.amount for line in result.lines] == [D("2.00"), D("0.30"), D("5.55")]
    assert result.amount == D("7.85")


def test_a_line_of_any_plan():
    total, line = per_transaction_line(kind="deposits", amounts=[D("3.00"), D("7.77")], rate=D("0.3333"),
                                       floor=D("3.00"), cap=D("2.00"))
    # 0.9999 + min(2.589741, 2.00) = 2.9999 → 2.99
    assert (total, line.base, line.amount) == (D("10.77"), D("10.77"), D("2.99"))


@pytest.mark.parametrize(("today", "week"), [
    ("2026-12-07", ("2026-11-30", "2026-12-07")),  # a Monday: the week that just ended
    ("2026-12-13", ("2026-11-30", "2026-12-07")),  # a Sunday: still the previous week
    ("2026-12-14", ("2026-12-07", "2026-12-14")),
])
def test_the_last_complete_week(today, week):
    from datetime import date

    start, end = last_complete_week(today=date.fromisoformat(today))
    assert (start.isoformat(), end.isoformat()) == week
