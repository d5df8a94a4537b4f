"""The player's "Safer gambling" page (issue 16): their own limits with what the rolling periods used
and the loosenings still waiting out the cooling-off, a time-out and a self-exclusion. Thin over
risk.safer, which checks every value as it does for the API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from audit.context import Actor, role_of
from core.errors import DomainError
from oddslab.web.forms import LIMIT_LABELS, LimitsForm, SelfExclusionForm, TimeOutForm
from oddslab.web.render import page, page_status, render_block
from risk.models import PLAYER_LIMITS
from risk.safer import PlayerLimits, limits_of, limits_set, self_exclude, time_out

TEMPLATE = "web/safer_gambling.html"
FORMS = ("limits", "time_out", "self_exclusion")  # the page's forms, by their action
BREAKS = {"self_excluded_until": "You have excluded yourself until", "timed_out_until": "You are taking a break until"}


@login_required
@require_http_methods(["GET", "POST"])
def safer_gambling(request: HttpRequest) -> HttpResponse:
    if role_of(request.user) != "player":
        # Staff and agents neither bet nor deposit, so they have no limits to set (risk.safer refuses too).
        return page(request, TEMPLATE, {}, status=403 if request.method == "POST" else 200)
    limits = limits_of(player=request.user)
    forms = {action: _form(action, limits) for action in FORMS}
    done, refused, status = "", "", 200
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "withdraw":
        try:
            limits, done = _withdraw(request, limits, request.POST.get("limit", ""))
        except DomainError as exc:
            refused, status = exc.message, page_status(exc)
    elif action in forms:
        form = forms[action] = _form(action, limits, request.POST)
        if not form.is_valid():
            status = 422
        else:
            try:
                limits, done = _act(action, request, form)
            except DomainError as exc:
                field = exc.details.get("field")
                form.add_error(field if field in form.fields else None, exc.message)
                status = page_status(exc)
            else:
                forms[action] = _form(action, limits)
    rows = _limit_rows(forms["limits"], limits)
    context = {"rows": rows, "pending": [row for row in rows if row["pending"]], "forms": forms, "done": done,
               "refused": refused, "cooling_off_hours": settings.RG_COOLING_OFF_HOURS,
               "breaks": _breaks(limits)}
    if request.htmx and request.method == "POST":
        # htmx swaps only 2xx answers: a refusal is drawn in the panel, in words
        return HttpResponse(render_block(TEMPLATE, "safer_panel", context, request))
    return page(request, TEMPLATE, context, status=status if not request.htmx else 200)


def _form(action: str, limits: PlayerLimits, data: Any = None) -> Any:
    """The action's form, blank or as posted; the limits form holds the values in force."""
    if action == "limits":
        return LimitsForm(data, values=limits.values)
    return {"time_out": TimeOutForm, "self_exclusion": SelfExclusionForm}[action](data, prefix=action)


def _act(action: str, request: HttpRequest, form: Any) -> tuple[PlayerLimits, str]:
    """Run the form's service; the limits as they now stand and the sentence that says what happened."""
    player, actor = request.user, Actor.from_request(request)
    if action == "limits":
        changes = form.changes()
        if not changes:
            return limits_of(player=player), "You changed no limit."
        limits = limits_set(player=player, changes=changes, actor=actor)
        return limits, _limits_said(changes, limits)
    if action == "time_out":
        until = time_out(player=player, days=form.cleaned_data["days"], actor=actor)
        return limits_of(player=player), f"{BREAKS['timed_out_until']} {_when(until)}."
    until = self_exclude(player=player, months=form.cleaned_data["months"], actor=actor)
    return limits_of(player=player), f"{BREAKS['self_excluded_until']} {_when(until)}."


def _withdraw(request: HttpRequest, limits: PlayerLimits, name: str) -> tuple[PlayerLimits, str]:
    """Withdraw the limit's waiting change: setting a limit to the value in force withdraws it."""
    if name not in {change.limit for change in limits.pending}:
        # already applied, or withdrawn in another tab: setting the value now could start a removal
        return limits, "Nothing is waiting to change that limit."
    current = limits.values[name]
    limits = limits_set(player=request.user, changes={name: current}, actor=Actor.from_request(request))
    return limits, f"Withdrawn: {LIMIT_LABELS[name].lower()} stays at {_limit_text(current)}."


def _limits_said(changes: dict[str, Any], limits: PlayerLimits) -> str:
    waiting = {change.limit for change in limits.pending}
    applied = [LIMIT_LABELS[name].lower() for name in changes if name not in waiting]
    delayed = [LIMIT_LABELS[name].lower() for name in changes if name in waiting]
    said = [f"In force now: {', '.join(applied)}."] if applied else []
    if delayed:
        said.append(f"Waiting {settings.RG_COOLING_OFF_HOURS} hours (a looser limit or a removal): "
                    f"{', '.join(delayed)}.")
    return " ".join(said)


def _limit_rows(form: LimitsForm, limits: PlayerLimits) -> list[dict[str, Any]]:
    """Each limit's field beside its value in force, what its period used (money limits per period)
    and the change waiting to loosen it."""
    used = {f"{kind}_{period}": amount for kind, periods in limits.used.items() for period, amount in periods.items()}
    pending = {change.limit: change for change in limits.pending}
    return [{"name": name, "field": form[name], "in_force": _limit_text(limits.values[name]), "used": used.get(name),
             "pending": pending.get(name),
             "pending_value": _limit_text(pending[name].limit_value) if name in pending else ""}
            for name in PLAYER_LIMITS]


def _limit_text(value: Decimal | int | None) -> str:
    """A limit as the page shows it: money with its cents, minutes whole."""
    if value is None:
        return "No limit"
    return f"{value:,.2f}" if isinstance(value, Decimal) else str(value)


def _breaks(limits: PlayerLimits) -> list[tuple[str, str, datetime]]:
    """The self-exclusion and the time-out that run, in words with their end (one that ended stays on the row)."""
    now = timezone.now()
    return [(name.replace("_", "-"), words, until) for name, words in BREAKS.items()
            if (until := getattr(limits, name)) is not None and until > now]


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"
