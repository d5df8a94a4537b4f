from decimal import Decimal

from django import template
from django.utils.safestring import mark_safe

from audit.context import Actor
from betting.slips import odds_text, outcome_available
from oddslab.web import selectors, slip
from oddslab.web.render import render_block
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
