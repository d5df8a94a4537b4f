from celery import shared_task
from django.conf import settings

from betting.challenge_settlement import challenge_events_pending, challenges_settle
from betting.challenges import challenges_expire
from betting.escrow_audit import escrow_audit_run, escrow_audits_prune
from betting.services import bet_decide, bets_pending_sweep
from betting.settlement import markets_pending_settlement, markets_settle
from events.models import Market


@shared_task
def bet_decide_task(bet_id: int) -> str | None:
    bet = bet_decide(bet_id=bet_id)
    return bet.status if bet else None


@shared_task
def bets_pending_sweep_task() -> int:
    return bets_pending_sweep()


@shared_task
def settle_markets_task(market_ids: list[int], fan_out: bool = True, event_ids: list[int] = ()) -> int:
    """Settle the bets on these markets, then the challenges of their events (and of ``event_ids``:
    a result or cancellation decides challenges on its players' stats or its status alone). The first
    delivery fans out to more workers; they share the work through SKIP LOCKED, so duplicates only
    find less to do."""
    if fan_out:
        for _ in range(settings.SETTLEMENT_FANOUT - 1):
            settle_markets_task.delay(market_ids, fan_out=False, event_ids=list(event_ids))
    settled = markets_settle(market_ids=market_ids) if market_ids else 0
    events = set(event_ids) | set(Market.objects.filter(pk__in=market_ids).values_list("event_id", flat=True))
    return settled + challenges_settle(event_ids=sorted(events))


@shared_task
def settlement_sweep_task() -> int:
    """Pick up anything a lost task or a crashed worker left unsettled, or a liquidity audit held back."""
    market_ids = markets_pending_settlement()
    settled = markets_settle(market_ids=market_ids) if market_ids else 0
    event_ids = challenge_events_pending()
    return settled + (challenges_settle(event_ids=event_ids) if event_ids else 0)


@shared_task
def escrow_audit_task() -> bool:
    """The liquidity audit on its own schedule (it also runs before every challenge payout batch)."""
    return escrow_audit_run().ok


@shared_task
def escrow_audits_prune_task() -> int:
    """Hourly: routine balanced audit runs past ESCROW_AUDIT_RETENTION_DAYS go; failed runs and their edges stay."""
    return escrow_audits_prune()


@shared_task
def challenges_expire_task() -> int:
    """Every minute, and when an event goes live: open challenges at their event's start expire; refunds
    queued behind the liquidity audit go out once it balances."""
    return challenges_expire()
