"""Open liability per outcome: hot counters, changed only by one short conditional UPDATE (a
placement reserves in betting/sql/placement.py's function; release and alerts are here)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import connection

from audit.services import notification_create
from risk.models import ExposureCap, OutcomeExposure


def exposure_caps(*, legs: list[tuple[int, int, str]]) -> dict[int, Decimal]:
    """The cap for each (outcome_id, sport_id, market_kind): sport and kind > kind > sport > default."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT sport_id, market_kind, cap FROM {ExposureCap._meta.db_table}")
        caps = {(sport_id, kind): cap for sport_id, kind, cap in cursor.fetchall()}
    default = Decimal(settings.RISK_DEFAULT_EXPOSURE_CAP)

    def cap_for(sport_id: int, kind: str) -> Decimal:
        for scope in ((sport_id, kind), (None, kind), (sport_id, ""), (None, "")):
            if scope in caps:
                return caps[scope]
        return default

    return {outcome_id: cap_for(sport_id, kind) for outcome_id, sport_id, kind in legs}


ALERT_LEVELS = (Decimal("0.8"), Decimal("1"))


def exposure_alert(outcome_id: int, *, before: Decimal, after: Decimal, cap: Decimal) -> None:
    """Tell traders when an outcome's liability crosses 80% and 100% of its cap."""
    for level in ALERT_LEVELS:
        if before < level * cap <= after:
            notification_create(
                kind="exposure_alert",
                message=f"Outcome {outcome_id}: liability {after} reached {level:.0%} of its cap {cap}.",
                data={"outcome_id": outcome_id, "liability": str(after), "cap": str(cap), "level": str(level)})


def exposure_release(*, bets: list[tuple[list[int], Decimal, Decimal]]) -> None:
    """Take bets that are no longer open (rejected, settled) off their outcomes' liability.

    ``bets`` holds (outcome ids, stake, potential return) per bet; one UPDATE covers them all.
    """
    totals: dict[int, list] = {}
    for outcome_ids, stake, payout in bets:
        for outcome_id in outcome_ids:
            total = totals.setdefault(outcome_id, [Decimal("0.00"), Decimal("0.00"), 0])
            total[0] += stake
            total[1] += payout
            total[2] += 1
    if not totals:
        return
    ids = sorted(totals)
    with connection.cursor() as cursor:
        # Lock the counters in id order first, as placement (betting/sql/placement.py) takes them: an UPDATE ... FROM
        # locks rows in whatever order its plan reads them, and a release going the other way round
        # than a multiple's reservation deadlocks with it.
        cursor.execute(f"SELECT 1 FROM {OutcomeExposure._meta.db_table} WHERE outcome_id = ANY(%s) "
                       "ORDER BY outcome_id FOR UPDATE", [ids])
        cursor.execute(
            f"""UPDATE {OutcomeExposure._meta.db_table} e
                SET stakes = e.stakes - v.stakes, worst_case_payout = e.worst_case_payout - v.payout,
                    bets = e.bets - v.bets
                FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::int[]) AS v(id, stakes, payout, bets)
                WHERE e.outcome_id = v.id""",
            [ids, [totals[i][0] for i in ids], [totals[i][1] for i in ids], [totals[i][2] for i in ids]])
