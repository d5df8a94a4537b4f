"""Staff pages under /admin/console/: they read, and where they change something (an AML alert's
workflow, a KYC decision) they call the same service as the API and the admin's actions."""

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
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Tenant
from audit.context import Actor
from audit.models import AuditLog
from audit.selectors import audit_log_list, day_bounds
from audit.tenancy import keeps_the_book, sees_every_tenant
from betting.reports import event_settlement_rows, ggr_by_day, ggr_report
from core.errors import DomainError, InvalidInput
from core.query import query_int
from ledger.models import Account
from ledger.selectors import account_balance, account_statement_with_balance
from oddslab.console.selectors import ggr_chart
from risk.aml import NEXT, aml_alert_list, aml_alert_update
from risk.kyc import (
    DOCUMENT_STATUSES,
    KYC_DECISIONS,
    KYC_READ,
    KYC_REVIEW,
    kyc_document_open,
    kyc_documents,
    kyc_state_of,
    number_masked,
)
from risk.liabilities import exposure_alerts, liability_book
from risk.models import AmlAlert, KycDocument, KycStatus

VIEW_LIABILITIES = "risk.view_outcomeexposure"
VIEW_BETS = "betting.view_bet"
EXPORT_REPORTS = "betting.export_reports"
VIEW_LEDGER = ("ledger.view_account", "ledger.view_transfer")
VIEW_AUDIT = "audit.view_auditlog"
EXPORT_AUDIT = "audit.export_auditlog"
VIEW_AML = "risk.view_amlalert"
WORK_AML = "risk.change_amlalert"
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
        ("console:aml-alerts", "AML alerts", "Transaction-monitoring alerts; investigate and close them.",
         user.has_perm(VIEW_AML)),
        ("console:kyc", "KYC review", "Identity documents players sent; verify or reject them.",
         user.has_perm(KYC_READ)),
        ("console:commissions", "Commissions", "Agents' commission statements; approve (pay) or reject them.",
         user.has_perm("agents.view_commissionstatement")),
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
    book = keeps_the_book(request.user)  # else the page shows the tenant's own GGR and settlements only
    live = {"book": liability_book() if book else [], "alerts": exposure_alerts() if book else [],
            "updated_at": timezone.now(), "poll_seconds": POLL_SECONDS}
    if getattr(request, "htmx", False):
        return render(request, "console/_liabilities.html", live)
    extra: dict[str, Any] = {}
    if request.user.has_perm(VIEW_BETS):
        today = timezone.now().date()
        count = _days(request)
        days = ggr_by_day(first=today - timedelta(days=count - 1), last=today, viewer=request.user)
        extra = {"chart": ggr_chart(days), "chart_days": count,
                 "settlements": event_settlement_rows(limit=20, viewer=request.user)}
    return render(request, "console/liabilities.html", _context(request, "Liability dashboard", **live, **extra))


@console_page(VIEW_BETS)
def ggr(request: HttpRequest) -> HttpResponse:
    start, end, error = _period(request, default_days=CHART_DAYS)
    # Those who see every tenant may narrow the report to one (audit.tenancy); a tenant's staff see theirs.
    tenants = Tenant.objects.all() if sees_every_tenant(request.user) else None
    tenant = request.GET.get("tenant", "").strip() or None if tenants is not None else None
    report = ggr_report(start=start, end=end, viewer=request.user, tenant=tenant)
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    charts = ({product: ggr_chart(ggr_by_day(first=first, last=last, viewer=request.user, tenant=tenant,
                                             product=product)) for product in ("sports", "casino")}
              if (last - first).days < 92 else {})
    return render(request, "console/ggr.html", _context(
        request, "GGR report", report=report, start=start, end=end, error=error, chart=charts.get("sports"),
        casino_chart=charts.get("casino"),
        tenants=tenants, tenant=tenant,
        exports=_exports(request, start, end, ["bets", "settlements", "challenges", "ledger"])))


@console_page(VIEW_BETS)
def settlements(request: HttpRequest) -> HttpResponse:
    start, end, error = _period(request, default_days=30)
    rows = event_settlement_rows(start=start, end=end, viewer=request.user)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "console/settlements.html", _context(
        request, "Settlement report", page=page, start=start, end=end, error=error,
        query=urlencode({"start": start, "end": end}),
        exports=_exports(request, start, end, ["settlements", "bets"])))


