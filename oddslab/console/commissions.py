"""The console's Commissions page: agents' statements (filtered by status and agent), and for compliance
and admins the approve and reject forms, which call agents.services as the API does."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from agents.models import CommissionStatement
from agents.selectors import commission_statement_list
from agents.services import REASON_MAX, commission_approve, commission_reject
from audit.context import Actor
from core.errors import DomainError, InvalidInput
from oddslab.console.views import _context, console_page

VIEW_COMMISSIONS = "agents.view_commissionstatement"
DECIDE_COMMISSIONS = "agents.change_commissionstatement"
EXPORT = ("betting.export_reports", VIEW_COMMISSIONS)
FILTERS = ["status", "agent"]
DECISIONS = {"approve": commission_approve, "reject": commission_reject}


def _filters(query) -> dict[str, str]:
    return {k: v for k in FILTERS if (v := query.get(k, "").strip())}


@console_page(VIEW_COMMISSIONS)
def commissions(request: HttpRequest) -> HttpResponse:
    """Statements of the tenants one sees, newest period first; pending ones waiting for a decision."""
    active = _filters(request.GET)
    error = None
    try:
        page = Paginator(commission_statement_list(user=request.user, filters=active), 50).get_page(
            request.GET.get("page"))
    except InvalidInput as refusal:
        error, page = refusal.message, Paginator(CommissionStatement.objects.none(), 50).get_page(1)
    query = urlencode(active)
    export = f"/api/v1/exports/commissions.csv?{query}" if request.user.has_perms(EXPORT) else None
    return render(request, "console/commissions.html", _context(
        request, "Commissions", page=page, filters={k: request.GET.get(k, "") for k in FILTERS}, error=error,
        query=query, export=export, can_decide=request.user.has_perm(DECIDE_COMMISSIONS),
        statuses=CommissionStatement.Status.choices, reason_max=REASON_MAX))


@require_POST
@console_page(DECIDE_COMMISSIONS)
def commission_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve (pay) or reject one statement, then back to the list with its filters."""
    decide = DECISIONS.get(request.POST.get("decision", ""))
    try:
        if decide is None:
            raise InvalidInput("Choose approve or reject.")
        statement = decide(statement_id=pk, reason=request.POST.get("reason", ""), actor=Actor.from_request(request))
    except DomainError as refusal:
        messages.error(request, f"Statement {pk}: {refusal.message}")
    else:
        messages.success(request, f"Statement {statement.pk} of {statement.agent} is "
                                  f"{statement.get_status_display().lower()}.")
    return redirect(f"{reverse('console:commissions')}?{urlencode(_filters(request.GET))}")
