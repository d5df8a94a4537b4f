"""Reality checks (API.md "Responsible gambling, KYC"): every ``reality_check_minutes`` of a session the
player is told how long they have played and what they staked and got back since the session started.
The session is the caller's fact (accounts.sessions); the socket that tells it, accounts.consumers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, Sum

from ledger.models import Account, Transfer
from risk.models import PlayerRestriction
from risk.sql import RETURN_KINDS, STAKE_KINDS


@dataclass(frozen=True)
class SessionResult:
    staked: Decimal
    returned: Decimal

    @property
    def net(self) -> Decimal:
        return self.returned - self.staked


def reality_check_minutes(*, player_id: int) -> int | None:
    """The player's reality-check interval in minutes; None when they set none."""
    return (PlayerRestriction.objects.filter(player_id=player_id)
            .values_list("reality_check_minutes", flat=True).first())


def session_result(*, player_id: int, since: datetime) -> SessionResult:
    """What the player's wallet staked and got back since ``since``, every product alike: the transfer
    kinds the loss limits count (risk.sql)."""
    zero = Decimal("0.00")
    wallet = Account.objects.filter(owner_id=player_id).values_list("pk", flat=True).first()
    if wallet is None:  # staff have no wallet
        return SessionResult(staked=zero, returned=zero)
    totals = Transfer.objects.filter(Q(debit_account=wallet) | Q(credit_account=wallet),
                                     created_at__gte=since).aggregate(
        staked=Sum("amount", filter=Q(debit_account=wallet, kind__in=STAKE_KINDS), default=zero),
        returned=Sum("amount", filter=Q(credit_account=wallet, kind__in=RETURN_KINDS), default=zero))
    return SessionResult(staked=totals["staked"], returned=totals["returned"])
