"""Settlement and GGR reports, and the streamed CSV exports of bets, challenges, ledger and settlements."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db.models import Count, Max, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from audit.selectors import day_bounds
from betting.models import Bet, BetLeg, Challenge
from betting.slips import odds_text
from core.errors import NotFound
from events.models import Event
from ledger.models import Transfer, format_entry_number

ZERO = Decimal("0.00")
# The casino's ledger rows: a round's stake in and its payout out (casino/services.py).
CASINO_KINDS = (Transfer.Kind.CASINO_STAKE, Transfer.Kind.CASINO_PAYOUT)


def _aggregates(prefix: str = "") -> dict[str, Any]:
    """The settlement figures of a set of bets; ``prefix`` reaches the bet from a related row (``bet__``)."""
    result = f"{prefix}result"
    return {"processed": Count(f"{prefix}id"), "staked": Sum(f"{prefix}stake"), "paid": Sum(f"{prefix}payout"),
            "won": Count(f"{prefix}id", filter=Q(**{result: Bet.Result.WON})),
            "lost": Count(f"{prefix}id", filter=Q(**{result: Bet.Result.LOST})),
            "void": Count(f"{prefix}id", filter=Q(**{result: Bet.Result.VOID}))}


def _shape(totals: dict[str, Any]) -> dict[str, Any]:
    staked, paid = totals["staked"] or ZERO, totals["paid"] or ZERO
    return {"bets_processed": totals["processed"], "total_staked": staked, "total_paid_out": paid,
            "ggr": staked - paid, "by_result": {k: totals[k] for k in ("won", "lost", "void")}}


def _totals(bets: QuerySet[Bet]) -> dict[str, Any]:
    return _shape(bets.aggregate(**_aggregates()))


def event_settlement_report(*, event_id: int, viewer: Any) -> dict[str, Any]:
    """Settled bets with a leg on this event: how many, staked, paid out, GGR, by result (of the bets
    ``viewer`` may see: audit.tenancy)."""
    if not Event.objects.filter(pk=event_id).exists():
        raise NotFound(f"No event with id {event_id}.")
    bets = Bet.objects.visible_to(viewer).filter(status=Bet.Status.SETTLED, pk__in=BetLeg.objects.filter(
        event_id=event_id).values("bet_id"))
    return {"event_id": event_id, **_totals(bets)}


def event_settlement_rows(*, viewer: Any, start: str | None = None, end: str | None = None,
                          limit: int | None = None) -> list[dict[str, Any]]:
    """``event_settlement_report`` for every event with settled bets, in one grouped query.

    A bet counts for each event it has a leg on (a multiple on two events counts for both), exactly as
    the per-event report counts it; one leg per event per bet, so the join adds each bet once per event.
    ``start``/``end`` narrow by the bets' settlement day; newest settlement first.
    """
    legs = _between(BetLeg.objects.visible_to(viewer).filter(bet__status=Bet.Status.SETTLED), "bet__settled_at",
                    start, end)
    rows = (legs.values("event_id", "event__home", "event__away", "event__start_time", "event__status")
            .annotate(**_aggregates("bet__"), last_settled_at=Max("bet__settled_at"))
            .order_by("-last_settled_at", "-event_id"))
    if limit is not None:
        rows = rows[:limit]
    return [{"event_id": row["event_id"], "event": f"{row['event__home']} v {row['event__away']}",
             "start_time": row["event__start_time"], "event_status": row["event__status"],
             "last_settled_at": row["last_settled_at"], **_shape(row)} for row in rows]


def ggr_by_day(*, first: date, last: date, viewer: Any, tenant: str | None = None,
               product: str = "sports") -> list[dict[str, Any]]:
    """Staked, paid out and GGR of each UTC day from ``first`` to ``last`` (every day listed, zero when
    nothing happened), of the rows ``viewer`` may see: for ``sports`` the bets settled that day (the same
    figures as ``ggr_report``'s top level for a one-day period), for ``casino`` the day's casino stake and
    payout transfers (its ``products.casino``)."""
    start, after_last = day_bounds(first.isoformat(), last.isoformat())
    if product == "casino":
        rows = (Transfer.objects.visible_to(viewer, tenant=tenant)
                .filter(kind__in=CASINO_KINDS, created_at__gte=start, created_at__lt=after_last)
                .annotate(day=TruncDate("created_at", tzinfo=UTC)).values("day")
                .annotate(staked=Sum("amount", filter=Q(kind=Transfer.Kind.CASINO_STAKE)),
                          paid=Sum("amount", filter=Q(kind=Transfer.Kind.CASINO_PAYOUT)),
                          bets=Count("pk", filter=Q(kind=Transfer.Kind.CASINO_STAKE))).order_by("day"))
    else:
        rows = (Bet.objects.visible_to(viewer, tenant=tenant)
                .filter(status=Bet.Status.SETTLED, settled_at__gte=start, settled_at__lt=after_last)
                .annotate(day=TruncDate("settled_at", tzinfo=UTC)).values("day")
                .annotate(staked=Sum("stake"), paid=Sum("payout"), bets=Count("id")).order_by("day"))
    by_day = {row["day"]: row for row in rows}
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        row = by_day.get(day, {})
        staked, paid = row.get("staked") or ZERO, row.get("paid") or ZERO
        days.append({"day": day, "total_staked": staked, "total_paid_out": paid, "ggr": staked - paid,
                     "bets_settled": row.get("bets", 0)})
    return days


def _margin(ggr: Decimal, staked: Decimal) -> Decimal | None:
    return None if not staked else (ggr / staked).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)


def _product(staked: Decimal, paid_out: Decimal) -> dict[str, Any]:
    ggr = staked - paid_out
    return {"staked": staked, "paid_out": paid_out, "ggr": ggr, "margin": _margin(ggr, staked)}


def ggr_report(*, start: str | None, end: str | None, viewer: Any, tenant: str | None = None) -> dict[str, Any]:
    """Gross gaming revenue of what settled in [start, end] (UTC days): staked − paid out.

    The top-level figures are the sportsbook's (as before); ``products`` splits them by product: P2P
    staked is both parties' stakes of the settled challenges, its GGR their fees (a void challenge
    refunds and never settles); casino staked and paid out are the period's casino stake and payout
    transfers (a round is staked and paid at once). ``total`` adds the ledger's costs of the period:
    ``bonuses`` is the sum of the BONUS transfers and ``commissions`` of the COMMISSION transfers created
    in [start, end] (UTC days, by ``created_at``), and ``net_revenue`` is ``ggr`` − ``bonuses`` −
    ``commissions``. Every figure is of the rows ``viewer`` may see, narrowed to one ``tenant`` (a slug)
    when named (audit.tenancy).
    """
    bets = _between(Bet.objects.visible_to(viewer, tenant=tenant).filter(status=Bet.Status.SETTLED),
                    "settled_at", start, end)
    totals = _totals(bets)
    challenges = _between(Challenge.objects.visible_to(viewer, tenant=tenant).filter(
        status=Challenge.Status.SETTLED), "settled_at", start, end)
    p2p = challenges.aggregate(stakes=Sum("stake"), paid=Sum("payout"), n=Count("id"))
    kinds = (Transfer.Kind.BONUS, Transfer.Kind.COMMISSION, *CASINO_KINDS)
    moved = _between(Transfer.objects.visible_to(viewer, tenant=tenant).filter(kind__in=kinds), "created_at",
                     start, end).aggregate(**{kind: Sum("amount", filter=Q(kind=kind)) for kind in kinds})
    moved = {kind: moved[kind] or ZERO for kind in kinds}
    products = {"sports": _product(totals["total_staked"], totals["total_paid_out"]),
                "casino": _product(moved[Transfer.Kind.CASINO_STAKE], moved[Transfer.Kind.CASINO_PAYOUT]),
                "p2p": _product(2 * (p2p["stakes"] or ZERO), p2p["paid"] or ZERO)}
    ggr = sum((product["ggr"] for product in products.values()), ZERO)
    bonuses, commissions = moved[Transfer.Kind.BONUS], moved[Transfer.Kind.COMMISSION]
    return {"period": {"start": start, "end": end}, "total_staked": totals["total_staked"],
            "total_paid_out": totals["total_paid_out"], "ggr": totals["ggr"],
            "margin": _margin(totals["ggr"], totals["total_staked"]),
            "bets_settled": totals["bets_processed"], "challenges_settled": p2p["n"], "products": products,
            "total": {"ggr": ggr, "bonuses": bonuses, "commissions": commissions,
                      "net_revenue": ggr - bonuses - commissions}}


def _between(records: QuerySet, field: str, start: str | None, end: str | None) -> QuerySet:
    first, after_last = day_bounds(start, end)
    if first:
        records = records.filter(**{f"{field}__gte": first})
    if after_last:
        records = records.filter(**{f"{field}__lt": after_last})
    return records


BET_COLUMNS = ["ticket_number", "bet_id", "player", "bet_type", "status", "result", "stake", "total_odds",
               "potential_return", "payout", "odds_change", "in_play", "placed_at", "accepted_at",
               "rejected_at", "settled_at", "legs"]


def bet_export_rows(*, start: str | None, end: str | None, viewer: Any):
    """Bets placed in the period; ``legs`` is ``outcome_id@price=result`` joined by ``;``."""
    bets = _between(Bet.objects.visible_to(viewer).select_related("player").prefetch_related(
        Prefetch("legs", queryset=BetLeg.objects.order_by("position"))), "placed_at", start, end)
    return bets.order_by("pk").iterator(chunk_size=2000)


def bet_row(bet: Bet) -> list[Any]:
    return [bet.ticket_number, bet.pk, bet.player.username, bet.bet_type, bet.status, bet.result or "",
            bet.stake, odds_text(bet.total_odds), bet.potential_return, "" if bet.payout is None else bet.payout,
            bet.odds_change, bet.in_play, _iso(bet.placed_at), _iso(bet.accepted_at), _iso(bet.rejected_at),
            _iso(bet.settled_at),
            ";".join(f"{leg.outcome_id}@{leg.price}={leg.result or ''}" for leg in bet.legs.all())]


SETTLEMENT_COLUMNS = ["ticket_number", "bet_id", "player", "settled_at", "result", "stake", "payout",
                      "house_result", "events"]


def settlement_export_rows(*, start: str | None, end: str | None, viewer: Any):
    bets = _between(Bet.objects.visible_to(viewer).filter(status=Bet.Status.SETTLED).select_related(
        "player").prefetch_related(Prefetch("legs", queryset=BetLeg.objects.order_by("position"))),
        "settled_at", start, end)
    return bets.order_by("settled_at", "pk").iterator(chunk_size=2000)


def settlement_row(bet: Bet) -> list[Any]:
    return [bet.ticket_number, bet.pk, bet.player.username, _iso(bet.settled_at), bet.result, bet.stake,
            bet.payout, bet.stake - bet.payout, ";".join(str(leg.event_id) for leg in bet.legs.all())]


CHALLENGE_COLUMNS = ["challenge_id", "event_id", "creator", "acceptor", "selection", "stake", "pot",
                     "creator_funding", "acceptor_funding", "status", "result", "winner", "fee", "payout",
                     "status_reason", "created_at", "matched_at", "settled_at"]


def challenge_export_rows(*, start: str | None, end: str | None, viewer: Any):
    """Challenges created in the period, every status."""
    challenges = _between(Challenge.objects.visible_to(viewer).select_related("creator", "acceptor", "winner"),
                          "created_at", start, end)
    return challenges.order_by("pk").iterator(chunk_size=2000)


def challenge_selection(challenge: Challenge) -> str:
    """``outcome:17``, or ``player:5 points over 20.5``."""
    if challenge.outcome_id is not None:
        return f"outcome:{challenge.outcome_id}"
    return f"player:{challenge.player_id} {challenge.stat} {challenge.side} {challenge.line}"


def challenge_row(c: Challenge) -> list[Any]:
    def name(user) -> str:
        return user.username if user else ""

    return [c.pk, c.event_id, name(c.creator), name(c.acceptor), challenge_selection(c), c.stake, c.pot,
            c.creator_funding, c.acceptor_funding, c.status, c.result or "", name(c.winner),
            "" if c.fee is None else c.fee, "" if c.payout is None else c.payout, c.status_reason,
            _iso(c.created_at), _iso(c.matched_at), _iso(c.settled_at)]


LEDGER_COLUMNS = ["entry_number", "created_at", "kind", "amount", "debit_account", "credit_account",
                  "debit_balance_before", "debit_balance_after", "credit_balance_before", "credit_balance_after",
                  "reference_type", "reference_id", "idempotency_key", "created_by"]


def ledger_export_rows(*, start: str | None, end: str | None, viewer: Any):
    # Only the columns the CSV prints (each is named after its field): a fetched chunk of full rows
    # (three joined tables, ~45 values a row) is what sets the export's peak memory.
    transfers = _between(Transfer.objects.visible_to(viewer).select_related(
        "debit_account", "credit_account", "created_by").only(
        *LEDGER_COLUMNS, "debit_account__code", "credit_account__code", "created_by__username"),
        "created_at", start, end)
    return transfers.order_by("entry_number").iterator(chunk_size=1000)


def ledger_row(t: Transfer) -> list[Any]:
    def blank(value):
        return "" if value is None else value

    return [format_entry_number(t.entry_number), _iso(t.created_at), t.kind, t.amount, t.debit_account.code,
            t.credit_account.code, blank(t.debit_balance_before), blank(t.debit_balance_after),
            blank(t.credit_balance_before), blank(t.credit_balance_after), t.reference_type, t.reference_id,
            t.idempotency_key or "", t.created_by.username if t.created_by else ""]


def _iso(value) -> str:
    return value.isoformat() if value else ""
