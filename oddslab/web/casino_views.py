"""The Casino page (issue 18, docs/casino.md): provably fair dice and roulette, the player's last rounds
and running net result, their seed pair (set the client seed, rotate to reveal the server seed) and how
to verify a round by hand. Thin: casino.services does every change (one write path) and says why it
refuses; the dice odds shown beside the form come from casino.fairness, as the service computes them."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import F, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from audit.context import Actor, role_of
from casino import fairness
from casino.models import Round, SeedPair
from casino.selectors import round_list
from casino.services import (
    ROULETTE_MAX_BETS,
    SeedRotation,
    casino_client_seed_set,
    casino_limits,
    casino_round_play,
    casino_seed_get,
    casino_seed_rotate,
)
from core.errors import DomainError
from oddslab.web.render import page, page_status, render_block

TEMPLATE = "web/casino.html"
LAST_ROUNDS = 20
BET_ROWS = 6  # the roulette form's rows; empty ones are left out
BET_TYPES = [("straight", "Straight (a number, 0-36)", 36), ("red", "Red", 2), ("black", "Black", 2),
             ("odd", "Odd", 2), ("even", "Even", 2), ("low", "Low (1-18)", 2), ("high", "High (19-36)", 2),
             ("dozen", "Dozen (1, 2 or 3)", 3), ("column", "Column (1, 2 or 3)", 3)]
DICE_DEFAULT = {"stake": "1.00", "target": "49.50", "direction": fairness.UNDER}
ZERO = Decimal("0.00")


def _plays(request: HttpRequest) -> bool:
    return role_of(request.user) == "player"


@login_required
@require_GET
def casino(request: HttpRequest) -> HttpResponse:
    if not _plays(request):
        # Staff and agents do not play (the services refuse them too): the page says so.
        return page(request, TEMPLATE, {"plays": False})
    return page(request, TEMPLATE, _context(request))


@login_required
@require_GET
def casino_dice_odds(request: HttpRequest) -> HttpResponse:
    """The dice form's win chance, multiplier and potential payout for the target typed (htmx, as typed)."""
    return HttpResponse(render_block(TEMPLATE, "dice_odds", {"odds": dice_odds(request.GET)}, request))


@login_required
@require_POST
def casino_dice(request: HttpRequest) -> HttpResponse:
    shown = {name: request.POST.get(name, "").strip() for name in DICE_DEFAULT}
    return _play(request, {"dice": shown}, game=Round.Game.DICE, stake=shown["stake"], target=shown["target"],
                 direction=shown["direction"])


@login_required
@require_POST
def casino_roulette(request: HttpRequest) -> HttpResponse:
    rows = _bet_rows(request.POST)
    filled = [index for index, row in enumerate(rows) if row["type"] or row["value"] or row["stake"]]
    bets = [{"type": rows[index]["type"], "value": rows[index]["value"] or None, "stake": rows[index]["stake"]}
            for index in filled]
    # a refusal names a bet by its place among those sent: the page names the row it is on
    return _play(request, {"roulette": rows, "bet_rows": filled}, game=Round.Game.ROULETTE, bets=bets)


@login_required
@require_POST
def casino_seed(request: HttpRequest) -> HttpResponse:
    client_seed = request.POST.get("client_seed", "")
    try:
        casino_client_seed_set(player=request.user, client_seed=client_seed, actor=Actor.from_request(request))
    except DomainError as exc:
        return _after(request, error=exc, shown={"client_seed": client_seed})
    return _after(request, done="Your client seed is set: your next rounds are drawn with it.")


@login_required
@require_POST
def casino_rotate(request: HttpRequest) -> HttpResponse:
    try:
        rotation = casino_seed_rotate(player=request.user, actor=Actor.from_request(request))
    except DomainError as exc:
        return _after(request, error=exc)
    return _after(request, rotation=rotation,
                  done="Seed pair rotated: the previous server seed is revealed below, and a new one is hashed.")


def _play(request: HttpRequest, shown: dict[str, Any], **request_args: Any) -> HttpResponse:
    key = request.POST.get("idempotency_key", "")[:100] or None
    try:
        played = casino_round_play(player=request.user, actor=Actor.from_request(request), idempotency_key=key,
                                   **request_args)
    except DomainError as exc:
        # the form as sent, with the service's reason
        return _after(request, error=exc, shown=shown)
    # made: the form keeps what was staked, for the next round
    return _after(request, result=played.round, replayed=played.replayed, shown=shown)


def _after(request: HttpRequest, *, error: DomainError | None = None, shown: dict[str, Any] | None = None,
           **said: Any) -> HttpResponse:
    """The panel again, saying what happened (htmx swaps only 2xx: a refusal is drawn in words)."""
    refused = refusal_text(error, bet_rows=(shown or {}).get("bet_rows")) if error else ""
    if not _plays(request):
        context: dict[str, Any] = {"plays": False, "refused": refused}
    else:
        context = _context(request, refused=refused, refused_code=error.code if error else "", shown=shown, **said)
    if request.htmx:
        html = render_block(TEMPLATE, "casino_panel", context, request)
        return HttpResponse(html + render_block("web/slip.html", "balance_oob", {}, request))
    if error is None:
        return redirect("web:casino")
    return page(request, TEMPLATE, context, status=page_status(error))


FIELDS = {"stake": "Stake", "target": "Target", "direction": "Roll", "game": "Game", "bets": "Bets",
          "client_seed": "Client seed"}
_BET_FIELD = re.compile(r"bets\[(\d+)\](?:\.(type|value|stake))?")


