"""The liability book: what each open market stands to pay, outcome by outcome, against its caps."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from audit.models import Notification
from events.models import Market, Outcome
from risk.exposure import ALERT_LEVELS, exposure_caps
from risk.models import OutcomeExposure

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
OPEN_STATUSES = [Market.Status.OPEN, Market.Status.SUSPENDED]


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    return (part * HUNDRED / whole).quantize(Decimal("0.1"), ROUND_HALF_EVEN) if whole else ZERO


def risk_level(percent_of_cap: Decimal) -> str:
    """``critical`` at or past the cap, ``warning`` from the first alert level (80%), else ``ok``."""
    high, low = (level * HUNDRED for level in sorted(ALERT_LEVELS, reverse=True))
    return "critical" if percent_of_cap >= high else "warning" if percent_of_cap >= low else "ok"


@dataclass
class OutcomeLiability:
    outcome_id: int
    name: str
    price: Decimal
    pinned: bool
    stakes: Decimal
    bets: int
    worst_case_payout: Decimal
    cap: Decimal
    net_liability: Decimal = ZERO
    percent_of_cap: Decimal = ZERO

    @property
    def level(self) -> str:
        return risk_level(self.percent_of_cap)


@dataclass
class MarketLiability:
    market_id: int
    event_id: int
    event: str
    event_status: str
    market: str
    status: str
    outcomes: list[OutcomeLiability] = field(default_factory=list)

    @property
    def stakes(self) -> Decimal:
        """Every stake taken on the market: a bet has at most one leg per event, so no stake counts twice."""
        return sum((o.stakes for o in self.outcomes), ZERO)

    @property
    def bets(self) -> int:
        return sum(o.bets for o in self.outcomes)

    @property
    def worst(self) -> OutcomeLiability:
        return max(self.outcomes, key=lambda o: (o.percent_of_cap, o.net_liability))

    @property
    def worst_case_payout(self) -> Decimal:
        return self.worst.worst_case_payout

    @property
    def net_liability(self) -> Decimal:
        return max(o.net_liability for o in self.outcomes)

    @property
    def percent_of_cap(self) -> Decimal:
        return self.worst.percent_of_cap

    @property
    def level(self) -> str:
        return risk_level(self.percent_of_cap)


def liability_book(*, limit: int = 200) -> list[MarketLiability]:
    """Open and suspended markets that hold open bets, each with every outcome's liability, riskiest first.

    Per outcome: stakes and bet count on it, its worst-case payout (the open bets' potential returns
    should it win, from ``risk.OutcomeExposure``), net liability = that payout minus all the stakes taken
    on the market, and the payout as a percentage of the outcome's exposure cap. Markets sort by their
    worst outcome's % of cap, then by net liability. Two queries, whatever the number of markets.
    """
    market_ids = (OutcomeExposure.objects.filter(bets__gt=0, outcome__market__status__in=OPEN_STATUSES)
                  .values("outcome__market_id"))
    outcomes = (Outcome.objects.filter(market_id__in=market_ids)
                .select_related("market__event", "exposure").order_by("market_id", "id"))
    outcomes = list(outcomes)
    caps = exposure_caps(legs=[(o.pk, o.market.event.sport_id, o.market.kind) for o in outcomes])
    markets: dict[int, MarketLiability] = {}
    for outcome in outcomes:
        market = outcome.market
        book = markets.get(market.pk)
        if book is None:
            book = markets[market.pk] = MarketLiability(
                market_id=market.pk, event_id=market.event_id, event=str(market.event),
                event_status=market.event.status, market=market.name, status=market.status)
        exposure = getattr(outcome, "exposure", None)
        book.outcomes.append(OutcomeLiability(
            outcome_id=outcome.pk, name=outcome.name, price=outcome.price, pinned=outcome.pinned,
            stakes=exposure.stakes if exposure else ZERO, bets=exposure.bets if exposure else 0,
            worst_case_payout=exposure.worst_case_payout if exposure else ZERO, cap=caps[outcome.pk]))
    for book in markets.values():
        taken = book.stakes
        for outcome in book.outcomes:
            outcome.net_liability = outcome.worst_case_payout - taken
            outcome.percent_of_cap = _percent(outcome.worst_case_payout, outcome.cap)
        book.outcomes.sort(key=lambda o: (o.percent_of_cap, o.net_liability), reverse=True)
    ranked = sorted(markets.values(), key=lambda b: (b.percent_of_cap, b.net_liability, b.market_id), reverse=True)
    return ranked[:limit]


def exposure_alerts(*, limit: int = 20) -> list[Notification]:
    """The latest exposure alerts (risk.exposure writes one staff notification per 80%/100% crossing)."""
    return list(Notification.objects.filter(kind="exposure_alert", audience=Notification.Audience.STAFF)
                .order_by("-created_at", "-id")[:limit])
