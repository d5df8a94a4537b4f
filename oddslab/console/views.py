"""Staff pages under /admin/console/: they only read; every change goes through the admin's actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from audit.models import AuditLog
from audit.selectors import audit_log_list, day_bounds
from betting.reports import event_settlement_rows, ggr_by_day, ggr_report
from core.errors import InvalidInput
from core.query import query_int
from ledger.models import Account
from ledger.selectors import account_balance, account_statement_with_balance
from oddslab.console.selectors import ggr_chart
from risk.liabilities import exposure_alerts, liability_book

VIEW_LIABILITIES = "risk.view_outcomeexposure"
VIEW_BETS = "betting.view_bet"
EXPORT_REPORTS = "betting.export_reports"
VIEW_LEDGER = ("ledger.view_account", "ledger.view_transfer")
VIEW_AUDIT = "audit.view_auditlog"
EXPORT_AUDIT = "audit.export_auditlog"
POLL_SECONDS = 5
CHART_DAYS = 14


def console_page(*perms: str) -> Callable:
    """Staff only (others go to the admin login), and a 403 for staff whose role lacks ``perms``."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return staff_member_required(checked)

    return decorate


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **extra}


def _period(request: HttpRequest, *, default_days: int) -> tuple[str, str, str | None]:
    """``start``/``end`` from the query (YYYY-MM-DD, inclusive) or the last ``default_days`` days; an
    unreadable date is reported on the page, not raised."""
    today = timezone.now().date()
    start = request.GET.get("start") or (today - timedelta(days=default_days - 1)).isoformat()
    end = request.GET.get("end") or today.isoformat()
    try:
        day_bounds(start, end)  # the reports' own parsing and checks
    except InvalidInput as error:
        return (today - timedelta(days=default_days - 1)).isoformat(), today.isoformat(), error.message
    return start, end, None


def _exports(request: HttpRequest, start: str, end: str, names: list[str]) -> list[dict[str, str]]:
    """Download links to the streamed CSV exports (the API's, which also take the session cookie)."""
    query = urlencode({"start": start, "end": end})
    links = []
    for name in names:
        perm = EXPORT_AUDIT if name == "audit-logs" else EXPORT_REPORTS
        if request.user.has_perm(perm):
            links.append({"name": f"{name}.csv", "url": f"/api/v1/exports/{name}.csv?{query}"})
    return links


@staff_member_required
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    pages = [
        ("console:liabilities", "Liability dashboard", "Open liability per market and outcome, live.",
         user.has_perm(VIEW_LIABILITIES)),
        ("console:ggr", "GGR report", "Staked, paid out, GGR and margin over a period.", user.has_perm(VIEW_BETS)),
        ("console:settlements", "Settlement report", "Settled bets per event.", user.has_perm(VIEW_BETS)),
        ("console:ledger", "Ledger statements", "Any account's transfers with a running balance.",
         user.has_perms(VIEW_LEDGER)),
        ("console:audit", "Audit log", "Every recorded action, filtered.", user.has_perm(VIEW_AUDIT)),
    ]
    return render(request, "console/index.html", _context(
        request, "Operator console", pages=[p for p in pages if p[3]]))


def _days(request: HttpRequest) -> int:
    """The GGR chart's number of days: ``?days=N`` held to 1..92; not a number: the default, with a message."""
    try:
        days = query_int(request.GET.get("days"), field="days", default=CHART_DAYS)
    except InvalidInput as error:
        messages.error(request, f"{error.message} Showing {CHART_DAYS} days.")
        return CHART_DAYS
    return min(max(days, 1), 92)


@console_page(VIEW_LIABILITIES)
def liabilities(request: HttpRequest) -> HttpResponse:
    """The liability book; htmx polls it every few seconds and swaps in just the live part."""
    live = {"book": liability_book(), "alerts": exposure_alerts(), "updated_at": timezone.now(),
            "poll_seconds": POLL_SECONDS}
    if getattr(request, "htmx", False):
        return render(request, "console/_liabilities.html", live)
    extra: dict[str, Any] = {}
    if request.user.has_perm(VIEW_BETS):
        today = timezone.now().date()
        count = _days(request)
        days = ggr_by_day(first=today - timedelta(days=count - 1), last=today)
        extra = {"chart": ggr_chart(days), "chart_days": count,
                 "settlements": event_settlement_rows(limit=20)}
    return render(request, "console/liabilities.html", _context(request, "Liability dashboard", **live, **extra))


@console_page(VIEW_BETS)
def ggr(request: HttpRequest) -> HttpResponse:
    start, end, error = _period(request, default_days=CHART_DAYS)
    report = ggr_report(start=start, end=end)
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    chart = ggr_chart(ggr_by_day(first=first, last=last)) if (last - first).days < 92 else None
    return render(request, "console/ggr.html", _context(
        request, "GGR report", report=report, start=start, end=end, error=error, chart=chart,
        exports=_exports(request, start, end, ["bets", "settlements", "challenges", "ledger"])))


@console_page(VIEW_BETS)
def settlements(request: HttpRequest) -> HttpResponse:
    start, end, error = _period(request, default_days=30)
    rows = event_settlement_rows(start=start, end=end)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "console/settlements.html", _context(
        request, "Settlement report", page=page, start=start, end=end, error=error,
        query=urlencode({"start": start, "end": end}),
        exports=_exports(request, start, end, ["settlements", "bets"])))


@console_page(*VIEW_LEDGER)
def ledger_accounts(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    accounts = Account.objects.select_related("owner").order_by("kind", "code")
    if search:
        accounts = accounts.filter(Q(code__icontains=search) | Q(owner__username__icontains=search))
    page = Paginator(accounts, 50).get_page(request.GET.get("page"))
    return render(request, "console/ledger_accounts.html", _context(
        request, "Ledger statements", page=page, q=search, query=urlencode({"q": search})))


@console_page(*VIEW_LEDGER)
def ledger_statement(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(Account, pk=pk)
    page = Paginator(account_statement_with_balance(account), 50).get_page(request.GET.get("page"))
    today = timezone.now().date().isoformat()
    return render(request, "console/ledger_statement.html", _context(
        request, f"Statement of {account.code}", account=account, balance=account_balance(account), page=page,
        exports=_exports(request, today, today, ["ledger"])))


AUDIT_FILTERS = ["start", "end", "actor", "action", "resource_type", "resource_id", "category", "severity",
                 "outcome"]


@console_page(VIEW_AUDIT)
def audit(request: HttpRequest) -> HttpResponse:
    filters = {k: request.GET.get(k, "").strip() for k in AUDIT_FILTERS}
    error = None
    try:
        records = audit_log_list(filters=filters)
        page = Paginator(records, 50).get_page(request.GET.get("page"))
    except InvalidInput as refusal:
        error, page = refusal.message, Paginator(AuditLog.objects.none(), 50).get_page(1)
    active = {k: v for k, v in filters.items() if v}
    export = (f"/api/v1/exports/audit-logs.csv?{urlencode(active)}" if request.user.has_perm(EXPORT_AUDIT)
              else None)
    return render(request, "console/audit.html", _context(
        request, "Audit log", page=page, filters=filters, error=error, query=urlencode(active), export=export,
        categories=AuditLog.Category.choices, severities=AuditLog.Severity.choices,
        outcomes=AuditLog.Outcome.choices))