def refusal_text(error: DomainError, *, bet_rows: list[int] | None = None) -> str:
    """The service's sentence, led by the field it is about when it names one ("Bet 2, stake: ...");
    ``bet_rows``: the form row of each bet sent (empty rows are not sent)."""
    field = str(error.details.get("field") or "")
    if bet := _BET_FIELD.fullmatch(field):
        index = int(bet.group(1))
        row = bet_rows[index] if bet_rows and index < len(bet_rows) else index
        label = f"Bet {row + 1}" + (f", {bet.group(2)}" if bet.group(2) else "")
    else:
        label = FIELDS.get(field, "")
    return f"{label}: {error.message}" if label else error.message


# --- what the page draws --------------------------------------------------------------------------

def _context(request: HttpRequest, *, refused: str = "", refused_code: str = "", done: str = "",
             result: Round | None = None, replayed: bool = False, rotation: SeedRotation | None = None,
             shown: dict[str, Any] | None = None) -> dict[str, Any]:
    player, shown = request.user, shown or {}
    pair = rotation.current if rotation else casino_seed_get(player=player)
    mine = round_list(user=player).filter(player=player)
    rounds = list(mine[:LAST_ROUNDS])
    totals = mine.aggregate(staked=Sum("stake"), paid=Sum("payout"), net=Sum(F("payout") - F("stake")))
    revealed = rotation.previous if rotation else (
        SeedPair.objects.filter(player=player, revealed_at__isnull=False).order_by("-revealed_at", "-id").first())
    dice = {**DICE_DEFAULT, **shown.get("dice", {})}
    return {
        "plays": True, "refused": refused, "refused_code": refused_code, "done": done,
        "result": _round_row(result) if result else None, "replayed": replayed,
        "pair": pair, "client_seed_shown": shown.get("client_seed", pair.client_seed),
        "revealed": revealed, "verify": _verify_example(player, revealed),
        "rounds": [_round_row(r) for r in rounds], "rounds_played": mine.count() if rounds else 0,
        "staked": totals["staked"] or ZERO, "paid": totals["paid"] or ZERO, "net": totals["net"] or ZERO,
        "dice": dice, "odds": dice_odds(dice),
        "bet_rows": shown.get("roulette") or _blank_rows(), "bet_types": BET_TYPES,
        "max_bets": ROULETTE_MAX_BETS, "limits": casino_limits(),
    }


def dice_odds(values: Any) -> dict[str, Any]:
    """The win chance and multiplier of a target and direction (casino.fairness), and what the stake
    would pay back; ``problem`` says why there are none (the service refuses such a round the same way)."""
    direction = values.get("direction") or fairness.UNDER
    target = _decimal(values.get("target"))
    if direction not in fairness.DICE_DIRECTIONS:
        return {"problem": 'Pick "under" or "over".'}
    if target is None or not (0 <= target <= fairness.ROLL_MAX) or target != target.quantize(fairness.CENT):
        return {"problem": "The target is a number from 0.00 to 99.99, two decimals at most."}
    chance = fairness.dice_win_chance(target.quantize(fairness.CENT), direction)
    if not fairness.MIN_WIN_CHANCE <= chance <= fairness.MAX_WIN_CHANCE:
        return {"problem": f"{direction.title()} {target:.2f} wins {chance}% of rolls; pick a win chance from "
                           f"{fairness.MIN_WIN_CHANCE}% to {fairness.MAX_WIN_CHANCE}%.", "chance": chance}
    multiplier = fairness.dice_multiplier(chance)
    stake = _decimal(values.get("stake"))
    payout = fairness.dice_payout(stake, multiplier, True) if stake is not None and stake > 0 else None
    return {"chance": chance, "multiplier": multiplier, "payout": payout, "direction": direction,
            "target": target.quantize(fairness.CENT)}


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _bet_rows(data: Any) -> list[dict[str, str]]:
    count = min(max(_int(data.get("bet_rows"), BET_ROWS), 1), ROULETTE_MAX_BETS)
    return [{name: data.get(f"bet-{index}-{name}", "").strip()[:20] for name in ("type", "value", "stake")}
            for index in range(count)]


def _blank_rows() -> list[dict[str, str]]:
    return [{"type": "red" if index == 0 else "", "value": "", "stake": "1.00" if index == 0 else ""}
            for index in range(BET_ROWS)]


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _round_row(r: Round) -> dict[str, Any]:
    """One round as the page shows it: what was bet, what came up, the money and what it was drawn from."""
    if r.game == Round.Game.DICE:
        bet, outcome = f"{r.get_direction_display().lower()} {r.target}", f"{r.roll}"
        colour = ""
    else:
        bet = ", ".join(_bet_text(b) for b in r.bets)
        colour = "green" if r.number == 0 else "red" if r.number in fairness.RED else "black"
        outcome = f"{r.number} {colour}"
    return {"round": r, "bet": bet, "outcome": outcome, "colour": colour, "net": r.payout - r.stake}


def _bet_text(bet: dict[str, Any]) -> str:
    value = bet.get("value")
    return f"{bet['type']}{'' if value is None else ' ' + str(value)} {bet['stake']}"


def _verify_example(player: Any, revealed: SeedPair | None) -> dict[str, Any]:
    """The snippet's values, as Python literals: the revealed pair's last round when there is one (so a
    player can check it at once), else placeholders."""
    if revealed is None:
        values = {"server_seed": "the revealed server seed", "server_seed_hash": "the hash shown before",
                  "client_seed": "your client seed", "nonce": 0, "round": None}
    else:
        last = round_list(user=player).filter(player=player, seed_pair=revealed).first()
        values = {"server_seed": revealed.server_seed, "server_seed_hash": revealed.server_seed_hash,
                  "client_seed": last.client_seed if last else revealed.client_seed,
                  "nonce": last.nonce if last else 0, "round": _round_row(last) if last else None}
    return {**values, **{f"{name}_literal": repr(values[name])
                         for name in ("server_seed", "server_seed_hash", "client_seed")}}
