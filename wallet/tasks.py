from celery import shared_task

from wallet.gateways import external_confirm_sweep, external_transfer_confirm


@shared_task
def external_confirm_task(tx_id: str) -> str | None:
    """The external service's confirmation of one transaction; safe to deliver twice or late."""
    moved = external_transfer_confirm(tx_id=tx_id)
    return moved.status if moved else None


@shared_task
def external_confirm_sweep_task() -> int:
    return external_confirm_sweep()
