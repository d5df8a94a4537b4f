"""Player pages: thin views over the apps' services and selectors (DESIGN.md "Pages").

Each page is one template; an htmx request gets only the named partial it asks for.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.services import player_register
from audit.context import Actor
from betting.models import Bet, BettorStats, Challenge
from betting.selectors import LEADERBOARD_PERIODS, bet_list, bettor_stats, leaderboard
from core.errors import DomainError
from events.models import Outcome
from events.selectors import event_get, event_players
from oddslab.web import selectors, slip
from oddslab.web.forms import CHALLENGE_KINDS, AmountForm, ChallengeForm, SignupForm
from oddslab.web.render import page, page_status, render_block
from wallet.external import external_account_of, external_available, external_wallet_open, external_wallet_top_up
from wallet.selectors import wallet_balance, wallet_statement
from wallet.services import wallet_deposit, wallet_withdraw

BET_FILTERS = {"open": [Bet.Status.PLACED, Bet.Status.ACCEPTED], "settled": [Bet.Status.SETTLED],
               "rejected": [Bet.Status.REJECTED]}
WALLET_FORMS = ("deposit", "withdraw", "top_up")  # the wallet page's amount forms, by their action
PERIOD_NAMES = dict(zip(LEADERBOARD_PERIODS, ("This week", "All time"), strict=True))
PRODUCT_NAMES = {"": "Both", BettorStats.Product.SPORTS: "Sportsbook", BettorStats.Product.P2P: "Challenges"}


@require_GET
def live(request: HttpRequest) -> HttpResponse:
    sport, status = request.GET.get("sport") or None, request.GET.get("status") or None
    return page(request, "web/live.html", {
        "groups": selectors.events_by_status(sport=sport, status=status if status in selectors.LISTED else None),
        "sports": selectors.sport_list(), "sport": sport, "status": status,
        "selected": slip.selected_ids(request.session)})


@require_GET
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        event = event_get(event_id=pk)
    except DomainError as exc:
        return page(request, "web/error.html", {"message": exc.message}, status=exc.status)
    return page(request, "web/event.html", event_context(request, event))


def event_context(request: HttpRequest, event: Any, *, form: ChallengeForm | None = None,
                  created: Challenge | None = None, done: str = "") -> dict[str, Any]:
    """The event page: its markets with their price history, and its challenge forms (``form``, the
    one submitted, and what became of it: oddslab/web/challenge_views.py)."""
    forms = {kind: ChallengeForm(kind=kind, event_id=event.pk) for kind in CHALLENGE_KINDS}
    if form is not None:
        forms[form.shown_as] = form
    players = list(event_players(event_id=event.pk))
    return {"event": event, "markets": list(event.markets.all()), "players": players, "sports": selectors.sport_list(),
            "charts": selectors.price_history(event=event), "selected": slip.selected_ids(request.session),
            "challenge": {**selectors.challenge_panel(event=event, roster=players), "forms": forms,
                          "created": created, "done": done}}


def _slip_response(request: HttpRequest, *, outcome: Outcome | None = None, balance: bool = False) -> HttpResponse:
    """The slip partial, with the toggled price button (and the header balance) swapped out of band."""
    if not request.htmx:
        return redirect(request.META.get("HTTP_REFERER") or "/")
    html = render_block("web/slip.html", "slip", {"slip": _slip_view(request)}, request)
    if outcome is not None:
        html += render_block("web/slip.html", "outcome_oob", {
            "outcome": outcome, "market": outcome.market, "selected": slip.selected_ids(request.session)}, request)
    if balance:
        html += render_block("web/slip.html", "balance_oob", {}, request)
    return HttpResponse(html)


def _slip_view(request: HttpRequest) -> slip.SlipView:
    return slip.view(user=request.user, session=request.session, actor=Actor.from_request(request))


@require_GET
def slip_show(request: HttpRequest) -> HttpResponse:
    return page(request, "web/slip.html", {"slip": _slip_view(request), "sports": selectors.sport_list()},
                partial="slip")


@require_POST
def slip_toggle(request: HttpRequest, outcome_id: int) -> HttpResponse:
    outcome = Outcome.objects.select_related("market__event").filter(pk=outcome_id).first()
    if outcome is None:
        return HttpResponse("No such selection.", status=404)
    slip.toggle(request.session, outcome=outcome)
    return _slip_response(request, outcome=outcome)


@require_POST
def slip_update(request: HttpRequest) -> HttpResponse:
    slip.update(request.session, request.POST)
    return _slip_response(request)


@require_POST
def slip_accept_prices(request: HttpRequest) -> HttpResponse:
    slip.accept_prices(request.session)
    return _slip_response(request)


@require_POST
def slip_clear(request: HttpRequest) -> HttpResponse:
    slip.clear(request.session)
    return _slip_response(request)


@require_POST
def slip_place(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        state = slip.state(request.session)
        state["error"] = {"code": "login_required", "message": "Log in to place a bet.", "details": {}}
        slip.save(request.session, state)
        return _slip_response(request)
    slip.update(request.session, request.POST)
    slip.place(user=request.user, session=request.session, actor=Actor.from_request(request),
               idempotency_key=request.POST.get("idempotency_key", ""))
    return _slip_response(request, balance=True)


def _wallet_move(action: str, request: HttpRequest, amount: Any) -> str:
    """Run the wallet form's service; the sentence that says what happened."""
    actor, key = Actor.from_request(request), request.POST.get("idempotency_key") or None
    if action == "top_up":
        top_up = external_wallet_top_up(user=request.user, amount=amount, actor=actor, idempotency_key=key)
        return f"Topped up your external wallet with {top_up.transaction.amount}."
    service = wallet_deposit if action == "deposit" else wallet_withdraw
    moved = service(user=request.user, amount=amount, actor=actor, idempotency_key=key)
    return f"{'Deposited' if action == 'deposit' else 'Withdrew'} {moved.transfer.amount}."


