"""Settlement with real worker processes on Redis: killed mid-way, run twice, run in parallel."""

import os
import signal
import time
from decimal import Decimal
from itertools import cycle

import pytest
from django.db.models import Count, Q, Sum

from audit.context import Actor
from betting.models import Bet, BetLeg
from betting.tasks import settle_markets_task, settlement_sweep_task
from core.db import insert_rows
from events.services import event_result_set
from ledger.models import Account, Transfer
from ledger.money import payout
from ledger.selectors import ledger_verify
from ledger.services import TransferSpec, house_account, transfers_create
from risk.models import OutcomeExposure
from tests.conftest import outcome_of

workers_test = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def accepted_bets(players, legs_of_each, stake):
    """Accepted bets as placement leaves them (stake held, exposure counted), written in bulk so a
    test can have thousands. ``legs_of_each`` yields a list of outcomes per bet."""
    from django.db import transaction

    from ledger.money import exact_product

    with transaction.atomic():
        specs, bets, legs, exposure = [], [], [], {}
        for player, outcomes in zip(cycle(players), legs_of_each, strict=False):
            odds = exact_product(o.price for o in outcomes)
            bets.append(Bet(player=player, bet_type="single" if len(outcomes) == 1 else "multiple",
                            status="accepted", stake=stake, total_odds=odds, potential_return=payout(stake, odds),
                            odds_change="none"))
            legs.append(outcomes)
        insert_rows(bets)  # thousands of rows: one array per column, not a parameter per value
        held = house_account(Account.House.STAKES_HELD)
        for bet, outcomes in zip(bets, legs, strict=True):
            BetLeg.objects.bulk_create([BetLeg(bet=bet, position=i, outcome=o, market_id=o.market_id,
                                               event_id=o.market.event_id, price=o.price)
                                        for i, o in enumerate(outcomes)])
            specs.append(TransferSpec(debit=bet.player.ledger_account, credit=held, amount=stake, kind="bet_stake",
                                      reference_type="bet", reference_id=bet.pk, idempotency_key=f"bet:{bet.pk}:stake"))
            for o in outcomes:
                total = exposure.setdefault(o.pk, [Decimal(0), Decimal(0), 0])
                total[0] += stake
                total[1] += bet.potential_return
                total[2] += 1
        transfers_create(specs)
        OutcomeExposure.objects.bulk_create([OutcomeExposure(outcome_id=k, stakes=v[0], worst_case_payout=v[1],
                                                             bets=v[2]) for k, v in exposure.items()])
    return bets


def expected_payout(bets, winners: set[int]):
    """Independently: a bet pays stake × its prices when every leg's outcome is a winner."""
    total = Decimal("0.00")
    for bet in Bet.objects.filter(pk__in=[b.pk for b in bets]).prefetch_related("legs"):
        legs = list(bet.legs.all())
        if all(leg.outcome_id in winners for leg in legs):
            product = Decimal(1)
            for leg in legs:
                product *= leg.price
            total += payout(bet.stake, product)
    return total


@pytest.fixture
def book(make_user, make_event):
    """5,000 accepted bets on two events: 4,000 singles across three outcomes, 1,000 doubles."""
    players = [make_user(balance="100000.00") for _ in range(40)]
    first, second = make_event(home="2.10", draw="3.30", away="3.60"), make_event(home="1.80")
    outcomes = [outcome_of(first, key) for key in ("home", "draw", "away")]
    double = [outcome_of(first, "home"), outcome_of(second, "draw")]
    slips = [[outcomes[i % 3]] for i in range(4000)] + [double] * 1000
    bets = accepted_bets(players, slips, Decimal("10.00"))
    winners = {outcome_of(first, "home").pk, outcome_of(second, "draw").pk}
    return {"bets": bets, "events": (first, second), "expected": expected_payout(bets, winners)}


def _result(book):
    first, second = book["events"]

    event_result_set(event_id=first.pk, home_score=2, away_score=1, actor=Actor.system("test"))
    event_result_set(event_id=second.pk, home_score=1, away_score=1, actor=Actor.system("test"))
    return list(first.markets.values_list("pk", flat=True)) + list(second.markets.values_list("pk", flat=True))


def _settled() -> int:
    return Bet.objects.filter(status="settled").count()


def _wait(condition, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _assert_settled_exactly_once(book):
    bets = [b.pk for b in book["bets"]]
    assert Bet.objects.filter(pk__in=bets).exclude(status="settled").count() == 0
    per_bet = Transfer.objects.filter(reference_type="bet").values("reference_id").annotate(
        stake_moves=Count("pk", filter=Q(kind="bet_stake_revenue")), payouts=Count("pk", filter=Q(kind="bet_payout")))
    assert {row["stake_moves"] for row in per_bet} == {1}
    assert max(row["payouts"] for row in per_bet) == 1
    paid = Transfer.objects.filter(kind="bet_payout").aggregate(total=Sum("amount"))["total"]
    assert paid == book["expected"] == Bet.objects.aggregate(total=Sum("payout"))["total"]
    report = ledger_verify()
    assert report.ok, report.problems


@workers_test
def test_a_worker_killed_mid_settlement_leaves_every_bet_settled_exactly_once(celery_workers, book):
    # given a worker settling in small batches, and every task delivered twice
    worker = celery_workers(SETTLEMENT_BATCH_SIZE="50", SETTLEMENT_FANOUT="1")
    market_ids = _result(book)
    settle_markets_task.delay(market_ids)
    settle_markets_task.delay(market_ids)
    # when it is SIGKILLed mid-way
    assert _wait(lambda: _settled() >= 500)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    halfway = _settled()
    assert 0 < halfway < 5000, halfway
    # and a new worker starts, with the periodic sweep and the settlement task each sent twice
    celery_workers(SETTLEMENT_BATCH_SIZE="50", SETTLEMENT_FANOUT="1")
    for task in (settlement_sweep_task, settlement_sweep_task):
        task.delay()
    settle_markets_task.delay(market_ids)
    settle_markets_task.delay(market_ids)
    assert _wait(lambda: _settled() == 5000), _settled()
    # then every bet was settled once and the payouts are what they should be
    print(f"\ncrash test: {halfway} of 5000 settled when the worker was killed; expected payout {book['expected']}")
    _assert_settled_exactly_once(book)


@workers_test
def test_two_workers_share_one_event_without_settling_a_bet_twice(celery_workers, book):
    for _ in range(2):
        celery_workers(SETTLEMENT_BATCH_SIZE="100", SETTLEMENT_FANOUT="2")
    market_ids = _result(book)
    settle_markets_task.delay(market_ids)  # fans out to a second task, so both workers take batches
    assert _wait(lambda: _settled() == 5000), _settled()
    _assert_settled_exactly_once(book)
