"""The liquidity audit: each escrow vault must hold exactly the stakes of the challenges it holds
(DESIGN.md "Peer-to-peer challenges and wallet gateways", API.md ``GET /api/v1/escrow/audit``).

Per gateway, what the vault holds as that gateway reports it (``escrow_balance()``) is compared with
what the platform's books say it must hold: the stakes confirmed into escrow of the ``open``,
``matching`` and ``matched`` challenges on that side, plus what is on its way out of the vault and
not yet confirmed by the external service (a payout or refund still leaves it there), less what the
platform's own pocket is sending in and has not arrived. The ledger's mirror of the external vault
(house ``escrow_external``) must equal the vault.

It runs before every payout batch and every minute (beat). A mismatch stops payouts (the batch does
nothing, the challenges wait) and, once per episode, writes a critical compliance audit record and
notifies staff; payouts resume by themselves when a later run balances again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q, Sum
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
    """Per gateway: the held challenges' confirmed stakes, plus payouts and refunds on their way out,
    less the platform's own top-ups on their way in (pending players' stakes are not held yet)."""
    expected = {name: ZERO for name in Gateway.values}
    held = Challenge.objects.filter(status__in=Challenge.HELD)
    for row in held.values("creator_funding").annotate(total=Sum("stake")).order_by():
        expected[row["creator_funding"]] += row["total"]
    matched = held.filter(status=Challenge.Status.MATCHED)
    for row in matched.values("acceptor_funding").annotate(total=Sum("stake")).order_by():
        expected[row["acceptor_funding"]] += row["total"]
    in_flight = GatewayTransfer.objects.filter(status=GatewayTransfer.Status.PENDING).filter(
        Q(direction=GatewayTransfer.Direction.OUT) | ~Q(purpose="stake"))
    for row in in_flight.values("gateway", "direction").annotate(total=Sum("amount")).order_by():
        sign = 1 if row["direction"] == GatewayTransfer.Direction.OUT else -1
        expected[row["gateway"]] += sign * row["total"]
    return expected


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

