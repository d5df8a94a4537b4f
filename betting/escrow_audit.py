"""The liquidity audit: each escrow vault must hold exactly the stakes of the challenges it holds
(DESIGN.md "Peer-to-peer challenges and wallet gateways", API.md ``GET /api/v1/escrow/audit``).

Per gateway, what the vault holds as that gateway reports it (``escrow_balance()``) is compared with
what the platform's books say it must hold: the stakes confirmed into escrow of the ``open``,
``matching`` and ``matched`` challenges on that side, plus the money of decided challenges still on
its way out (the external service confirms later: a payout or refund still leaves it in the vault).
The ledger's mirror of the external vault (house ``escrow_external``) must equal the vault.

It runs before every payout batch, operator void or retry, cancel and expiry refund, and every
minute (beat). A mismatch stops payouts (the batch does nothing, the challenges wait, a cancel is
refused, an expiry's refund is queued) and, once per episode, writes a critical compliance audit record and
notifies staff; payouts resume by themselves when a later run balances again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, CharField, F, Q, Sum, When
from django.db.models.functions import Cast
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record, notification_create
from betting.models import Challenge, EscrowAudit
from ledger.models import Account
from ledger.selectors import snapshot_read
from ledger.services import house_account
from wallet.gateways import wallet_gateway
from wallet.models import Gateway, GatewayTransfer

ZERO = Decimal("0.00")
# Serialises the recording of audit runs, so two runs at once raise one alert, not two.
_RECORD_LOCK = 0x0E5C_A0D1


@dataclass(frozen=True)
class EscrowFigures:
    checked_at: object
    vault: dict[str, Decimal]  # gateway name → what its vault holds, as the gateway reports it
    expected: dict[str, Decimal]  # gateway name → what the platform's books say it must hold
    mirror_external: Decimal  # the ledger's house escrow_external

    @property
    def difference(self) -> dict[str, Decimal]:
        return {name: self.vault[name] - self.expected[name] for name in self.vault}

    @property
    def problems(self) -> list[str]:
        found = [f"escrow {name}: the vault holds {self.vault[name]} but challenges need {self.expected[name]}"
                 for name in self.vault if self.vault[name] != self.expected[name]]
        if self.mirror_external != self.vault[Gateway.EXTERNAL]:
            found.append(f"escrow external: the ledger mirror holds {self.mirror_external} but the vault "
                         f"{self.vault[Gateway.EXTERNAL]}")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems


def escrow_expected() -> dict[str, Decimal]:
    """Per gateway: the confirmed stakes of the held challenges (by their status), plus, for each
    decided challenge with a movement still pending or its money waiting (``money_waiting``: a refund
    queued behind this audit, a movement out that failed every retry), what its confirmed movements
    left in the vault (in less out): a payout or refund on its way out of the external vault is still
    in it. Money of any other decided challenge is not expected anywhere: left in a vault, it is a
    mismatch."""
    # One pass over the held challenges (an index-only scan of challenge_held_idx), not one per side.
    held = Challenge.objects.filter(status__in=Challenge.HELD)
    matched = Q(status=Challenge.Status.MATCHED)
    sums = held.aggregate(**{f"creator_{name}": Sum("stake", filter=Q(creator_funding=name))
                             for name in Gateway.values},
                          **{f"acceptor_{name}": Sum("stake", filter=matched & Q(acceptor_funding=name))
                             for name in Gateway.values})
    expected = {name: (sums[f"creator_{name}"] or ZERO) + (sums[f"acceptor_{name}"] or ZERO) for name in Gateway.values}
    # The decided challenges with money on its way (a pending movement) or waiting: a handful, found
    # first through their indexes, so the confirmed movements are read by reference, not by a scan of
    # every movement ever made (which grew by two per settled challenge). Two reads, not one with an
    # OR: the OR of the two conditions made PostgreSQL scan every challenge ever, before every batch.
    challenge_moves = GatewayTransfer.objects.filter(reference_type="challenge")
    in_flight = challenge_moves.filter(status=GatewayTransfer.Status.PENDING) \
        .annotate(challenge_id=Cast("reference_id", BigIntegerField())).values("challenge_id")
    decided = Challenge.objects.exclude(status__in=Challenge.HELD)
    references = {*_references(decided.filter(pk__in=in_flight)).values_list("reference", flat=True),
                  *_references(decided.exclude(money_waiting=Challenge.Waiting.NOTHING))
                  .values_list("reference", flat=True)}
    on_their_way = challenge_moves.filter(reference_id__in=sorted(references),
                                          status=GatewayTransfer.Status.CONFIRMED)
    net = Case(When(direction=GatewayTransfer.Direction.IN, then=F("amount")), default=-F("amount"))
    for row in on_their_way.values("gateway").annotate(total=Sum(net)).order_by():
        expected[row["gateway"]] += row["total"]
    return expected


def _references(challenges):
    return challenges.annotate(reference=Cast("pk", CharField())).values("reference")


def escrow_figures() -> EscrowFigures:
    """The vaults and the books, read in one snapshot (the caller's transaction, if it holds one)."""
    with snapshot_read():
        return EscrowFigures(
            checked_at=timezone.now(),
            vault={name: wallet_gateway(name).escrow_balance() for name in Gateway.values},
            expected=escrow_expected(),
            mirror_external=house_account(Account.House.ESCROW_EXTERNAL).balance)


def escrow_problems() -> list[str]:
    """The audit as a ledger_check invariant (registered from BettingConfig.ready)."""
    return escrow_figures().problems


def escrow_audit_run() -> EscrowAudit:
    """Run the audit and record it; the first mismatch of an episode raises the critical alert, the
    first balanced run after one records that payouts resume."""
    figures = escrow_figures()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_RECORD_LOCK])
        last = EscrowAudit.objects.order_by("-id").first()
        run = EscrowAudit.objects.create(
            checked_at=figures.checked_at, ok=figures.ok, problems=figures.problems,
            vault_internal=figures.vault[Gateway.INTERNAL], vault_external=figures.vault[Gateway.EXTERNAL],
            expected_internal=figures.expected[Gateway.INTERNAL],
            expected_external=figures.expected[Gateway.EXTERNAL], mirror_external=figures.mirror_external)
        was_ok = last is None or last.ok
        if was_ok != run.ok:
            _episode_record(run)
    return run


