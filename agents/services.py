"""Agents' commission statements: the run that writes them, and compliance's decision on each
(API.md "Tenants, agents, commissions, bonuses"; docs/agents.md). The only writer of statements and their lines.

A statement covers one agent and one period [start, end) of UTC days. The run writes it once, with
one line per kind (deposits, turnover, GGR share), from the agent's players' deposits and the bets
settled in the period; running the period again, or on two workers at once, finds the statements
already written. Approving pays the statement's amount from the house commission pool to the agent's
wallet in one ledger transfer; rejecting pays nothing. Both are audited, refusals too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal, Inexact, localcontext
from itertools import chain
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from agents.models import CommissionLine, CommissionPlan, CommissionStatement
from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction
from audit.tenancy import TenantQuerySet
from betting.models import Bet
from core.db import retried_on_conflict
from core.errors import Conflict, InvalidInput, NotFound
from core.query import BIGINT_MAX, query_date
from ledger.models import Account, Transfer
from ledger.money import floor_cent
from ledger.services import house_account, transfer_create
from wallet.services import wallet_lock

ZERO = Decimal("0.00")
Kind = CommissionLine.Kind
Status = CommissionStatement.Status

# A period is at most this long, starts no earlier than FIRST_DAY, and ends at the latest tomorrow
# (it may hold today: what has happened so far; the weekly run only takes complete weeks).
MAX_PERIOD_DAYS = 366
FIRST_DAY = date(2000, 1, 1)
REASON_MAX = CommissionStatement._meta.get_field("reason").max_length
# Every run takes this one transaction-level lock: two runs (of one period or of overlapping ones)
# happen one after the other, and the second finds what the first wrote.
RUN_LOCK = "agents.commissions_run"
# Exact arithmetic: a product or sum that would need rounding raises instead.
_EXACT = Context(prec=80, traps=[Inexact])


# --- The period -----------------------------------------------------------------------------------

def commission_period_parse(*, start: Any, end: Any, today: date | None = None) -> tuple[date, date]:
    """``start``/``end`` (dates or YYYY-MM-DD) as a period [start, end) the run accepts, or a 400:
    ``invalid_date`` (not a date), ``invalid_period`` (start not before end, longer than
    MAX_PERIOD_DAYS, before FIRST_DAY, or ending after tomorrow)."""
    first, after = _day(start, "start"), _day(end, "end")
    today = today or timezone.now().date()
    details = {"start": first.isoformat(), "end": after.isoformat()}
    if first >= after:
        raise InvalidInput("start must be before end (the end day is not included).", code="invalid_period",
                           details={"field": "end", **details})
    if (after - first).days > MAX_PERIOD_DAYS:
        raise InvalidInput(f"A period is at most {MAX_PERIOD_DAYS} days.", code="invalid_period",
                           details={"field": "end", "max_days": MAX_PERIOD_DAYS, **details})
    if first < FIRST_DAY:
        raise InvalidInput(f"A period starts on {FIRST_DAY} or later.", code="invalid_period",
                           details={"field": "start", "first_day": FIRST_DAY.isoformat(), **details})
    latest = today + timedelta(days=1)
    if after > latest:
        raise InvalidInput(f"A period ends by {latest} (the end day is not included): it cannot be in the future.",
                           code="invalid_period", details={"field": "end", "latest_end": latest.isoformat(), **details})
    return first, after


def _day(value: Any, field: str) -> date:
    if isinstance(value, datetime):
        value = value.date().isoformat()
    elif isinstance(value, date):
        value = value.isoformat()
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field} is required, a date like 2026-11-30.", code="invalid_date",
                           details={"field": field})
    return query_date(value, field=field)


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00 UTC, end 00:00 UTC)."""
    return datetime.combine(start, time.min, tzinfo=UTC), datetime.combine(end, time.min, tzinfo=UTC)


def last_complete_week(*, today: date) -> tuple[date, date]:
    """The last Monday-to-Monday week that has ended by ``today`` (UTC)."""
    end = today - timedelta(days=today.weekday())
    return end - timedelta(days=7), end


