"""The liquidity audit: a vault that does not hold exactly the stakes of the challenges it holds stops
payouts (nothing moves, the challenges wait), alerts compliance once per episode, and payouts resume
by themselves once it balances again."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.context import Actor
from audit.models import AuditLog, Notification
from betting.challenge_settlement import challenge_void, challenges_settle
from betting.challenges import challenge_accept, challenge_create
from betting.escrow_audit import escrow_audit_run
from betting.models import Challenge, EscrowAudit
from core.errors import DomainError
from events.services import event_result_set
from ledger.models import Account
from ledger.selectors import ledger_verify
from tests.conftest import ledger_snapshot, outcome_of
from wallet.external import ESCROW_ADDRESS, external_wallet_open, external_wallet_top_up
from wallet.gateways import external_transfer_confirm
from wallet.models import ExternalAccount, GatewayTransfer

D = Decimal


@pytest.fixture
def decided(make_user, make_event):
    """A matched internal challenge of 10.00 each whose event has been resulted: ready to pay."""
    alice, bob = make_user(balance="100.00"), make_user(balance="100.00")
    event = make_event()
    challenge = challenge_create(creator=alice, event_id=event.pk, outcome_id=outcome_of(event).pk, stake="10.00",
                                 funding="internal", actor=Actor.of(alice))
    challenge_accept(challenge_id=challenge.pk, acceptor=bob, funding="internal", actor=Actor.of(bob))
    event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=Actor.system("test"))
    return challenge


def escrow_shift(amount: str) -> None:
    """Tamper with the internal vault behind the ledger's back, as a bad migration or a hand edit would:
    with the shard of the first challenge (the one the tests' fixtures hold money for)."""
    shard = Account.escrow_shard(Challenge.objects.order_by("pk").values_list("pk", flat=True).first())
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Account._meta.db_table} SET balance = balance + %s WHERE code = %s",
                       [D(amount), f"house:{shard}"])


def state() -> dict:
    return {**ledger_snapshot(), "challenges": list(Challenge.objects.values_list("pk", "status")),
            "gateway_transfers": GatewayTransfer.objects.count()}


def alerts(action: str):
    return AuditLog.objects.filter(action=action)


def test_a_balanced_escrow_passes_and_records_the_run(decided):
    run = escrow_audit_run()
    assert run.ok and run.problems == []
    assert (run.vault_internal, run.expected_internal) == (D("20.00"), D("20.00"))
    assert (run.vault_external, run.expected_external, run.mirror_external) == (D("0.00"), D("0.00"), D("0.00"))
    assert EscrowAudit.objects.count() == 1 and not alerts("escrow.mismatch").exists()


def test_a_discrepancy_stops_payouts_alerts_once_and_payouts_resume_when_it_balances(decided):
    # given 5.00 taken out of the internal vault behind the ledger's back
    escrow_shift("-5.00")
    before = state()
    # when settlement runs, twice (the sweep tries again)
    assert challenges_settle(event_ids=[decided.event_id]) == 0
    assert challenges_settle(event_ids=[decided.event_id]) == 0
    # then nothing moved and the challenge waits
    assert state() == before
    decided.refresh_from_db()
    assert decided.status == "matched"
    # and compliance was alerted once for the episode, with the figures
    mismatch = alerts("escrow.mismatch").get()
    assert (mismatch.severity, mismatch.category, mismatch.outcome) == ("critical", "compliance", "error")
    assert mismatch.details["difference"] == {"internal": "-5.00", "external": "0.00"}
    staff = Notification.objects.filter(audience="staff", kind="escrow_mismatch")
    assert staff.count() == 1 and "payouts are stopped" in staff.get().message
    assert EscrowAudit.objects.filter(ok=False).count() == 2
    # when the vault is put right
    escrow_shift("5.00")
    # then the next run settles the challenge, and the end of the episode is recorded
    assert challenges_settle(event_ids=[decided.event_id]) == 1
    decided.refresh_from_db()
    assert decided.status == "settled"
    assert alerts("escrow.balanced").count() == 1 and alerts("escrow.mismatch").count() == 1
    assert Notification.objects.filter(audience="staff", kind="escrow_balanced").count() == 1


def test_the_external_vault_must_match_the_challenges_and_its_ledger_mirror(make_user, make_event):
    # given an open external challenge of 10.00, confirmed into the external vault
    alice = make_user()
    external_wallet_open(user=alice, actor=Actor.of(alice))
    external_wallet_top_up(user=alice, amount="50.00", actor=Actor.of(alice))
    event = make_event()
    challenge_create(creator=alice, event_id=event.pk, outcome_id=outcome_of(event).pk, stake="10.00",
                     funding="external", actor=Actor.of(alice))
    # while the stake is on its way, escrow is not expected to hold it
    assert escrow_audit_run().ok
    external_transfer_confirm(tx_id=GatewayTransfer.objects.get().tx_id, draw=lambda: 0.999)
    assert escrow_audit_run().ok
    # when the external service's vault loses 1.00
    ExternalAccount.objects.filter(address=ESCROW_ADDRESS).update(balance=D("9.00"))
    # then both the challenges' stakes and the ledger's mirror disagree with it
    run = escrow_audit_run()
    assert not run.ok and (run.vault_external, run.expected_external, run.mirror_external) == (
        D("9.00"), D("10.00"), D("10.00"))
    assert len(run.problems) == 2


def test_ledger_check_includes_escrow(decided):
    assert ledger_verify().ok
    escrow_shift("-5.00")
    problems = ledger_verify().problems
    assert "escrow internal: the vault holds 15.00 but challenges need 20.00" in problems
    with pytest.raises(CommandError):
        call_command("ledger_check")


def test_the_escrow_audit_api_runs_the_check(api, make_user, decided):
    response = api(make_user("regulator")).get("/api/v1/escrow/audit")
    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["vault_balance"], body["expected"], body["difference"]) == (
        True, {"internal": "20.00", "external": "0.00"}, {"internal": "20.00", "external": "0.00"},
        {"internal": "0.00", "external": "0.00"})
    assert body["checked_at"] and EscrowAudit.objects.count() == 1
    assert api(make_user("trader")).get("/api/v1/escrow/audit").status_code == 403


def test_an_operator_void_waits_for_escrow_to_balance(decided, make_user):
    trader = make_user("trader")
    escrow_shift("-5.00")
    before = state()
    with pytest.raises(DomainError) as refused:
        challenge_void(challenge_id=decided.pk, reason="suspicious", actor=Actor.of(trader))
    assert (refused.value.code, refused.value.status) == ("escrow_mismatch", 409)
    assert state() == before and alerts("challenge.void").get().outcome == "refused"
    escrow_shift("5.00")
    assert challenge_void(challenge_id=decided.pk, reason="suspicious", actor=Actor.of(trader)).status == "void"
