"""An agent's players: creating one under the agent, and reading each one's figures (API.md "Tenants,
agents, commissions, bonuses"; docs/tenants.md).

An agent sees of their players only what their commission is computed from: the username, the
deposits, the settled stakes and the GGR; never an email, a country or any other personal detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from accounts.services import player_register
from audit.context import Actor, role_of
from audit.selectors import day_bounds
from betting.models import Bet
from core.errors import DomainError
from ledger.models import MONEY, Transfer

User = get_user_model()
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class AgentPlayer:
    id: int
    username: str
    deposits: Decimal  # ledger deposits into the player's wallet
    stakes: Decimal  # stakes of the player's bets settled won or lost (the commission's turnover; void ones
    # returned the stake, so their GGR is nil either way)
    ggr: Decimal  # those stakes less their payouts: the house's gross gaming revenue from the player


def agent_gate(user: Any) -> None:
    """Only agents have players: anyone else is refused (403 ``not_an_agent``)."""
    role = role_of(user)
    if role != "agent":
        raise DomainError(f"This is a {role} account; only agents have players.", code="not_an_agent",
                          status=403, details={"role": role})


def agent_player_create(*, agent: Any, username: str, password: str, email: str, country: str,
                        actor: Actor) -> Any:
    """A player under ``agent`` in the agent's tenant: registration's own rules and wallet
    (accounts.services.player_register), the agent the audit row's actor."""
    agent_gate(agent)
    return player_register(username=username, password=password, email=email, country=country, agent=agent,
                           actor=actor)


def _sum(rows: Any, field: str) -> Subquery:
    money = DecimalField(**MONEY)
    return Coalesce(Subquery(rows.annotate(total=Sum(field)).values("total")[:1], output_field=money),
                    Value(ZERO, output_field=money))


def agent_players(*, agent: Any, start: str | None = None, end: str | None = None) -> list[AgentPlayer]:
    """The agent's players with their figures, all time or for the days ``start``..``end`` (inclusive,
    UTC; deposits and casino rounds by when they were made, bets by when they settled), in one query:
    each figure is a grouped subquery per player. Stakes and GGR are the sportsbook's (settled, not void
    bets) and the casino's (its stake and payout transfers) together."""
    first, after_last = day_bounds(start, end)
    deposits = Transfer.objects.filter(kind=Transfer.Kind.DEPOSIT, credit_account__owner_id=OuterRef("pk"))
    casino_in = Transfer.objects.filter(kind=Transfer.Kind.CASINO_STAKE, debit_account__owner_id=OuterRef("pk"))
    casino_out = Transfer.objects.filter(kind=Transfer.Kind.CASINO_PAYOUT, credit_account__owner_id=OuterRef("pk"))
    bets = Bet.objects.filter(status=Bet.Status.SETTLED, player_id=OuterRef("pk")).exclude(result=Bet.Result.VOID)
    if first:
        deposits, casino_in, casino_out = (rows.filter(created_at__gte=first) for rows in (deposits, casino_in,
                                                                                            casino_out))
        bets = bets.filter(settled_at__gte=first)
    if after_last:
        deposits, casino_in, casino_out = (rows.filter(created_at__lt=after_last) for rows in (deposits, casino_in,
                                                                                                casino_out))
        bets = bets.filter(settled_at__lt=after_last)
    # one group per player: the subquery's values() groups by the outer reference's column
    deposits = deposits.order_by().values("credit_account__owner_id")
    casino_in = casino_in.order_by().values("debit_account__owner_id")
    casino_out = casino_out.order_by().values("credit_account__owner_id")
    bets = bets.order_by().values("player_id")
    rows = (User.objects.filter(agent=agent).order_by("username")
            .annotate(deposit_total=_sum(deposits, "amount"), stake_total=_sum(bets, "stake"),
                      payout_total=_sum(bets, "payout"), casino_staked=_sum(casino_in, "amount"),
                      casino_paid=_sum(casino_out, "amount"))
            .values_list("pk", "username", "deposit_total", "stake_total", "payout_total", "casino_staked",
                         "casino_paid"))
    return [AgentPlayer(id=pk, username=name, deposits=dep, stakes=staked + casino_staked,
                        ggr=staked - paid + casino_staked - casino_paid)
            for pk, name, dep, staked, paid, casino_staked, casino_paid in rows]