# --- The statement's figures (pure) ---------------------------------------------------------------

@dataclass(frozen=True)
class LineFigures:
    kind: str
    base: Decimal
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True)
class StatementFigures:
    deposits: Decimal
    turnover: Decimal
    ggr: Decimal
    carried_in: Decimal
    carried_out: Decimal
    lines: tuple[LineFigures, ...]

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def per_transaction_line(*, kind: str, amounts: Iterable[Decimal], rate: Decimal, floor: Decimal,
                         cap: Decimal) -> tuple[Decimal, LineFigures]:
    """(every amount's sum, the line): each amount of at least ``floor`` earns ``rate`` of it, at most
    ``cap``; the line's base is those amounts' sum and its amount the exact sum of their commissions,
    rounded down to the cent once."""
    total = base = earned = ZERO
    with localcontext(_EXACT):
        for amount in amounts:
            total += amount
            if amount >= floor:
                base += amount
                earned += min(amount * rate, cap)
    return total, LineFigures(kind, base, rate, floor_cent(earned))


def statement_figures(*, plan: CommissionPlan, deposits: Iterable[Decimal], stakes: Iterable[Decimal],
                      ggr: Decimal, carried_in: Decimal) -> StatementFigures:
    """What one agent earned: ``deposits`` (each deposit's amount), ``stakes`` (each settled, not void
    bet's stake), ``ggr`` (stakes − payouts of the bets settled) and ``carried_in`` (the negative GGR
    left by the agent's previous statement, ≤ 0). The GGR share is of net = ggr + carried_in when that
    is positive (nothing carries on); otherwise the line is 0.00 and net carries on to the next period."""
    deposited, deposit_line = per_transaction_line(kind=Kind.DEPOSITS, amounts=deposits, rate=plan.deposit_rate,
                                                   floor=plan.deposit_floor, cap=plan.deposit_cap)
    staked, turnover_line = per_transaction_line(kind=Kind.TURNOVER, amounts=stakes, rate=plan.turnover_rate,
                                                 floor=plan.turnover_floor, cap=plan.turnover_cap)
    net = ggr + carried_in
    if net > 0:
        with localcontext(_EXACT):
            exact = net * plan.ggr_share
        ggr_line, carried_out = LineFigures(Kind.GGR, net, plan.ggr_share, floor_cent(exact)), ZERO
    else:
        ggr_line, carried_out = LineFigures(Kind.GGR, ZERO, plan.ggr_share, ZERO), net
    return StatementFigures(deposits=deposited, turnover=staked, ggr=ggr, carried_in=carried_in,
                            carried_out=carried_out, lines=(deposit_line, turnover_line, ggr_line))


# --- What the agent's players did -----------------------------------------------------------------

def agent_period_figures(*, agent: Any, plan: CommissionPlan, start: date, end: date,
                         carried_in: Decimal) -> StatementFigures:
    """The figures of ``agent``'s players (``User.agent``) over [start, end): their deposits (DEPOSIT
    transfers credited to their wallets, by ``created_at``), their bets settled in the period
    (``settled_at``; turnover leaves void bets out, GGR is betting.reports' stakes − payouts) and their
    casino rounds (each round's stake is turnover, as a bet's is; GGR adds stakes − payouts, by the
    ledger's CASINO_STAKE and CASINO_PAYOUT transfers of the period, as the GGR report's casino product)."""
    since, until = period_bounds(start, end)
    in_period = {"created_at__gte": since, "created_at__lt": until}
    deposits = (Transfer.objects.filter(kind=Transfer.Kind.DEPOSIT, credit_account__owner__agent=agent,
                                        credit_account__kind=Account.Kind.PLAYER, **in_period)
                .values_list("amount", flat=True).iterator(chunk_size=5000))
    settled = Bet.objects.filter(player__agent=agent, status=Bet.Status.SETTLED, settled_at__gte=since,
                                 settled_at__lt=until)
    casino_stakes = Transfer.objects.filter(kind=Transfer.Kind.CASINO_STAKE, debit_account__owner__agent=agent,
                                            **in_period).values_list("amount", flat=True)
    stakes = chain(settled.exclude(result=Bet.Result.VOID).values_list("stake", flat=True).iterator(chunk_size=5000),
                   casino_stakes.iterator(chunk_size=5000))
    ggr = ZERO
    for stake, payout in settled.values_list("stake", "payout").iterator(chunk_size=5000):
        ggr += stake - (payout or ZERO)
    casino_paid = Transfer.objects.filter(kind=Transfer.Kind.CASINO_PAYOUT, credit_account__owner__agent=agent,
                                          **in_period).aggregate(total=Sum("amount"))["total"] or ZERO
    ggr += (casino_stakes.aggregate(total=Sum("amount"))["total"] or ZERO) - casino_paid
    return statement_figures(plan=plan, deposits=deposits, stakes=stakes, ggr=ggr, carried_in=carried_in)


