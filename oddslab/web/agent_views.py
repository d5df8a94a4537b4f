"""The agent page: an agent's players with their figures, a form to create one, and the agent's
commission statements (read-only). Thin: agents.players does the reads and the creating."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from agents.models import CommissionStatement
from agents.players import agent_player_create, agent_players
from audit.context import Actor, role_of
from core.errors import DomainError
from oddslab.web.forms import AgentPlayerForm
from oddslab.web.render import page

STATEMENTS_SHOWN = 24


@login_required
@require_http_methods(["GET", "POST"])
def agent(request: HttpRequest) -> HttpResponse:
    if role_of(request.user) != "agent":
        raise PermissionDenied("Only agents have an agent page.")
    form = AgentPlayerForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            agent_player_create(agent=request.user, **form.cleaned_data, actor=Actor.from_request(request))
        except DomainError as exc:
            field = exc.details.get("field")
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            return redirect(f"{request.path}?created=1")
    start, end = request.GET.get("start") or None, request.GET.get("end") or None
    period_error = ""
    try:
        players = agent_players(agent=request.user, start=start, end=end)
    except DomainError as exc:  # a malformed day: all time, and why
        players, period_error, start, end = agent_players(agent=request.user), exc.message, None, None
    statements = CommissionStatement.objects.filter(agent=request.user)[:STATEMENTS_SHOWN]
    return page(request, "web/agent.html", {
        "players": players, "form": form, "statements": statements, "period_error": period_error,
        "start": start or "", "end": end or "", "agent_code": request.user.agent_code,
        "created": request.GET.get("created") == "1"},
        status=422 if request.method == "POST" else 200)
