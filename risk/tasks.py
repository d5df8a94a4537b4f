from celery import shared_task

from risk.aml import aml_check_deposit, aml_check_registration, aml_check_withdrawal
from risk.safer import limit_changes_apply


@shared_task
def limit_changes_apply_task() -> int:
    """Players' loosened limits whose cooling-off has passed (risk.safer)."""
    return limit_changes_apply()


# Transaction monitoring (risk.aml), queued on commit by deposits, withdrawals and registrations; safe
# to run twice or on two workers at once (one alert per rule and reference). Each answers the alert ids raised.
@shared_task
def aml_check_deposit_task(transfer_id: int) -> list[int]:
    return [alert.pk for alert in aml_check_deposit(transfer_id)]


@shared_task
def aml_check_withdrawal_task(transfer_id: int) -> list[int]:
    return [alert.pk for alert in aml_check_withdrawal(transfer_id)]


@shared_task
def aml_check_registration_task(user_id: int) -> list[int]:
    return [alert.pk for alert in aml_check_registration(user_id)]