def _agents_with_players(actor: Actor) -> QuerySet:
    """The users some player names as agent, of the tenants ``actor`` sees (all, for a system actor)."""
    users = get_user_model().objects
    # visible_to(None), the system's, is every tenant (audit.tenancy)
    return users.filter(pk__in=users.filter(agent__isnull=False).values("agent_id")).visible_to(
        actor.user).order_by("pk")


def _plan_of(tenant_id: int) -> CommissionPlan:
    """The tenant's plan (a migration gives every tenant one; a tenant made without one gets the default)."""
    plan, _ = CommissionPlan.objects.get_or_create(tenant_id=tenant_id)
    return plan


def _carried_in(agent_id: int, start: date) -> Decimal:
    """The carried_out of the agent's latest statement that ends by ``start`` (whatever its status:
    the GGR happened), else 0.00."""
    previous = (CommissionStatement.objects.filter(agent_id=agent_id, period_end__lte=start)
                .order_by("-period_end", "-period_start").values_list("carried_out", flat=True).first())
    return previous if previous is not None else ZERO


# --- The run --------------------------------------------------------------------------------------

@retried_on_conflict
def commissions_run(*, start: Any, end: Any, actor: Actor, today: date | None = None,
                    on_overlap: str = "refuse") -> list[CommissionStatement]:
    """One statement per agent with players for [start, end), with its three lines; answers the
    period's statements of those agents, by agent id. The agents are those of every tenant for a
    system actor (the weekly task), a regulator or the platform admin, else those of the actor's
    tenant (``visible_to``): a tenant's staff never write another tenant's statements.

    An agent's statement already written for the period is returned as it is (running a period twice
    changes nothing). An agent with a statement that overlaps the period without being the same is
    never given a second one (one deposit or bet is paid once): with ``on_overlap="refuse"`` (the API)
    the whole run is refused, 409 ``commission_period_overlap``; with ``"skip"`` (the weekly task)
    those agents are left out and named in the audit row. Audited (one row a run, refusals too)."""
    with audited_transaction(actor=actor, action="commission.run", category=AuditLog.Category.COMPLIANCE,
                             resource_type="commission_period", resource_id=f"{start}/{end}",
                             details={"start": str(start), "end": str(end)}):
        first, after = commission_period_parse(start=start, end=end, today=today)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [RUN_LOCK])
        agents = list(_agents_with_players(actor))
        agent_ids = [agent.pk for agent in agents]
        existing = {s.agent_id: s for s in CommissionStatement.objects.filter(
            agent_id__in=agent_ids, period_start=first, period_end=after)}
        overlapping = list(CommissionStatement.objects.filter(
            agent_id__in=agent_ids, period_start__lt=after, period_end__gt=first,
        ).exclude(period_start=first, period_end=after).order_by("agent_id", "period_start")
            .values("agent_id", "period_start", "period_end"))
        in_the_way = [{"agent_id": o["agent_id"], "start": o["period_start"].isoformat(),
                       "end": o["period_end"].isoformat()} for o in overlapping]
        if in_the_way and on_overlap != "skip":
            raise Conflict("Some agents already have a statement for part of this period; run exactly that "
                           "period, or one that does not overlap it.", code="commission_period_overlap",
                           details={"statements": in_the_way[:20]})
        skipped = {o["agent_id"] for o in in_the_way}
        created = []
        for agent in agents:
            if agent.pk in existing or agent.pk in skipped:
                continue
            plan = _plan_of(agent.tenant_id)
            figures = agent_period_figures(agent=agent, plan=plan, start=first, end=after,
                                           carried_in=_carried_in(agent.pk, first))
            statement = CommissionStatement.objects.create(
                agent=agent, tenant_id=agent.tenant_id, period_start=first, period_end=after,
                deposits=figures.deposits, turnover=figures.turnover, ggr=figures.ggr,
                carried_in=figures.carried_in, carried_out=figures.carried_out, amount=figures.amount)
            CommissionLine.objects.bulk_create([
                CommissionLine(statement=statement, kind=line.kind, base=line.base, rate=line.rate,
                               amount=line.amount) for line in figures.lines])
            existing[agent.pk] = statement
            created.append(statement)
        audit_record(actor=actor, action="commission.run", category=AuditLog.Category.COMPLIANCE,
                     resource_type="commission_period", resource_id=f"{first}/{after}",
                     resource_label=f"{first} to {after}",
                     details={"start": first.isoformat(), "end": after.isoformat(),
                              "created": [s.pk for s in created],
                              "existing": sorted(s.pk for s in existing.values() if s not in created),
                              **({"skipped_overlapping": in_the_way[:100]} if in_the_way else {}),
                              "amount": str(sum((s.amount for s in created), ZERO))})
    return sorted(existing.values(), key=lambda s: s.agent_id)


