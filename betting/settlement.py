"""Settlement: results decide who gets paid, exactly once per bet, in set-based batches.

A batch claims up to ``SETTLEMENT_BATCH_SIZE`` settleable bets with ``FOR UPDATE SKIP LOCKED``
(so several workers share an event's bets), grades them in memory from their legs, and writes
everything with a handful of statements: one UPDATE for the bets, one for the legs, one INSERT
for the transfers with one UPDATE for the wallets (``transfers_create``), one UPDATE for the
exposure counters, one INSERT each for audit rows and notifications, one upsert for the players'
weekly stats (``betting.stats``). A crash rolls the whole batch back; each settlement transfer
carries a unique key, so a rerun pays nobody twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_entry, audit_records, audited_transaction, player_notifications_create
from betting.models import Bet, BetLeg, BettorStats
from betting.news import bet_message
from betting.stats import SettledLine, bettor_stats_record
from core import live
from core.db import retried_on_conflict
from core.errors import Conflict, InvalidInput, NotFound, refusal
from events.models import Market
from events.services import markets_mark_settled
from ledger.models import Account, Transfer
from ledger.money import exact_product, payout
from ledger.services import TransferSpec, house_account, transfers_create
from risk.exposure import exposure_release

DECIDED = (Market.Status.RESULTED, Market.Status.SETTLED, Market.Status.CANCELLED)

_CLAIM = f"""
SELECT b.id FROM {Bet._meta.db_table} b
WHERE b.status = 'accepted'
  AND b.id IN (SELECT l.bet_id FROM {BetLeg._meta.db_table} l WHERE l.market_id = ANY(%(markets)s))
  -- per candidate bet, from its own legs (a correlated scalar, so PostgreSQL cannot hash every lost
  -- leg of the book on each batch): a multiple is lost as soon as one leg loses; otherwise every
  -- leg must be decided
  AND (SELECT bool_or(o.status = 'lost' AND m.status IN ('resulted', 'settled'))
              OR bool_and(m.status IN ('resulted', 'settled', 'cancelled'))
       FROM {BetLeg._meta.db_table} l
       JOIN events_outcome o ON o.id = l.outcome_id JOIN events_market m ON m.id = l.market_id
       WHERE l.bet_id = b.id)
ORDER BY b.id LIMIT %(size)s
FOR UPDATE OF b SKIP LOCKED
"""


@dataclass
class Graded:
    bet: Bet
    result: str
    payout: Decimal
    leg_results: dict[int, str]  # leg id → won/lost/void, for the legs decided so far
    outcome_ids: list[int]


def grade(bet: Bet, legs: list[tuple[int, int, Decimal, str, str]]) -> Graded:
    """A bet's result from its legs (leg id, outcome id, price, outcome status, market status).

    A cancelled market voids its leg; a void leg counts as 1.00; any lost leg loses the bet; all
    legs void → the bet is void and the stake returned; else payout = stake × the product of the
    won legs' prices, exact, rounded down to the cent.
    """
    results = {}
    for leg_id, _, _, outcome_status, market_status in legs:
        if market_status == Market.Status.CANCELLED:
            results[leg_id] = Bet.Result.VOID
        elif market_status in DECIDED:
            results[leg_id] = outcome_status
    outcome_ids = [outcome_id for _, outcome_id, *_ in legs]
    if Bet.Result.LOST in results.values():
        return Graded(bet, Bet.Result.LOST, Decimal("0.00"), results, outcome_ids)
    if len(results) != len(legs):
        raise ValueError(f"bet {bet.pk} has undecided legs and no lost leg")
    won = [price for leg_id, _, price, *_ in legs if results[leg_id] == Bet.Result.WON]
    if not won:
        return Graded(bet, Bet.Result.VOID, bet.stake, results, outcome_ids)
    return Graded(bet, Bet.Result.WON, payout(bet.stake, exact_product(won)), results, outcome_ids)


@retried_on_conflict
def settlement_batch(*, market_ids: list[int], size: int | None = None) -> int:
    """Settle one batch of the settleable bets on these markets; returns how many it settled."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM, {"markets": market_ids, "size": size or settings.SETTLEMENT_BATCH_SIZE})
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return 0
        bets = {bet.pk: bet for bet in Bet.objects.filter(pk__in=ids).select_related("player__ledger_account")}
        legs: dict[int, list] = {bet_id: [] for bet_id in ids}
        for row in BetLeg.objects.filter(bet_id__in=ids).order_by("bet_id", "position").values_list(
                "bet_id", "pk", "outcome_id", "price", "outcome__status", "market__status"):
            legs[row[0]].append(row[1:])
        settled_write([grade(bets[bet_id], legs[bet_id]) for bet_id in ids],
                      actor=Actor.system("settlement"), reason="")
        return len(ids)


