from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.models import AuditLog, Notification
from ledger.reconciliation import ledger_reconcile
from ledger.selectors import ledger_verify
from ledger.services import checkpoint_create


def test_ledger_check_passes_on_a_clean_ledger(player, capsys):
    call_command("ledger_check")
    assert "ledger check: OK" in capsys.readouterr().out


def test_drift_in_a_stored_balance_is_found_and_alarmed(player, capsys):
    # given a wallet whose stored balance no longer matches its transfers
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET balance = balance + 1 WHERE owner_id = %s",
                       [player.pk])
    # when
    report = ledger_reconcile()
    # then
    assert not report.ok
    assert any("stored balance 1001.00 but transfers give 1000.00" in p for p in report.problems)
    assert any("sum to 1.00" in p for p in report.problems)
    alarm = AuditLog.objects.get(action="ledger.drift_detected")
    assert alarm.severity == AuditLog.Severity.CRITICAL
    assert Notification.objects.filter(kind="ledger_drift", audience="staff").exists()
    with pytest.raises(CommandError, match="ledger check failed"):
        call_command("ledger_check")


def test_a_checkpoint_that_disagrees_with_its_transfers_is_found(player):
    checkpoint = next(c for c in checkpoint_create() if c.account.code == "house:cashier")
    # Checkpoints are append-only, so forge a wrong one beside it as drift would look.
    checkpoint.pk, checkpoint.entry_number = None, checkpoint.entry_number + 1
    checkpoint.balance = Decimal("-999.00")
    checkpoint.save()
    problems = ledger_verify().problems
    assert any("checkpoint at entry" in p for p in problems)


def test_clean_reconcile_writes_no_alarm(player):
    assert ledger_reconcile().ok
    assert not AuditLog.objects.filter(action="ledger.drift_detected").exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_check_sees_no_drift_while_bets_are_being_placed(make_user, make_event):
    """The check reads one snapshot: transfers committing between its statements never show as drift."""
    from audit.context import Actor
    from betting.services import bet_place
    from tests.conftest import run_concurrently, selection

    # given eight players placing bets as fast as they can, and the check running all the while
    placers, bets_each = 8, 25
    players = [make_user(balance="1000.00") for _ in range(placers)]
    slips = [[selection(make_event())] for _ in range(4)]
    done: list[int] = []

    def work(i: int):
        if i == placers:  # the checker, until every placer is through
            reports = []
            while len(done) < placers or len(reports) < 3:
                reports.append(ledger_verify())
            return reports
        try:
            for n in range(bets_each):
                bet_place(player=players[i], selections=slips[n % len(slips)], stake="1.00", bet_type="single",
                          actor=Actor.of(players[i]))
        finally:
            done.append(i)
        return bets_each

    # when
    results = run_concurrently(placers + 1, work)
    # then every bet went through, and no check the whole time found a problem
    assert results[:placers] == [bets_each] * placers, results[:placers]
    reports = results[placers]
    assert len(reports) >= 3
    assert [problem for report in reports for problem in report.problems] == []
    assert ledger_verify().ok
