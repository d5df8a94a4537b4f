"""Shared steps of the commission tests: an agent with players, their deposits and settled bets."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from audit.context import Actor
from betting.models import Bet
from betting.services import bet_place
from betting.settlement import bet_settle_manual
from casino.models import Round
from ledger.models import Transfer
from tests.conftest import selection

ZERO = Decimal("0.00")


def players_of(agent: Any, *players: Any) -> None:
    get_user_model().objects.filter(pk__in=[p.pk for p in players]).update(agent=agent)


def bet_settled(player: Any, event: Any, stake: str, result: str, *, trader: Any) -> Bet:
    """A single on the event's home outcome, accepted, then settled by hand (won pays stake × price,
    void the stake, lost nothing)."""
    bet = bet_place(player=player, selections=[selection(event)], stake=stake, bet_type="single",
                    actor=Actor.of(player))
    assert bet.status == Bet.Status.ACCEPTED, bet.status
    return bet_settle_manual(bet_id=bet.pk, result=result, reason="test", actor=Actor.of(trader))


def this_period():
    """A period that holds everything the test did just now (yesterday and today, UTC: a run that crosses
    midnight still finds it)."""
    today = timezone.now().date()
    return today - timedelta(days=1), today + timedelta(days=1)


def expected_lines(agent: Any, *, carried_in: Decimal = ZERO) -> dict[str, tuple[Decimal, Decimal]]:
    """The statement's lines computed here from the rows, independently of agents.services, with the
    default plan: {kind: (base, amount)}. Casino rounds count as bets do (their rows, not the ledger's)."""
    deposits = list(Transfer.objects.filter(kind=Transfer.Kind.DEPOSIT, credit_account__owner__agent=agent)
                    .values_list("amount", flat=True))
    settled = list(Bet.objects.filter(player__agent=agent, status=Bet.Status.SETTLED))
    rounds = list(Round.objects.filter(player__agent=agent))
    stakes = [b.stake for b in settled if b.result != Bet.Result.VOID] + [r.stake for r in rounds]
    ggr = sum((b.stake - b.payout for b in settled), ZERO) + sum((r.stake - r.payout for r in rounds), ZERO)

    def line(amounts, rate, floor, cap):
        kept = [a for a in amounts if a >= floor]
        exact = sum((min(a * Decimal(rate), Decimal(cap)) for a in kept), Decimal(0))
        return sum(kept, ZERO), exact.quantize(Decimal("0.01"), rounding="ROUND_DOWN")

    net = ggr + carried_in
    share = (net * Decimal("0.1")).quantize(Decimal("0.01"), rounding="ROUND_DOWN") if net > 0 else ZERO
    return {"deposits": line(deposits, "0.02", Decimal("10.00"), "1000.00"),
            "turnover": line(stakes, "0.015", Decimal("5.00"), "500.00"),
            "ggr": (max(net, ZERO), share)}
