"""Challenge pages: open challenges to accept, the player's own with their escrow transfers, and
the challenge form of the event page. Thin: the betting app's challenge services do every change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from audit.context import Actor
from betting.challenge_money import fee_rate
from betting.challenges import challenge_accept, challenge_cancel, challenge_create
from betting.models import Challenge
from core.errors import DomainError
from core.query import as_id
from events.selectors import event_get
from oddslab.web import selectors
from oddslab.web.forms import ChallengeForm
from oddslab.web.render import page, page_status, render_block
from oddslab.web.views import event_context
from wallet.models import Gateway


def _lists(request: HttpRequest, *, event_id: str | None = None, notice: str = "", refused: str = "") -> dict[str, Any]:
    user = request.user if request.user.is_authenticated else None
    return {"open_groups": selectors.open_challenges(user=user, event_id=event_id),
            "mine": selectors.my_challenges(user=user) if user else [], "viewer": user, "event_id": event_id or "",
            "notice": notice, "refused": refused, "fee_percent": f"{(fee_rate() * 100).normalize():f}"}


@require_GET
def challenges(request: HttpRequest) -> HttpResponse:
    event_id = request.GET.get("event") or None
    try:
        context = _lists(request, event_id=event_id)
    except DomainError as exc:
        return page(request, "web/error.html", {"message": exc.message}, status=exc.status)
    return page(request, "web/challenges.html", context, partial="lists" if request.htmx else "content")


def _after(request: HttpRequest, *, notice: str = "", error: DomainError | None = None) -> HttpResponse:
    """The lists again, saying what happened (htmx swaps only 2xx: a refusal is drawn in words)."""
    context = _lists(request, notice=notice, refused=error.message if error else "")
    if request.htmx:
        html = render_block("web/challenges.html", "lists", context, request)
        return HttpResponse(html + render_block("web/slip.html", "balance_oob", {}, request))
    if error is None:
        return redirect("web:challenges")
    return page(request, "web/challenges.html", context, status=page_status(error))


ACCEPTED = {Challenge.Status.MATCHED: "You are matched: both stakes are in escrow until the game decides it.",
            Challenge.Status.MATCHING: "Your stake is on its way to escrow; the challenge is matched once it arrives."}


@login_required
@require_POST
def challenge_take(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        challenge = challenge_accept(challenge_id=pk, acceptor=request.user, funding=request.POST.get("funding"),
                                     actor=Actor.from_request(request),
                                     idempotency_key=request.POST.get("idempotency_key", "")[:100] or None)
    except DomainError as exc:
        return _after(request, error=exc)
    return _after(request, notice=ACCEPTED.get(challenge.status, "Challenge accepted."))


@login_required
@require_POST
def challenge_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        challenge = challenge_cancel(challenge_id=pk, actor=Actor.from_request(request))
    except DomainError as exc:
        return _after(request, error=exc)
    back = "is on its way back" if challenge.creator_funding == Gateway.EXTERNAL else "is back in your wallet"
    return _after(request, notice=f"Challenge cancelled: your stake {back}.")


CREATED = {Challenge.Status.OPEN: "Your challenge is open: it is matched when another player accepts it.",
           Challenge.Status.ESCROW_PENDING: "Your stake is on its way to escrow; the challenge opens once it arrives."}


@login_required
@require_POST
def challenge_new(request: HttpRequest) -> HttpResponse:
    """The event page's challenge forms: drawn again with what happened, or the refusal in words."""
    event_id = as_id(request.POST.get("event_id", ""))
    try:
        event = event_get(event_id=event_id or 0)
    except DomainError as exc:
        return page(request, "web/error.html", {"message": exc.message}, status=exc.status)
    form = ChallengeForm(request.POST, kind=request.POST.get("kind", ""), event_id=event.pk)
    created, status = None, 200
    if form.is_valid():
        try:
            created = challenge_create(creator=request.user, event_id=event.pk, stake=form.cleaned_data["stake"],
                                       funding=form.cleaned_data["funding"], actor=Actor.from_request(request),
                                       idempotency_key=form.cleaned_data["idempotency_key"] or None,
                                       **form.selection())
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = page_status(exc)
    else:
        status = 422
    if created is not None and not request.htmx:
        return redirect("web:challenges")
    # made: blank forms for the next one; refused: the form as sent, with the reason
    context = event_context(request, event, form=None if created else form, created=created,
                            done=CREATED.get(created.status, "Challenge made.") if created else "")
    if request.htmx:
        html = render_block("web/event.html", "challenge_forms", context, request)
        return HttpResponse(html + render_block("web/slip.html", "balance_oob", {}, request))
    return page(request, "web/event.html", context, status=status)
