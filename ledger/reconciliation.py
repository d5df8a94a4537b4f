"""Periodic reconciliation: run the invariant check and raise the alarm on drift."""

from __future__ import annotations

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record, notification_create
from ledger.selectors import LedgerReport, ledger_verify


def ledger_reconcile() -> LedgerReport:
    """Verify the ledger; on drift write a critical audit record and notify staff."""
    report = ledger_verify()
    if not report.ok:
        audit_record(
            actor=Actor.system("ledger_reconcile"), action="ledger.drift_detected",
            category=AuditLog.Category.COMPLIANCE, resource_type="ledger",
            details={"problems": report.problems, "accounts": report.accounts,
                     "transfers": report.transfers},
            severity=AuditLog.Severity.CRITICAL, outcome=AuditLog.Outcome.ERROR,
        )
        notification_create(
            kind="ledger_drift",
            message=f"Ledger check found {len(report.problems)} problem(s): {report.problems[0]}",
            data={"problems": report.problems},
        )
    return report
