"""Challenge settlement on real worker processes: two workers share one event's challenges, each paid
exactly once, external payouts confirmed by the workers too."""

import os
import signal
import time
from decimal import Decimal

import pytest
from django.db.models import Count, Q, Sum

from audit.context import Actor
from audit.models import AuditLog
from betting.challenges import challenge_accept, challenge_create
from betting.escrow_audit import escrow_figures
from betting.models import Challenge, EscrowAudit
from betting.tasks import settle_markets_task, settlement_sweep_task
from events.services import event_result_set
from ledger.models import Account
from ledger.selectors import account_balance, ledger_verify
from ledger.services import house_account
from tests.conftest import outcome_of
from wallet.external import external_wallet_open, external_wallet_top_up
from wallet.gateways import external_transfer_confirm
from wallet.models import GatewayTransfer

workers_test = pytest.mark.django_db(transaction=True, serialized_rollback=True)
INTERNAL, CROSS = 120, 20


def _wait(condition, seconds=120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _done() -> bool:
    return (Challenge.objects.exclude(status="settled").count() == 0
            and not GatewayTransfer.objects.filter(status="pending").exists())


@workers_test
def test_two_workers_share_an_events_challenges_and_pay_each_exactly_once(celery_workers, make_user, make_event):
    # given two workers settling in batches of 10, external transfers confirming after 0.2 s
    for _ in range(2):
        celery_workers(SETTLEMENT_BATCH_SIZE="10", SETTLEMENT_FANOUT="2", EXTERNAL_WALLET_CONFIRM_SECONDS="0.2")
    players = [make_user(balance="10000.00") for _ in range(8)]
    for player in players:
        external_wallet_open(user=player, actor=Actor.of(player))
        external_wallet_top_up(user=player, amount="1000.00", actor=Actor.of(player))
    event = make_event()
    home = outcome_of(event).pk
    # and 120 internal challenges, and 20 with an external acceptor, all matched
    for i in range(INTERNAL + CROSS):
        creator, acceptor = players[i % 8], players[(i + 1) % 8]
        challenge = challenge_create(creator=creator, event_id=event.pk, outcome_id=home, stake=f"{1 + i}.01",
                                     funding="internal", actor=Actor.of(creator))
        challenge_accept(challenge_id=challenge.pk, acceptor=acceptor, actor=Actor.of(acceptor),
                         funding="internal" if i < INTERNAL else "external")
    for moved in GatewayTransfer.objects.filter(status="pending"):
        external_transfer_confirm(tx_id=moved.tx_id, draw=lambda: 0.999)
    assert Challenge.objects.filter(status="matched").count() == INTERNAL + CROSS
    # when the event is resulted (the settlement request goes to the workers after commit)
    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=Actor.system("test"))
    # then every challenge settles and every external payout lands
    assert _wait(_done), Challenge.objects.values("status").annotate(n=Count("pk"))
    # each paid exactly once
    payouts = GatewayTransfer.objects.filter(purpose="payout").values("reference_id").annotate(
        confirmed=Count("pk", filter=Q(status="confirmed")))
    assert len(payouts) == INTERNAL + CROSS and {row["confirmed"] for row in payouts} == {1}
    paid = GatewayTransfer.objects.filter(purpose="payout", status="confirmed").aggregate(total=Sum("amount"))["total"]
    assert paid == Challenge.objects.aggregate(total=Sum("payout"))["total"]
    # the fees account holds exactly the fees, every vault exactly nothing, and the ledger verifies
    assert account_balance(house_account(Account.House.FEES)) == Challenge.objects.aggregate(f=Sum("fee"))["f"]
    figures = escrow_figures()
    assert figures.ok and figures.vault == {"internal": Decimal("0.00"), "external": Decimal("0.00")}
    report = ledger_verify()
    assert report.ok, report.problems
    # and the audit before each batch never saw a mismatch, external payouts in flight included
    assert not AuditLog.objects.filter(action="escrow.mismatch").exists()
    assert EscrowAudit.objects.filter(ok=True).exists()


def _settled() -> int:
    return Challenge.objects.filter(status="settled").count()


@workers_test
def test_a_worker_killed_mid_settlement_leaves_every_challenge_paid_exactly_once(celery_workers, make_user,
                                                                                make_event):
    # given 300 matched internal challenges and a worker settling two at a time
    worker = celery_workers(SETTLEMENT_BATCH_SIZE="2", SETTLEMENT_FANOUT="1")
    players = [make_user(balance="10000.00") for _ in range(6)]
    event = make_event()
    for i in range(300):
        creator, acceptor = players[i % 6], players[(i + 1) % 6]
        challenge = challenge_create(creator=creator, event_id=event.pk, outcome_id=outcome_of(event).pk,
                                     stake="3.33", funding="internal", actor=Actor.of(creator))
        challenge_accept(challenge_id=challenge.pk, acceptor=acceptor, funding="internal", actor=Actor.of(acceptor))
    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=Actor.system("test"))
    # when it is SIGKILLed mid-way
    assert _wait(lambda: _settled() >= 20)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    halfway = _settled()
    assert 0 < halfway < 300, halfway
    # and a new worker takes over: the sweep, and the settlement task delivered twice
    celery_workers(SETTLEMENT_BATCH_SIZE="50", SETTLEMENT_FANOUT="1")
    settlement_sweep_task.delay()
    markets = list(event.markets.values_list("pk", flat=True))
    for _ in range(2):
        settle_markets_task.delay(markets, event_ids=[event.pk])
    assert _wait(lambda: _settled() == 300), _settled()
    # then each challenge was paid once: one payout and one fee each, and the books balance
    per_challenge = GatewayTransfer.objects.filter(purpose__in=["payout", "fee"]).values("reference_id").annotate(
        n=Count("pk"))
    assert len(per_challenge) == 300 and {row["n"] for row in per_challenge} == {2}
    assert account_balance(house_account(Account.House.FEES)) == Challenge.objects.aggregate(f=Sum("fee"))["f"]
    assert escrow_figures().ok
    report = ledger_verify()
    assert report.ok, report.problems
