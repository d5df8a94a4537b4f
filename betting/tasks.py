from celery import shared_task

from betting.services import bet_decide, bets_pending_sweep


@shared_task
def bet_decide_task(bet_id: int) -> str | None:
    bet = bet_decide(bet_id=bet_id)
    return bet.status if bet else None


@shared_task
def bets_pending_sweep_task() -> int:
    return bets_pending_sweep()
