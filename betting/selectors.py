from typing import Any

from django.db.models import Prefetch, QuerySet

from betting.models import Bet, BetLeg
from oddslab.errors import InvalidInput, NotFound


def _can_see_all(user: Any) -> bool:
    return user.has_perm("betting.view_bet")


def _with_legs() -> QuerySet[Bet]:
    return Bet.objects.prefetch_related(Prefetch("legs", queryset=BetLeg.objects.order_by("position")))


def bet_list(*, user: Any, status: str | None = None) -> QuerySet[Bet]:
    """A player's own bets; staff who may view bets see everyone's."""
    bets = _with_legs()
    if not _can_see_all(user):
        bets = bets.filter(player=user)
    if status:
        if status not in Bet.Status.values:
            raise InvalidInput(f"status must be one of {', '.join(Bet.Status.values)}.",
                               details={"field": "status"})
        bets = bets.filter(status=status)
    return bets.order_by("-placed_at", "-id")


def bet_get(*, user: Any, bet_id: int) -> Bet:
    """One bet for its owner or staff; to anyone else it does not exist."""
    bet = _with_legs().filter(pk=bet_id).first()
    # the owner needs no permission lookup (two queries): the case of every placement's answer
    if bet is None or (bet.player_id != user.pk and not _can_see_all(user)):
        raise NotFound(f"No bet with id {bet_id}.")
    return bet