def escrow_balanced(*, recorded: bool = False) -> bool:
    """The gate before money leaves escrow (settlement batches, operator voids and retries, cancels,
    expiry refunds): the audit, run and recorded now; call it before taking row locks, it reads in a
    snapshot of its own. ``recorded``: the last recorded run's verdict instead (a stake confirming
    after its challenge expired: inside the confirming transaction, which must not wait for the audit)."""
    if recorded:
        last = EscrowAudit.objects.order_by("-id").values_list("ok", flat=True).first()
        return last is not False
    return escrow_audit_run().ok


def escrow_audits_prune(*, now: Any = None) -> int:
    """Delete the routine balanced runs older than ``ESCROW_AUDIT_RETENTION_DAYS``; every failed run
    and the balanced runs either side of a change (the last before a mismatch, the first after it)
    are kept. The number deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.ESCROW_AUDIT_RETENTION_DAYS)
    table = EscrowAudit._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""DELETE FROM {table} WHERE id IN (
                    SELECT id FROM (SELECT id, ok, checked_at, lag(ok) OVER (ORDER BY id) AS before,
                                           lead(ok) OVER (ORDER BY id) AS after FROM {table}) runs
                    WHERE ok AND checked_at < %s AND before IS NOT FALSE AND after IS NOT FALSE)""",
            [cutoff])
        return cursor.rowcount


def _episode_record(run: EscrowAudit) -> None:
    details = {"escrow_audit_id": run.pk, "problems": run.problems,
               "difference": {"internal": str(run.difference_internal), "external": str(run.difference_external)}}
    if run.ok:
        audit_record(actor=Actor.system("escrow_audit"), action="escrow.balanced",
                     category=AuditLog.Category.COMPLIANCE, resource_type="escrow_audit", resource_id=run.pk,
                     details=details)
        notification_create(kind="escrow_balanced", data=details,
                            message="Escrow balances again: challenge payouts resume.")
        return
    audit_record(actor=Actor.system("escrow_audit"), action="escrow.mismatch",
                 category=AuditLog.Category.COMPLIANCE, resource_type="escrow_audit", resource_id=run.pk,
                 details=details, severity=AuditLog.Severity.CRITICAL, outcome=AuditLog.Outcome.ERROR)
    notification_create(kind="escrow_mismatch", data=details,
                        message=f"Escrow does not balance, challenge payouts are stopped: {run.problems[0]}")