def settled_write(graded: list[Graded], *, actor: Actor, reason: str) -> None:
    """Write settled bets, their legs, transfers, balances, the players' stats, exposure, audit and
    notifications, set-based. The caller holds the bets' row locks."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {Bet._meta.db_table} b SET status = 'settled', result = v.result, payout = v.payout,
                    settled_at = %s
                FROM unnest(%s::bigint[], %s::text[], %s::numeric[]) AS v(id, result, payout) WHERE b.id = v.id""",
            [now, [g.bet.pk for g in graded], [g.result for g in graded], [g.payout for g in graded]])
        leg_results = {leg_id: result for g in graded for leg_id, result in g.leg_results.items()}
        cursor.execute(
            f"""UPDATE {BetLeg._meta.db_table} l SET result = v.result
                FROM unnest(%s::bigint[], %s::text[]) AS v(id, result) WHERE l.id = v.id""",
            [list(leg_results), list(leg_results.values())])
    held, revenue = house_account(Account.House.STAKES_HELD), house_account(Account.House.REVENUE)
    specs = []
    for g in graded:
        reference = {"reference_type": "bet", "reference_id": g.bet.pk, "created_by": actor.user}
        specs.append(TransferSpec(debit=held, credit=revenue, amount=g.bet.stake, kind=Transfer.Kind.BET_STAKE_WON,
                                  idempotency_key=f"bet:{g.bet.pk}:settle:stake", **reference))
        if g.payout > 0:
            specs.append(TransferSpec(debit=revenue, credit=g.bet.player.ledger_account, amount=g.payout,
                                      kind=Transfer.Kind.BET_PAYOUT, idempotency_key=f"bet:{g.bet.pk}:settle:payout",
                                      **reference))
    transfers_create(specs)
    exposure_release(bets=[(g.outcome_ids, g.bet.stake, g.bet.potential_return) for g in graded])
    audit_records([audit_entry(
        actor=actor, action="bet.settle", category=AuditLog.Category.BETTING, resource_type="bet",
        resource_id=g.bet.pk, resource_label=g.bet.ticket_number,
        details={"before": g.bet.status, "result": g.result, "payout": str(g.payout),
                 **({"reason": reason} if reason else {})}) for g in graded])
    notified = player_notifications_create(kind="bet_settled", rows=[
        (g.bet.player_id, _settled_message(g), {"bet_id": g.bet.pk, "result": g.result, "payout": str(g.payout)})
        for g in graded])
    # Last: every bettor of the batch has a stats row, and another worker's batch with the same
    # players waits on those rows until this one commits, so they are locked as late as possible.
    bettor_stats_record(rows=[SettledLine(user_id=g.bet.player_id, product=BettorStats.Product.SPORTS,
                                          result=g.result, staked=g.bet.stake, returned=g.payout, settled_at=now)
                              for g in graded])
    live.to_users([message for g, notice in zip(graded, notified, strict=True) for message in (
        (g.bet.player_id, bet_message(g.bet.pk, Bet.Status.SETTLED, g.result)), notice)])


def _settled_message(g: Graded) -> str:
    if g.result == Bet.Result.WON:
        return f"Your bet {g.bet.ticket_number} won: {g.payout} paid to your wallet."
    if g.result == Bet.Result.VOID:
        return f"Your bet {g.bet.ticket_number} was void: your stake of {g.payout} was returned."
    return f"Your bet {g.bet.ticket_number} lost."


def markets_settle(*, market_ids: list[int]) -> int:
    """Settle every settleable bet on these markets, batch after batch; then the resulted markets
    left without an open bet become ``settled`` through the events services (their one writer, with
    the audit row and the live message). Safe to run twice and on several workers."""
    total = 0
    while settled := settlement_batch(market_ids=market_ids):
        total += settled
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT m.id FROM {Market._meta.db_table} m
                WHERE m.id = ANY(%s) AND m.status = '{Market.Status.RESULTED}'
                  AND NOT EXISTS (
                      SELECT 1 FROM {BetLeg._meta.db_table} l JOIN {Bet._meta.db_table} b ON b.id = l.bet_id
                      WHERE l.market_id = m.id AND b.status IN ('{Bet.Status.PLACED}', '{Bet.Status.ACCEPTED}'))""",
            [market_ids])
        done = [row[0] for row in cursor.fetchall()]
    if done:
        markets_mark_settled(market_ids=done, actor=Actor.system("settlement"))
    return total


def markets_pending_settlement() -> list[int]:
    """Decided markets that still hold open bets, or resulted markets not yet marked settled."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT m.id FROM events_market m WHERE m.status IN ('resulted', 'cancelled')
                AND (m.status = 'resulted' OR EXISTS (
                    SELECT 1 FROM {BetLeg._meta.db_table} l JOIN {Bet._meta.db_table} b ON b.id = l.bet_id
                    WHERE l.market_id = m.id AND b.status = 'accepted'))
                ORDER BY m.id""")
        return [row[0] for row in cursor.fetchall()]


@retried_on_conflict
def bet_settle_manual(*, bet_id: int, result: Any, reason: str, actor: Actor) -> Bet:
    """An operator settles an accepted bet by hand (won pays the potential return, void returns the
    stake, lost pays nothing), with a reason; audited with before and after."""
    with audited_transaction(actor=actor, action="bet.settle", category=AuditLog.Category.BETTING,
                             resource_type="bet", resource_id=bet_id,
                             details={"result": str(result), "reason": str(reason)}):
        if result not in Bet.Result.values:
            raise InvalidInput("result must be won, lost or void.", details={"field": "result"})
        if not (reason or "").strip():
            raise InvalidInput("Say why the bet is settled by hand.", code="reason_required")
        # a tenant's trader settles that tenant's bets only (audit.tenancy); another's is not found
        bet = (Bet.objects.visible_to(actor.user).select_for_update(of=("self",))
               .select_related("player__ledger_account").filter(pk=bet_id).first())
        if bet is None:
            raise NotFound(f"No bet with id {bet_id}.")
        if actor.user_id is not None and actor.user_id == bet.player_id:
            raise refusal("own_bet", "Nobody settles a bet they placed; ask another trader.",
                          {"bet_id": bet.pk})
        if bet.status != Bet.Status.ACCEPTED:
            raise Conflict(f"Only an accepted bet can be settled; this one is {bet.status}.",
                           code="invalid_bet_state", details={"status": bet.status})
        amount = {Bet.Result.WON: bet.potential_return, Bet.Result.VOID: bet.stake}.get(result, Decimal("0.00"))
        legs = list(bet.legs.values_list("outcome_id", flat=True))
        settled_write([Graded(bet, result, amount, {}, legs)], actor=actor, reason=reason)
    bet.refresh_from_db()
    return bet
