"""Money leaving escrow: bounded retries of failed movements out (then an operator), cancel and expiry
refunds behind the liquidity audit, and the retention of the audit's runs (docs/p2p.md)."""

from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditLog, Notification
from betting.challenge_api import challenge_out
from betting.challenge_settlement import challenge_payout_retry, challenges_settle
from betting.challenges import challenge_cancel, challenge_create, challenges_expire
from betting.escrow_audit import escrow_audit_run, escrow_audits_prune, escrow_figures
from betting.models import Challenge, EscrowAudit
from core.errors import DomainError
from tests.betting.test_challenge_settlement import (
    FAIL,
    _player,
    assert_books_balance,
    confirm_pending,
    external,
    home_wins,
    matched,
    wallet,
)
from tests.betting.test_escrow_audit import escrow_shift
from tests.conftest import audit_rows, ledger_snapshot, outcome_of
from wallet.external import ESCROW_ADDRESS, platform_address
from wallet.models import ExternalAccount, ExternalTransaction, GatewayTransfer

D = Decimal


@pytest.fixture
def event(make_event):
    return make_event()


@pytest.fixture
def alice(make_user):
    return _player(make_user)


@pytest.fixture
def bob(make_user):
    return _player(make_user)


def vault() -> Decimal:
    return platform_address(ESCROW_ADDRESS).balance


def payouts(challenge) -> list[GatewayTransfer]:
    return list(GatewayTransfer.objects.filter(reference_id=str(challenge.pk), purpose="payout").order_by("id"))


def state() -> dict:
    """What a refusal must leave as it was: the ledger, both wallets' sides, escrow, the challenges."""
    return {**ledger_snapshot(), "external": dict(ExternalAccount.objects.values_list("pk", "balance")),
            "challenges": list(Challenge.objects.values_list("pk", "status", "money_waiting")),
            "gateway_transfers": GatewayTransfer.objects.count()}


@pytest.fixture
def stuck(event, alice, bob, settings):
    """An external challenge alice won whose payout and fee the network fails every time."""
    settings.EXTERNAL_WALLET_RETRY_LIMIT = 5
    challenge = matched(alice, bob, event, creator_funding="external", acceptor_funding="external")
    home_wins(event)
    challenges_settle(event_ids=[event.pk])
    fail_always(settings)
    settings.EXTERNAL_WALLET_FAILURE_RATE = "0"
    challenge.refresh_from_db()
    return challenge


def fail_always(settings) -> None:
    """A failure rate of 1.0 until nothing is pending any more (the retries stopped)."""
    settings.EXTERNAL_WALLET_FAILURE_RATE = "1.0"
    confirm_pending(draw=FAIL)


# --- bounded retries -------------------------------------------------------------------------------

def test_a_network_that_always_fails_stops_after_the_limit_with_one_alert_and_the_money_in_escrow(stuck, alice):
    attempts = payouts(stuck)
    assert [t.idempotency_key for t in attempts] == [f"challenge:{stuck.pk}:payout"] + [
        f"challenge:{stuck.pk}:payout#{n}" for n in range(2, 7)]  # the first try and 5 retries
    assert {t.status for t in attempts} == {"failed"}
    assert not GatewayTransfer.objects.filter(status="pending").exists()
    assert (stuck.status, stuck.money_waiting) == ("settled", "operator")
    assert challenge_out(stuck)["money_waiting"] == "operator"  # the parties can see why nothing came
    # the pot is still in the vault and the audit still balances (it expects it there)
    assert vault() == D("20.00")
    assert external(alice) == D("990.00")
    assert_books_balance()
    # one alert for the challenge although both its payout and its fee ran out of retries
    alert = audit_rows("challenge.transfer_stuck").get()
    assert (alert.category, alert.severity) == (AuditLog.Category.COMPLIANCE, AuditLog.Severity.CRITICAL)
    assert Notification.objects.filter(kind="challenge_transfer_stuck", audience="staff").count() == 1


