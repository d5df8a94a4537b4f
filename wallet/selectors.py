from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from ledger.models import Account, Transfer
from ledger.selectors import account_statement


@dataclass(frozen=True)
class WalletBalance:
    balance: Decimal
    currency: str


def wallet_account(*, user: Any) -> Account | None:
    return Account.objects.filter(owner=user, kind=Account.Kind.PLAYER).first()


def wallet_balance(*, user: Any) -> WalletBalance:
    """The player's balance; a user who never had a wallet holds 0.00."""
    account = wallet_account(user=user)
    return WalletBalance(
        balance=account.balance if account else Decimal("0.00"),
        currency=account.currency if account else settings.ODDSLAB_CURRENCY,
    )


def wallet_statement(*, user: Any) -> QuerySet[Transfer]:
    account = wallet_account(user=user)
    return account_statement(account) if account else Transfer.objects.none()
