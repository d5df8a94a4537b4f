"""Money formatting for the console templates."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from django import template

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
