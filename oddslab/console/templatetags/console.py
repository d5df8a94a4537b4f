"""Money formatting and admin links for the console templates."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.filter
def money(value) -> str:
    """An exact amount with two decimals and thousands separators (no float on the way)."""
    if value is None or value == "":
        return ""
    return f"{Decimal(value).quantize(Decimal('0.01'), ROUND_HALF_EVEN):,}"


@register.filter
def percent(value) -> str:
    """A ratio (0.0543) as a percentage with two decimals (5.43%)."""
    if value is None:
        return "–"
    return f"{(Decimal(value) * 100).quantize(Decimal('0.01'), ROUND_HALF_EVEN)}%"


@register.simple_tag
def admin_link(name: str, fallback: str, pk: int) -> str:
    """The admin action page ``name`` for this object, or its ``fallback`` (the change page) when the
    action is not installed in this build."""
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return reverse(fallback, args=[pk])
