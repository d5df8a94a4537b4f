from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from audit.models import AuditLog
from core.errors import InvalidInput
from core.query import as_id, query_date

CHOICES = {"category": AuditLog.Category.values, "severity": AuditLog.Severity.values,
           "outcome": AuditLog.Outcome.values}


def day_bounds(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """``start``/``end`` as YYYY-MM-DD, both inclusive, to [start 00:00 UTC, end+1 00:00 UTC)."""
    first, last = query_date(start, field="start"), query_date(end, field="end")
    if first and last and first > last:
        raise InvalidInput("start must not be after end.", code="invalid_date",
                           details={"field": "start"})
    return (
        datetime.combine(first, time.min, tzinfo=UTC) if first else None,
        datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC) if last else None,
    )


def audit_log_list(*, filters: dict[str, Any], viewer: Any) -> QuerySet[AuditLog]:
    """The audit records ``viewer`` may see (audit.tenancy), newest first, narrowed by action, actor (id
    or username), resource type, category, severity, outcome and a date range."""
    records = AuditLog.objects.visible_to(viewer).select_related("actor")
    start, end = day_bounds(filters.get("start"), filters.get("end"))
    if start:
        records = records.filter(created_at__gte=start)
    if end:
        records = records.filter(created_at__lt=end)
    if actor := filters.get("actor"):
        # A username may be all digits too; only ASCII digits within bigint can also be an id.
        by_name = Q(actor_label=actor) | Q(actor__username=actor)
        actor_id = as_id(actor)
        records = records.filter(by_name if actor_id is None else by_name | Q(actor_id=actor_id))
    for field in ("action", "resource_type", "category", "severity", "outcome"):
        if value := filters.get(field):
            if field in CHOICES and value not in CHOICES[field]:
                raise InvalidInput(f"{field} must be one of {', '.join(CHOICES[field])}.",
                                   code="invalid_request", details={"field": field})
            records = records.filter(**{field: value})
    if resource_id := filters.get("resource_id"):
        records = records.filter(resource_id=resource_id)
    return records.order_by("-created_at", "-id")
