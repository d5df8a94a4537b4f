"""The arithmetic of a challenge's money (API.md "Peer-to-peer challenges"), pure: no database.

Settlement, refunds and the pages all take their amounts from here, so a pot, a fee or a refund
is computed one way only: exactly, then rounded once, down to the cent.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from ledger.models import Account
from ledger.money import floor_cent
from wallet.external import network_fee
from wallet.gateways import Movement
from wallet.models import Gateway, GatewayTransfer

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


def refund_movements(challenge_id: int, stake_in: GatewayTransfer, *, key: str) -> list[Movement]:
    """The movements that give the stake of ``stake_in`` back to its player, less the network fees of
    its transfers in and out; what those fees leave in the vault goes to the platform's treasury (a
    sweep), so the vault holds exactly the stakes of live challenges. Keys ``{key}:refund`` and
    ``{key}:sweep``; a zero piece is left out."""
    fee_out = network_fee() if stake_in.gateway == Gateway.EXTERNAL else ZERO
    amount = refund_amount(stake_in.amount, fee_in=stake_in.network_fee, fee_out=fee_out)
    pieces = [(stake_in.user_id, amount, "refund", ""), (None, stake_in.amount - amount, "sweep", Account.House.FEES)]
    return [Movement(user_id=user_id, direction=GatewayTransfer.Direction.OUT, amount=piece, purpose=purpose,
                     reference_type="challenge", reference_id=challenge_id, idempotency_key=f"{key}:{purpose}",
                     platform_account=platform_account)
            for user_id, piece, purpose, platform_account in pieces if piece]
