from datetime import date

from celery import shared_task
from django.utils import timezone

from agents.services import commissions_run, last_complete_week
from audit.context import Actor

SYSTEM = Actor.system("commissions")


@shared_task
def commissions_run_task(today: str | None = None) -> list[int]:
    """The statements of the last complete week (Monday 00:00 UTC to Monday) before ``today`` (an ISO
    day; by default the current UTC day), for the agents of every tenant. Scheduled weekly
    (settings.CELERY_BEAT_SCHEDULE); a week run again, or on two workers at once, finds its statements:
    the ids answered are the same. An agent with a statement overlapping the week (a period run by hand)
    is skipped, not the whole run (the audit row names them)."""
    day = date.fromisoformat(today) if today else timezone.now().date()
    start, end = last_complete_week(today=day)
    statements = commissions_run(start=start, end=end, actor=SYSTEM, today=day, on_overlap="skip")
    return [statement.pk for statement in statements]
