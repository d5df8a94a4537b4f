from celery import shared_task

from ledger.reconciliation import ledger_reconcile
from ledger.services import checkpoint_create


@shared_task
def ledger_checkpoint_task() -> int:
    return len(checkpoint_create())


@shared_task
def ledger_reconcile_task() -> bool:
    return ledger_reconcile().ok
