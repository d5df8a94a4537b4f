"""Rounding rules: exact decimals throughout, rounded once, down to the cent, at the end."""

from collections.abc import Iterable
from decimal import ROUND_DOWN, Context, Decimal, Inexact, localcontext

CENT = Decimal("0.01")
# Enough digits for the exact product of 100 prices of up to 8 digits each times a stake; Inexact is
# trapped, so a product that would need rounding raises instead of silently losing digits.
_EXACT = Context(prec=1200, traps=[Inexact])


def floor_cent(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_DOWN)


def exact_product(values: Iterable[Decimal]) -> Decimal:
    with localcontext(_EXACT):
        total = Decimal(1)
        for value in values:
            total *= value
        return total


def exact_normal(value: Decimal) -> Decimal:
    """``value`` without trailing zeros, every digit kept (``normalize`` rounds to the context's 28
    digits: a long multiple's total odds would lose its last ones)."""
    with localcontext(_EXACT):
        return value.normalize()


def payout(stake: Decimal, odds: Decimal) -> Decimal:
    """stake × odds, exact, then rounded down to the cent: the potential return of a bet."""
    with localcontext(_EXACT):
        exact = stake * odds
    return floor_cent(exact)


def largest_stake_within(limit: Decimal, odds: Decimal) -> Decimal:
    """The largest stake in cents whose payout at ``odds`` is at most ``limit``.

    payout(s) = ⌊s·odds⌋ ≤ limit ⟺ s·odds < limit + 0.01, so s is the largest cent below
    (limit + 0.01) / odds.
    """
    if limit < 0:
        return Decimal("0.00")
    with localcontext(Context(prec=1200)):
        bound = (limit + CENT) / odds
        stake = floor_cent(bound)
        if stake == bound:
            stake -= CENT
    return max(stake, Decimal("0.00"))