# --- The decision ---------------------------------------------------------------------------------

def statements_of(actor: Actor) -> TenantQuerySet:
    """The statements ``actor`` may act on: a system actor (a task) every one, staff their tenant's
    (audit.tenancy), so another tenant's id is not found."""
    return CommissionStatement.objects.visible_to(actor.user)


def _reason(reason: Any) -> str:
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise InvalidInput("Say why the statement is decided.", code="reason_required", details={"field": "reason"})
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"Keep the reason to {REASON_MAX} characters.", code="invalid_request",
                           details={"field": "reason", "max_length": REASON_MAX})
    return reason


def _pending(statement_id: int, actor: Actor) -> CommissionStatement:
    statement = (statements_of(actor).select_for_update(of=("self",)).select_related("agent")
                 .filter(pk=statement_id).first())
    if statement is None:
        raise NotFound(f"No commission statement with id {statement_id}.",
                       details={"resource": "commission_statement", "id": statement_id})
    if statement.status != Status.PENDING:
        raise Conflict(f"This statement is {statement.status}; only a pending statement can be decided.",
                       code="commission_not_pending", details={"status": statement.status})
    return statement


def _decided(statement: CommissionStatement, *, status: str, reason: str, actor: Actor, verb: str) -> None:
    before = statement.status
    statement.status, statement.reason = status, reason
    statement.decided_by, statement.decided_at = actor.user, timezone.now()
    statement.save(update_fields=["status", "reason", "decided_by", "decided_at", "transfer"])
    audit_record(actor=actor, action=f"commission.{verb}", category=AuditLog.Category.COMPLIANCE,
                 resource_type="commission_statement", resource_id=statement.pk, resource_label=str(statement),
                 details={"before": before, "after": status, "reason": reason, "agent_id": statement.agent_id,
                          "amount": str(statement.amount),
                          "period": {"start": statement.period_start.isoformat(),
                                     "end": statement.period_end.isoformat()},
                          **({"transfer": statement.transfer.reference} if statement.transfer else {})})


