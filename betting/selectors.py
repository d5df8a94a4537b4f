from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F, Prefetch, QuerySet, Sum
from django.utils import timezone

from betting.models import Bet, BetLeg, BettorStats
from core.errors import InvalidInput, NotFound


def _can_see_all(user: Any) -> bool:
    return user.has_perm("betting.view_bet")


def _with_legs() -> QuerySet[Bet]:
    return Bet.objects.prefetch_related(Prefetch("legs", queryset=BetLeg.objects.order_by("position")))


def bet_list(*, user: Any, status: str | None = None) -> QuerySet[Bet]:
    """A player's own bets; staff who may view bets see those of their tenant (audit.tenancy)."""
    bets = _with_legs()
    bets = bets.visible_to(user) if _can_see_all(user) else bets.filter(player=user)
    if status:
        if status not in Bet.Status.values:
            raise InvalidInput(f"status must be one of {', '.join(Bet.Status.values)}.",
                               details={"field": "status"})
        bets = bets.filter(status=status)
    return bets.order_by("-placed_at", "-id")


def bet_get(*, user: Any, bet_id: int) -> Bet:
    """One bet for its owner or staff of its tenant; to anyone else it does not exist."""
    bet = _with_legs().filter(pk=bet_id).first()
    # the owner needs no permission lookup (two queries): the case of every placement's answer
    if bet is None or (bet.player_id != user.pk and not (
            _can_see_all(user) and Bet.objects.visible_to(user).filter(pk=bet_id).exists())):
        raise NotFound(f"No bet with id {bet_id}.")
    return bet


@dataclass(frozen=True)
class ProductStats:
    bets: int = 0
    won: int = 0
    lost: int = 0
    void: int = 0
    staked: Decimal = Decimal("0.00")
    returned: Decimal = Decimal("0.00")

    @property
    def profit(self) -> Decimal:
        return self.returned - self.staked


@dataclass(frozen=True)
class LeaderboardLine:
    rank: int
    username: str
    profit: Decimal
    bets: int


@dataclass(frozen=True)
class Leaderboard:
    period: str
    product: str | None  # None: both products summed
    week: date | None  # the Monday of the week shown; None for all time
    players: list[LeaderboardLine]


LEADERBOARD_PERIODS = ("week", "all")  # this week (from Monday, UTC), or every settled bet ever


def week_of(moment: datetime) -> date:
    """The Monday (UTC) of the week ``moment`` falls in: the week its settlement counts in."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


_SUMMED = ("bets", "won", "lost", "void", "staked", "returned")


def bettor_stats(*, user: Any) -> dict[str, ProductStats]:
    """A player's settled bets and challenges, all weeks summed, per product (``BettorStats.Product``);
    nothing settled (or a staff account) reads as zeros."""
    sums = {row["product"]: row for row in BettorStats.objects.filter(user_id=user.pk).values("product")
            .annotate(**{f"total_{name}": Sum(name) for name in _SUMMED})}
    return {product: ProductStats(**{name: sums[product][f"total_{name}"] for name in _SUMMED})
            if product in sums else ProductStats() for product in BettorStats.Product.values}


def leaderboard(*, period: str | None = None, product: str | None = None,
                now: datetime | None = None) -> Leaderboard:
    """The ``LEADERBOARD_SIZE`` players with the highest profit (returned − staked) this week or of all
    time, over both products or one. Tied profits share a rank (1, 1, 3)."""
    period = period or "week"
    if period not in LEADERBOARD_PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(LEADERBOARD_PERIODS)}.", details={"field": "period"})
    if product and product not in BettorStats.Product.values:
        raise InvalidInput(f"product must be one of {', '.join(BettorStats.Product.values)}.",
                           details={"field": "product"})
    rows = BettorStats.objects.all()
    week = week_of(now or timezone.now()) if period == "week" else None
    if week:
        rows = rows.filter(week=week)
    if product:
        rows = rows.filter(product=product)
    top = (rows.values("user_id").annotate(username=F("user__username"), profit=Sum(F("returned") - F("staked")),
                                            bet_count=Sum("bets"))
           .order_by("-profit", "username")[:settings.LEADERBOARD_SIZE])
    lines: list[LeaderboardLine] = []
    for position, row in enumerate(top, start=1):
        rank = lines[-1].rank if lines and lines[-1].profit == row["profit"] else position
        lines.append(LeaderboardLine(rank=rank, username=row["username"], profit=row["profit"],
                                     bets=row["bet_count"]))
    return Leaderboard(period=period, product=product or None, week=week, players=lines)