def _external_wallet(user: Any) -> tuple[Any, str]:
    """The player's external wallet (None before it is opened) and, while the service is down, why."""
    try:
        external_available()
    except DomainError as exc:
        return external_account_of(user_id=user.pk), exc.message
    return external_account_of(user_id=user.pk), ""


@login_required
@require_http_methods(["GET", "POST"])
def wallet(request: HttpRequest) -> HttpResponse:
    forms = {action: AmountForm(prefix=action) for action in WALLET_FORMS}
    done, refused, status = None, "", 200
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "open_external":
        try:
            opened = external_wallet_open(user=request.user, actor=Actor.from_request(request))
        except DomainError as exc:
            refused, status = exc.message, page_status(exc)
        else:
            done = f"Your external wallet is open: {opened.account.address}."
    elif action in forms:
        form = forms[action] = AmountForm(request.POST, prefix=action)
        if form.is_valid():
            try:
                done = _wallet_move(action, request, form.cleaned_data["amount"])
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = page_status(exc)
            else:
                forms[action] = AmountForm(prefix=action)
        else:
            status = 422
    external, external_down = _external_wallet(request.user)
    context = {"balance": wallet_balance(user=request.user), "forms": forms, "done": done,
               "external": external, "external_down": external_down, "external_refused": refused,
               "statement": list(wallet_statement(user=request.user)[:20]), "sports": selectors.sport_list()}
    if request.htmx and request.method == "POST":
        # htmx swaps only 2xx answers: a refusal is drawn in the panel, in words
        html = render_block("web/wallet.html", "wallet_panel", context, request)
        html += render_block("web/slip.html", "balance_oob", {}, request)
        return HttpResponse(html)
    return page(request, "web/wallet.html", context, status=status if not request.htmx else 200)


@login_required
@require_GET
def my_bets(request: HttpRequest) -> HttpResponse:
    current = request.GET.get("status") or "all"
    bets = bet_list(user=request.user).filter(player=request.user).prefetch_related(
        "legs__outcome__market__event")
    if current in BET_FILTERS:
        bets = bets.filter(status__in=BET_FILTERS[current])
    return page(request, "web/bets.html", {"bets": list(bets[:100]), "current": current,
                                           "filters": ["all", *BET_FILTERS], "sports": selectors.sport_list(),
                                           "stats": bettor_stats(user=request.user)},
                partial="bet_list" if request.htmx else "content")


@require_GET
def leaderboard_page(request: HttpRequest) -> HttpResponse:
    try:
        board = leaderboard(period=request.GET.get("period") or None, product=request.GET.get("product") or None)
    except DomainError as exc:
        return page(request, "web/error.html", {"message": exc.message}, status=exc.status)
    product = board.product or ""
    links = {  # each filter keeps the other's choice
        "Period": [(name, urlencode({"period": key, "product": product}), key == board.period)
                   for key, name in PERIOD_NAMES.items()],
        "Product": [(name, urlencode({"period": board.period, "product": key}), key == product)
                    for key, name in PRODUCT_NAMES.items()]}
    return page(request, "web/leaderboard.html", {"board": board, "links": links},
                partial="board" if request.htmx else "content")


@login_required
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    return page(request, "web/notifications.html", {
        "notifications": selectors.notification_list(user=request.user), "sports": selectors.sport_list()})


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    # an agent's sign-up link (/signup?agent_code=...) fills the code in
    form = SignupForm(request.POST or None, initial={"agent_code": request.GET.get("agent_code", "")[:16]})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = player_register(username=data["username"], password=data["password"], email=data["email"],
                                   country=data["country"], agent_code=data.get("agent_code") or None,
                                   actor=Actor.from_request(request))
        except DomainError as exc:
            field = exc.details.get("field")
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = "/"
                return response
            return redirect("/")
    return page(request, "web/signup.html", {"form": form},
                status=422 if request.method == "POST" else 200)
