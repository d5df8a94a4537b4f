"""Reading commission statements: the list (API, console), the CSV export. Every read goes through
``visible_to`` (audit.tenancy); an agent reads their own statements only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Prefetch, QuerySet

from agents.models import CommissionLine, CommissionStatement
from audit.context import role_of
from audit.selectors import day_bounds
from core.errors import InvalidInput
from core.query import query_int

FILTER_NAMES = ("agent", "status")


def commission_statements_for(user: Any) -> QuerySet[CommissionStatement]:
    """What ``user`` may read: an agent their own statements, staff those of the tenants they see."""
    rows = CommissionStatement.objects.all()
    if role_of(user) == "agent":
        return rows.filter(agent_id=user.pk)
    return rows.visible_to(user)


def commission_statement_list(*, user: Any, filters: dict[str, Any]) -> QuerySet[CommissionStatement]:
    """The statements ``user`` may read, newest period first, narrowed by ``agent`` (an id) and
    ``status``; a value that is neither is a 400 ``invalid_request``."""
    rows = commission_statements_for(user)
    if status := filters.get("status"):
        if status not in CommissionStatement.Status.values:
            raise InvalidInput(f"status must be one of {', '.join(CommissionStatement.Status.values)}.",
                               code="invalid_request", details={"field": "status"})
        rows = rows.filter(status=status)
    if (agent_id := query_int(filters.get("agent"), field="agent", minimum=1)) is not None:
        rows = rows.filter(agent_id=agent_id)
    return (rows.select_related("agent", "tenant", "decided_by", "transfer")
            .prefetch_related(Prefetch("lines", queryset=CommissionLine.objects.order_by("id")))
            .order_by("-period_start", "agent_id", "id"))


COMMISSION_COLUMNS = [
    "statement_id", "tenant", "agent_id", "agent", "period_start", "period_end", "deposits", "turnover", "ggr",
    "carried_in", "carried_out", "deposits_base", "deposits_rate", "deposits_amount", "turnover_base",
    "turnover_rate", "turnover_amount", "ggr_base", "ggr_rate", "ggr_amount", "amount", "status", "reason",
    "decided_by", "decided_at", "transfer", "created_at",
]


def commission_export_rows(*, user: Any, start: str | None, end: str | None,
                           filters: dict[str, Any] | None = None) -> Iterator[CommissionStatement]:
    """The statements whose period starts within [start, end] (UTC days, both inclusive, as the other
    exports), read in chunks, oldest period first."""
    first, after_last = day_bounds(start, end)
    rows = commission_statement_list(user=user, filters=filters or {})
    if first:
        rows = rows.filter(period_start__gte=first.date())
    if after_last:
        rows = rows.filter(period_start__lt=after_last.date())
    return rows.order_by("period_start", "agent_id", "id").iterator(chunk_size=1000)


def commission_row(statement: CommissionStatement) -> list[Any]:
    lines = {line.kind: line for line in statement.lines.all()}
    cells: list[Any] = []
    for kind in CommissionLine.Kind.values:
        line = lines.get(kind)
        cells += [line.base, line.rate, line.amount] if line else ["", "", ""]
    return [statement.pk, statement.tenant.slug, statement.agent_id, statement.agent.get_username(),
            statement.period_start.isoformat(), statement.period_end.isoformat(), statement.deposits,
            statement.turnover, statement.ggr, statement.carried_in, statement.carried_out, *cells,
            statement.amount, statement.status, statement.reason,
            statement.decided_by.get_username() if statement.decided_by else "",
            statement.decided_at.isoformat() if statement.decided_at else "",
            statement.transfer.reference if statement.transfer else "", statement.created_at.isoformat()]
