"""The player's sessions page: where they are logged in (browsers and API tokens), and ending one.
Thin: accounts.sessions does every change."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from accounts.sessions import client_session_end, client_sessions_list
from audit.context import Actor
from core.errors import DomainError
from oddslab.web.render import page, page_status

SESSIONS_SHOWN = 50


@login_required
@require_GET
def sessions(request: HttpRequest) -> HttpResponse:
    return page(request, "web/sessions.html", {
        "sessions": client_sessions_list(user=request.user)[:SESSIONS_SHOWN], "shown": SESSIONS_SHOWN,
        "current_key": request.session.session_key})


@login_required
@require_POST
def session_end(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        ended = client_session_end(user=request.user, session_id=pk, actor=Actor.from_request(request))
    except DomainError as exc:
        return page(request, "web/error.html", {"message": exc.message}, status=page_status(exc))
    if ended.key == request.session.session_key:  # this browser's own: it is logged out
        request.session.flush()
        return redirect(settings.LOGIN_URL)
    return redirect("web:sessions")