def test_each_retry_is_decided_later_than_the_one_before(stuck):
    waits = [tx.confirm_after - tx.created_at for tx in ExternalTransaction.objects.filter(
        tx_id__in=[t.tx_id for t in payouts(stuck)]).order_by("id")]
    assert all(later > earlier for earlier, later in pairwise(waits)), waits
    # 2 s more for the first retry, doubling: 2, 4, 8, 16, 32 beyond the confirmation time
    assert waits[-1] - waits[0] == pytest.approx(timedelta(seconds=32), abs=timedelta(seconds=1))


def test_an_operator_retry_pays_once_it_succeeds_and_never_twice(stuck, alice):
    operator = Actor.system("test")
    challenge_payout_retry(challenge_id=stuck.pk, actor=operator)
    stuck.refresh_from_db()
    assert stuck.money_waiting == "" and challenge_out(stuck)["money_waiting"] is None
    assert escrow_figures().ok  # on its way out: still expected in the vault
    confirm_pending()
    assert external(alice) == D("1009.00")  # 1000 − 10 + 19
    assert vault() == D("0.00")
    with pytest.raises(DomainError) as refused:
        challenge_payout_retry(challenge_id=stuck.pk, actor=operator)
    assert refused.value.code == "invalid_challenge_state"
    confirm_pending()
    assert external(alice) == D("1009.00")
    assert [t.status for t in payouts(stuck)].count("confirmed") == 1
    assert audit_rows("challenge.transfer_retry", outcome="refused").count() == 1
    assert_books_balance()


def test_an_operator_retry_that_fails_again_waits_again_with_a_new_alert(stuck, alice, settings):
    challenge_payout_retry(challenge_id=stuck.pk, actor=Actor.system("test"))
    fail_always(settings)
    stuck.refresh_from_db()
    assert stuck.money_waiting == "operator"
    assert len(payouts(stuck)) == 7  # the operator's one attempt, no automatic retries after it
    assert audit_rows("challenge.transfer_stuck").count() == 2
    assert vault() == D("20.00") and external(alice) == D("990.00")
    assert escrow_figures().ok


def test_an_operator_retry_is_refused_while_escrow_does_not_balance(stuck):
    escrow_shift("5.00")
    before = state()
    with pytest.raises(DomainError) as refused:
        challenge_payout_retry(challenge_id=stuck.pk, actor=Actor.system("test"))
    assert (refused.value.code, refused.value.status) == ("escrow_mismatch", 409)
    assert state() == before


def test_a_trader_retries_from_the_admin_and_the_button_is_offered_only_while_it_waits(stuck, make_user):
    trader = Client()
    trader.force_login(make_user("trader"))
    change = reverse("admin:betting_challenge_change", args=[stuck.pk])
    action = reverse("admin:betting_challenge_retry_payout", args=[stuck.pk])
    assert action.encode() in trader.get(change).content
    assert trader.post(action).status_code == 302
    stuck.refresh_from_db()
    assert stuck.money_waiting == ""
    assert GatewayTransfer.objects.filter(status="pending", purpose="payout").count() == 1
    assert audit_rows("challenge.transfer_retry", outcome="success").count() == 1
    assert action.encode() not in trader.get(change).content
    assert trader.post(action).status_code == 409  # nothing waits any more


# --- cancel and expiry behind the liquidity audit --------------------------------------------------

@pytest.fixture
def offered(event, alice):
    return challenge_create(creator=alice, event_id=event.pk, outcome_id=outcome_of(event).pk, stake="10.00",
                            funding="internal", actor=Actor.of(alice))


def test_a_cancel_while_escrow_does_not_balance_is_refused_and_changes_nothing(offered, alice):
    escrow_shift("5.00")
    before = state()
    with pytest.raises(DomainError) as refused:
        challenge_cancel(challenge_id=offered.pk, actor=Actor.of(alice))
    assert (refused.value.code, refused.value.status) == ("escrow_mismatch", 409)
    assert state() == before
    assert audit_rows("challenge.cancel", outcome="refused").get().details["error"] == "escrow_mismatch"
    escrow_shift("-5.00")
    challenge_cancel(challenge_id=offered.pk, actor=Actor.of(alice))  # balanced again: it goes through
    assert Challenge.objects.get(pk=offered.pk).status == "cancelled"


