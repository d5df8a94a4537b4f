"""The arithmetic of a challenge's money (API.md "Peer-to-peer challenges"), pure: no database.

Settlement, refunds and the pages all take their amounts from here, so a pot, a fee or a refund
is computed one way only: exactly, then rounded once, down to the cent.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from ledger.money import floor_cent

ZERO = Decimal("0.00")


def fee_rate() -> Decimal:
    return Decimal(settings.P2P_FEE_RATE)


def challenge_payout(stake: Decimal, *, rate: Decimal | None = None) -> tuple[Decimal, Decimal, Decimal]:
    """(pot, payout, fee): pot = 2 × stake; the winner's payout = pot × (1 − P2P_FEE_RATE) rounded
    down to the cent; the platform's fee = pot − payout, so the pot is paid out to the cent."""
    pot = stake * 2
    payout = floor_cent(pot * (1 - (fee_rate() if rate is None else rate)))
    return pot, payout, pot - payout


def refund_amount(stake: Decimal, *, fee_in: Decimal = ZERO, fee_out: Decimal = ZERO) -> Decimal:
    """What a party gets back of a stake (cancelled, expired, void): the stake minus the network
    fees of its own transfers in and out (0.00 on the internal wallet); never below zero."""
    return max(stake - fee_in - fee_out, ZERO)
