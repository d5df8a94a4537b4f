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
