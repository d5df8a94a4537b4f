"""The external gateway with real Celery workers: delayed confirmations, 30% of them failing, every
confirmation delivered twice. Afterwards no stake is lost or doubled, every challenge is in a
consistent state, and the vault holds exactly the stakes of live challenges."""

import time
from collections import defaultdict
from decimal import Decimal

import pytest
from celery import current_app
from django.db.models import Sum
from django.test import override_settings

from audit.context import Actor
from betting.challenges import challenge_accept, challenge_cancel, challenge_create
from betting.models import Challenge
from ledger.models import Account
from ledger.selectors import ledger_verify
from ledger.services import house_account
from tests.conftest import outcome_of
from wallet.external import ESCROW_ADDRESS, external_wallet_open, external_wallet_top_up, platform_address
from wallet.gateways import CONFIRM_TASK, external_confirm_sweep
from wallet.models import ExternalAccount, ExternalTransaction, GatewayTransfer

workers_test = pytest.mark.django_db(transaction=True, serialized_rollback=True)
CHALLENGES = 200
TOP_UP = Decimal("1000.00")
STAKE = Decimal("10.00")


def _wait(condition, seconds=40):
    """Poll (bounded) until ``condition()`` holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _settled_down() -> bool:
    return not GatewayTransfer.objects.filter(status="pending").exists()


def _deliver_again() -> None:
    """Every confirmation a second time (the at-least-once broker may do it)."""
    for tx_id in ExternalTransaction.objects.exclude(source__isnull=True).values_list("tx_id", flat=True):
        current_app.send_task(CONFIRM_TASK, args=[tx_id])


@workers_test
@override_settings(EXTERNAL_WALLET_CONFIRM_SECONDS="0.2")
def test_200_external_challenges_with_30_percent_failures_lose_and_double_nothing(celery_workers, make_user,
                                                                                 make_event):
    # given: two workers confirming after 0.2 s, failing 30% of transactions
    for _ in range(2):
        celery_workers(EXTERNAL_WALLET_CONFIRM_SECONDS="0.2", EXTERNAL_WALLET_FAILURE_RATE="0.3")
    event = make_event()
    outcome = outcome_of(event).pk
    players = []
    for _ in range(20):
        player = make_user()
        external_wallet_open(user=player, actor=Actor.of(player))
        external_wallet_top_up(user=player, amount=TOP_UP, actor=Actor.of(player))
        players.append(player)
    creators, acceptors = players[:10], players[10:]
    # when: 200 challenges are offered, every confirmation delivered twice
    for i in range(CHALLENGES):
        creator = creators[i % 10]
        challenge_create(creator=creator, event_id=event.pk, outcome_id=outcome, stake=STAKE, funding="external",
                         actor=Actor.of(creator))
    _deliver_again()
    assert _wait(_settled_down), GatewayTransfer.objects.filter(status="pending").count()
    # and each open one is accepted; then, once those are decided, every third still open is cancelled
    for i, challenge in enumerate(Challenge.objects.filter(status="open").order_by("pk")):
        acceptor = acceptors[i % 10]
        challenge_accept(challenge_id=challenge.pk, acceptor=acceptor, funding="external", actor=Actor.of(acceptor))
    _deliver_again()
    assert _wait(_settled_down)
    for challenge in Challenge.objects.filter(status="open").order_by("pk")[::3]:
        challenge_cancel(challenge_id=challenge.pk, actor=Actor.of(challenge.creator))
    _deliver_again()
    assert _wait(_settled_down)  # refunds that failed were asked for again until they went through
    assert external_confirm_sweep() == 0  # nothing left overdue for the beat's sweep

    # then: every challenge is in a consistent state with its transfers
    statuses = defaultdict(int)
    transfers = defaultdict(list)
    for moved in GatewayTransfer.objects.filter(reference_type="challenge"):
        transfers[int(moved.reference_id)].append(moved)
    held = Decimal("0.00")
    for challenge in Challenge.objects.all():
        statuses[challenge.status] += 1
        stakes = [t for t in transfers[challenge.pk] if t.purpose == "stake" and t.status == "confirmed"]
        refunds = [t for t in transfers[challenge.pk] if t.purpose == "refund" and t.status == "confirmed"]
        by_party = {t.user_id for t in stakes}
        if challenge.status == "failed":
            assert stakes == [] and refunds == []
        elif challenge.status == "open":
            assert by_party == {challenge.creator_id} and refunds == [] and challenge.acceptor_id is None
            held += STAKE
        elif challenge.status == "matched":
            assert by_party == {challenge.creator_id, challenge.acceptor_id} and len(stakes) == 2
            held += 2 * STAKE
        elif challenge.status == "cancelled":
            assert len(stakes) == 1 and [r.amount for r in refunds] == [Decimal("9.00")]
        else:
            pytest.fail(f"challenge {challenge.pk} left {challenge.status}")
    assert statuses["failed"] and statuses["matched"] and statuses["cancelled"], statuses
    # the vault holds exactly the stakes of open and matched challenges, on both books
    assert platform_address(ESCROW_ADDRESS).balance == held
    assert house_account(Account.House.ESCROW_EXTERNAL).balance == held
    # each player's balance is the top-up less what confirmed in, plus what confirmed out
    for player in players:
        moved = {d: GatewayTransfer.objects.filter(user=player, status="confirmed", direction=d)
                 .aggregate(s=Sum("amount"))["s"] or 0 for d in ("in", "out")}
        assert ExternalAccount.objects.get(owner=player).balance == TOP_UP - moved["in"] + moved["out"]
    # nothing created or destroyed at the external service: only the top-ups came in
    assert ExternalAccount.objects.aggregate(s=Sum("balance"))["s"] == TOP_UP * len(players)
    fees = GatewayTransfer.objects.aggregate(s=Sum("network_fee"))["s"]
    assert ExternalAccount.objects.get(kind="network").balance == fees
    report = ledger_verify()
    assert report.ok, report.problems
    print(f"\nworker test: {dict(statuses)}; vault {held}; network fees {fees}; "
          f"failed transactions {ExternalTransaction.objects.filter(status='failed').count()}")

