import uuid
from decimal import Decimal

from django import template
from django.utils.safestring import mark_safe

from audit.context import Actor, role_of
from betting.challenge_money import challenge_payout
from betting.models import Challenge
from betting.slips import odds_text, outcome_available
from oddslab.web import selectors, slip
from oddslab.web.render import render_block
from wallet.models import GatewayTransfer
from wallet.selectors import wallet_balance

register = template.Library()


@register.filter
def odds(value):
    """Prices as the players read them: "2.50", "1.333"."""
    if value in (None, ""):
        return ""
    return odds_text(Decimal(str(value)))


@register.filter
def money(value):
    if value in (None, ""):
        return ""
    return f"{Decimal(str(value)):,.2f}"


@register.filter
def available(outcome):
    return outcome_available(outcome)


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None


@register.simple_tag
def sport_links():
    return list(selectors.sport_list())


@register.inclusion_tag("web/_balance.html", takes_context=True)
def header_balance(context, oob=False):
    user = context.get("user")
    balance = wallet_balance(user=user).balance if user is not None and user.is_authenticated else None
    return {"balance": balance, "oob": oob}


@register.simple_tag(takes_context=True)
def bet_slip(context):
    request = context.get("request")
    view = context.get("slip")
    if not isinstance(view, slip.SlipView):
        view = slip.view(user=request.user, session=request.session, actor=Actor.from_request(request))
    return mark_safe(render_block("web/slip.html", "slip", {"slip": view}, request))


@register.simple_tag
def fresh_key():
    """An idempotency key for one drawn form: sent twice (a double click), it does its work once."""
    return uuid.uuid4().hex


@register.filter
def plays(user):
    """Whether the account is a player's: staff (and anonymous visitors) get no Accept or Challenge
    buttons; the services refuse them anyway (risk.rules.player_gate)."""
    return role_of(user) == "player"


@register.filter
def challenge_pick(challenge):
    """The creator's side in words: "Match result: Home 1", "J. Smith over 24.5 points"."""
    if challenge.outcome_id:
        return f"{challenge.outcome.market.name}: {challenge.outcome.name}"
    return f"{challenge.player.name} {challenge.side} {challenge.line} {challenge.stat}"


@register.filter
def challenge_prize(challenge):
    """What the winner gets: the pot less the platform's fee."""
    return challenge_payout(challenge.stake)[1]


@register.filter
def challenge_waiting(challenge):
    """What is still on its way through the external wallet, in words ("" when nothing is)."""
    if challenge.status in WAITING:
        return WAITING[challenge.status]
    if challenge.money_waiting:
        return MONEY_WAITING[challenge.money_waiting]
    pending = {t.purpose for t in getattr(challenge, "transfer_list", ()) if t.status == GatewayTransfer.Status.PENDING}
    return next((text for purpose, text in PENDING_OUT.items() if purpose in pending), "")


WAITING = {Challenge.Status.ESCROW_PENDING: "The stake is on its way to escrow.",
           Challenge.Status.MATCHING: "The taker's stake is on its way to escrow."}
# API.md's money_waiting: money a decided challenge owes is held in escrow, nothing on its way yet.
MONEY_WAITING = {Challenge.Waiting.ESCROW_AUDIT: "The money is safe in escrow and follows once the platform's "
                                                 "escrow check balances again.",
                 Challenge.Waiting.OPERATOR: "A transfer out of escrow failed every retry: the money is safe "
                                             "there and staff have been asked to send it again."}
PENDING_OUT = {"payout": "The payout is on its way.", "refund": "The refund is on its way."}