@console_page(*VIEW_LEDGER)
def ledger_accounts(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    accounts = Account.objects.visible_to(request.user).select_related("owner").order_by("kind", "code")
    if search:
        accounts = accounts.filter(Q(code__icontains=search) | Q(owner__username__icontains=search))
    page = Paginator(accounts, 50).get_page(request.GET.get("page"))
    return render(request, "console/ledger_accounts.html", _context(
        request, "Ledger statements", page=page, q=search, query=urlencode({"q": search})))


@console_page(*VIEW_LEDGER)
def ledger_statement(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=pk)
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
        records = audit_log_list(filters=filters, viewer=request.user)
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


AML_FILTERS = ["status", "rule", "user"]


def _aml_filters(query) -> dict[str, str]:
    return {k: v for k in AML_FILTERS if (v := query.get(k, "").strip())}


@console_page(VIEW_AML)
def aml_alerts(request: HttpRequest) -> HttpResponse:
    """The alerts, filtered like the API's list; for compliance, each one's next step with a reason."""
    active = _aml_filters(request.GET)
    error = None
    try:
        alerts = aml_alert_list(filters=active, viewer=request.user).select_related("user")
        page = Paginator(alerts, 50).get_page(request.GET.get("page"))
    except InvalidInput as refusal:
        error, page = refusal.message, Paginator(AmlAlert.objects.none(), 50).get_page(1)
    query = urlencode(active)
    return render(request, "console/aml_alerts.html", _context(
        request, "AML alerts", page=page, rows=[(alert, NEXT[alert.status]) for alert in page.object_list],
        filters={k: request.GET.get(k, "") for k in AML_FILTERS}, error=error, query=query,
        export=f"/api/v1/exports/aml-alerts.csv?{query}", can_work=request.user.has_perm(WORK_AML),
        statuses=AmlAlert.Status.choices, rules=AmlAlert.Rule.choices))


@require_POST
@console_page(WORK_AML)
def aml_alert_step(request: HttpRequest, pk: int) -> HttpResponse:
    """One alert moved on (risk.aml.aml_alert_update), then back to the list with its filters."""
    try:
        alert = aml_alert_update(alert_id=pk, status=request.POST.get("status", ""),
                                 reason=request.POST.get("reason", ""), actor=Actor.from_request(request))
    except DomainError as refusal:
        messages.error(request, f"Alert {pk}: {refusal.message}")
    else:
        messages.success(request, f"Alert {alert.pk} is {alert.get_status_display().lower()}.")
    return redirect(f"{reverse('console:aml-alerts')}?{urlencode(_aml_filters(request.GET))}")


@console_page(KYC_READ)
def kyc(request: HttpRequest) -> HttpResponse:
    """The identity documents players sent, oldest first, waiting ones unless another status is asked for;
    numbers masked. Reviewers open each one to decide it."""
    status = request.GET.get("status", KycStatus.PENDING).strip()
    error = None
    try:
        page = Paginator(kyc_documents(status=status, viewer=request.user), 50).get_page(request.GET.get("page"))
    except InvalidInput as refusal:
        error, page = refusal.message, Paginator(KycDocument.objects.none(), 50).get_page(1)
    return render(request, "console/kyc.html", _context(
        request, "KYC review", page=page, rows=[(d, number_masked(d.document_number)) for d in page.object_list],
        status=status, error=error, query=urlencode({"status": status}),
        statuses=[(value, KycStatus(value).label) for value in DOCUMENT_STATUSES],
        can_review=request.user.has_perm(KYC_REVIEW)))


@console_page(KYC_REVIEW)
def kyc_document(request: HttpRequest, pk: int) -> HttpResponse:
    """One document for its reviewer: the number in full, the scan, the player's other submissions, and
    the decision's form while it waits. Opening it is audited."""
    try:
        document = kyc_document_open(document_id=pk, actor=Actor.from_request(request))
    except DomainError as refusal:
        raise Http404(refusal.message) from None
    return render(request, "console/kyc_document.html", _context(
        request, f"Identity document {document.pk}", document=document,
        state=kyc_state_of(player=document.player),
        others=[(d, number_masked(d.document_number))
                for d in kyc_documents(player_id=document.player_id, viewer=request.user).exclude(pk=document.pk)]))


@require_POST
@console_page(KYC_REVIEW)
def kyc_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Verify or reject one document (risk.kyc), then back to the queue; a refusal is told on the document."""
    document = get_object_or_404(KycDocument.objects.visible_to(request.user), pk=pk)
    decide = KYC_DECISIONS.get(request.POST.get("decision", ""))
    try:
        if decide is None:
            raise InvalidInput("Choose verify or reject.")
        decided = decide(player_id=document.player_id, document_id=document.pk,
                         reason=request.POST.get("reason", ""), actor=Actor.from_request(request))
    except DomainError as refusal:
        messages.error(request, f"Document {pk}: {refusal.message}")
        return redirect("console:kyc-document", pk=pk)
    messages.success(request, f"Document {pk} of {document.player} is {decided.status}.")
    return redirect("console:kyc")