def _statement_id(statement_id: Any) -> int:
    if isinstance(statement_id, bool) or not isinstance(statement_id, int) or not 1 <= statement_id <= BIGINT_MAX:
        raise NotFound("No such commission statement.", details={"resource": "commission_statement"})
    return statement_id


@retried_on_conflict
def commission_approve(*, statement_id: int, reason: Any, actor: Actor) -> CommissionStatement:
    """Approve a pending statement and pay it: one COMMISSION transfer, house commission pool → the
    agent's wallet, keyed by the statement (never twice); the statement is then ``paid``. A 0.00
    statement is ``approved`` with no transfer. Refusals: ``reason_required`` 400, ``not_found`` 404
    (another tenant's too), ``commission_not_pending`` 409."""
    with audited_transaction(actor=actor, action="commission.approve", category=AuditLog.Category.COMPLIANCE,
                             resource_type="commission_statement", resource_id=statement_id,
                             details={"reason": reason if isinstance(reason, str) else ""}):
        reason = _reason(reason)
        statement = _pending(_statement_id(statement_id), actor)
        status = Status.APPROVED
        if statement.amount > 0:
            wallet = wallet_lock(user=statement.agent)
            statement.transfer = transfer_create(
                debit=house_account(Account.House.COMMISSION), credit=wallet, amount=statement.amount,
                kind=Transfer.Kind.COMMISSION, reference_type="commission_statement", reference_id=statement.pk,
                idempotency_key=f"commission:{statement.pk}", created_by=actor.user,
                metadata={"reason": reason, "period_start": statement.period_start.isoformat(),
                          "period_end": statement.period_end.isoformat()})
            status = Status.PAID
        _decided(statement, status=status, reason=reason, actor=actor, verb="approve")
    return statement


def commission_reject(*, statement_id: int, reason: Any, actor: Actor) -> CommissionStatement:
    """Reject a pending statement: nothing is paid. Refusals as ``commission_approve``'s."""
    with audited_transaction(actor=actor, action="commission.reject", category=AuditLog.Category.COMPLIANCE,
                             resource_type="commission_statement", resource_id=statement_id,
                             details={"reason": reason if isinstance(reason, str) else ""}):
        reason = _reason(reason)
        statement = _pending(_statement_id(statement_id), actor)
        _decided(statement, status=Status.REJECTED, reason=reason, actor=actor, verb="reject")
    return statement


def commission_problems() -> list[str]:
    """ledger_check's invariant for commissions: every paid statement has one COMMISSION transfer of its
    amount from the commission pool to its agent's wallet, and every COMMISSION transfer pays one
    statement."""
    problems = []
    paid = {s.pk: s for s in CommissionStatement.objects.filter(Q(status=Status.PAID) | Q(transfer__isnull=False))
            .select_related("transfer__debit_account", "transfer__credit_account")}
    for statement in paid.values():
        transfer = statement.transfer
        if transfer is None or statement.status != Status.PAID:
            problems.append(f"commission statement {statement.pk}: status {statement.status} but transfer "
                            f"{transfer.reference if transfer else 'none'}")
            continue
        if (transfer.kind != Transfer.Kind.COMMISSION or transfer.amount != statement.amount
                or transfer.debit_account.code != f"house:{Account.House.COMMISSION}"
                or transfer.credit_account.owner_id != statement.agent_id):
            problems.append(f"commission statement {statement.pk}: paid {statement.amount} to agent "
                            f"{statement.agent_id} but {transfer.reference} moves {transfer.amount} "
                            f"({transfer.kind}) to {transfer.credit_account.code}")
    paying = set(CommissionStatement.objects.filter(transfer__isnull=False).values_list("transfer_id", flat=True))
    for entry_number, amount in (Transfer.objects.filter(kind=Transfer.Kind.COMMISSION)
                                 .exclude(entry_number__in=paying).values_list("entry_number", "amount")):
        problems.append(f"commission transfer {entry_number} ({amount}) pays no statement")
    return problems