def test_an_expiry_during_a_mismatch_refunds_only_once_the_audit_balances(offered, alice, event):
    assert wallet(alice) == D("990.00")
    escrow_shift("5.00")
    later = event.start_time + timedelta(minutes=1)
    assert challenges_expire(now=later) == 1
    offered.refresh_from_db()
    assert (offered.status, offered.money_waiting) == ("expired", "escrow_audit")
    assert not GatewayTransfer.objects.filter(reference_id=str(offered.pk), purpose="refund").exists()
    assert wallet(alice) == D("990.00")
    # the queued stake is still expected in the vault: the only difference is the injected one
    assert escrow_figures().difference["internal"] == D("5.00")
    challenges_expire(now=later)  # still out of balance: still waiting
    assert not GatewayTransfer.objects.filter(reference_id=str(offered.pk), purpose="refund").exists()

    escrow_shift("-5.00")
    challenges_expire(now=later)
    offered.refresh_from_db()
    assert (offered.status, offered.money_waiting) == ("expired", "")
    challenges_expire(now=later)
    refunds = GatewayTransfer.objects.filter(reference_id=str(offered.pk), purpose="refund")
    assert [(t.amount, t.status) for t in refunds] == [(D("10.00"), "confirmed")]
    assert wallet(alice) == D("1000.00")
    assert escrow_audit_run().ok


# --- retention of the audit's runs -----------------------------------------------------------------

def test_retention_keeps_failed_runs_and_their_edges_and_deletes_old_routine_runs(db, settings):
    settings.ESCROW_AUDIT_RETENTION_DAYS = 30
    now = timezone.now()
    old = now - timedelta(days=40)
    names = ["routine", "routine", "last ok before", "mismatch", "mismatch", "first ok after", "routine",
             "recent"]
    rows = {}
    for n, name in enumerate(names):
        rows[n] = EscrowAudit.objects.create(
            checked_at=now if name == "recent" else old + timedelta(minutes=n), ok=name != "mismatch",
            vault_internal=0, vault_external=0, expected_internal=0, expected_external=0, mirror_external=0)
    assert escrow_audits_prune(now=now) == 3
    kept = [names[n] for n, row in rows.items() if EscrowAudit.objects.filter(pk=row.pk).exists()]
    assert kept == ["last ok before", "mismatch", "mismatch", "first ok after", "recent"]
    assert escrow_audits_prune(now=now) == 0
    assert escrow_audits_prune(now=now + timedelta(days=31)) == 1  # the recent one, now routine and old


def test_a_cancel_during_a_mismatch_is_a_409_over_http(api, offered, alice):
    escrow_shift("5.00")
    response = api(alice).post(f"/api/v1/challenges/{offered.pk}/cancel")
    assert response.status_code == 409 and response.json()["error"] == "escrow_mismatch"
    assert Challenge.objects.get(pk=offered.pk).status == "open"


def test_a_stake_confirming_after_expiry_during_a_mismatch_waits_for_the_audit_too(event, alice):
    challenge = challenge_create(creator=alice, event_id=event.pk, outcome_id=outcome_of(event).pk, stake="10.00",
                                 funding="external", actor=Actor.of(alice))
    escrow_shift("5.00")
    later = event.start_time + timedelta(minutes=1)
    challenges_expire(now=later)  # escrow_pending → expired; the audit recorded the mismatch
    confirm_pending()  # the stake lands in the vault of an expired challenge
    challenge.refresh_from_db()
    assert (challenge.status, challenge.money_waiting) == ("expired", "escrow_audit")
    assert external(alice) == D("990.00")
    assert escrow_figures().difference == {"internal": D("5.00"), "external": D("0.00")}

    escrow_shift("-5.00")
    challenges_expire()
    confirm_pending()
    challenge.refresh_from_db()
    assert challenge.money_waiting == ""
    assert external(alice) == D("999.00")  # 10.00 less the network fees in and out
    assert escrow_audit_run().ok
