from celery import shared_task
from django.conf import settings

from betting.challenges import challenges_expire
from betting.services import bet_decide, bets_pending_sweep
from betting.settlement import markets_pending_settlement, markets_settle


@shared_task
def bet_decide_task(bet_id: int) -> str | None:
    bet = bet_decide(bet_id=bet_id)
    return bet.status if bet else None


@shared_task
def bets_pending_sweep_task() -> int:
    return bets_pending_sweep()


@shared_task
def settle_markets_task(market_ids: list[int], fan_out: bool = True) -> int:
    """Settle the bets on these markets. The first delivery fans out to more workers; they share
    the bets through SKIP LOCKED, so duplicates only find less to do."""
    if fan_out:
        for _ in range(settings.SETTLEMENT_FANOUT - 1):
            settle_markets_task.delay(market_ids, fan_out=False)
    return markets_settle(market_ids=market_ids)


@shared_task
def settlement_sweep_task() -> int:
    """Pick up anything a lost task or a crashed worker left unsettled."""
    market_ids = markets_pending_settlement()
    return markets_settle(market_ids=market_ids) if market_ids else 0


@shared_task
def challenges_expire_task() -> int:
    """Every minute, and when an event goes live: open challenges at their event's start expire."""
    return challenges_expire()
