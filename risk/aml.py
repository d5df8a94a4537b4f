"""Transaction monitoring (API.md "Compliance"): five rules over deposits, withdrawals and registrations,
the alerts they raise and the alerts' workflow (open → investigating → closed with a reason).

A rule takes facts and answers what it found; a check reads a deposit's, a withdrawal's or a
registration's facts, runs its rules and raises one alert per rule and reference. Checks run in the
worker once the money moved (queued on commit by the wallet and by registration): a rule never blocks
anyone, compliance acts on the alert. A rule over a window (velocity, structuring, shared address) is
raised by the event that takes the window to its threshold, so a window crossed once raises once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction
from core.errors import Conflict, InvalidInput, NotFound
from core.query import query_int
from ledger.models import Transfer
from risk.models import AmlAlert
from risk.sql import STAKE_KINDS

Rule = AmlAlert.Rule
Status = AmlAlert.Status

WINDOW = timedelta(hours=24)
SEVERITY = {Rule.LARGE_DEPOSIT: AmlAlert.Severity.MEDIUM, Rule.DEPOSIT_VELOCITY: AmlAlert.Severity.MEDIUM,
            Rule.STRUCTURING: AmlAlert.Severity.HIGH, Rule.LOW_TURNOVER_WITHDRAWAL: AmlAlert.Severity.HIGH,
            Rule.SHARED_IP: AmlAlert.Severity.MEDIUM}
SYSTEM = Actor.system("aml")

# By name: risk.tasks imports this module.
CHECK_TASKS = {Transfer.Kind.DEPOSIT: "risk.tasks.aml_check_deposit_task",
               Transfer.Kind.WITHDRAWAL: "risk.tasks.aml_check_withdrawal_task"}
REGISTRATION_CHECK_TASK = "risk.tasks.aml_check_registration_task"


def _decimal(name: str) -> Decimal:
    return Decimal(getattr(settings, name))


@dataclass(frozen=True)
class Finding:
    rule: str
    details: dict[str, Any]


# --- The rules ----------------------------------------------------------------------------------

def large_deposit(*, amount: Decimal) -> Finding | None:
    """One deposit of ``AML_LARGE_DEPOSIT`` or more."""
    threshold = _decimal("AML_LARGE_DEPOSIT")
    if amount < threshold:
        return None
    return Finding(Rule.LARGE_DEPOSIT, {"amount": str(amount), "threshold": str(threshold)})


def deposit_velocity(*, amount: Decimal, earlier: list[Decimal]) -> Finding | None:
    """The deposits of 24 h (``earlier`` and this one) reaching ``AML_DAILY_DEPOSITS``; raised by the
    deposit that reaches it."""
    threshold = _decimal("AML_DAILY_DEPOSITS")
    before = sum(earlier, Decimal("0.00"))
    if not before < threshold <= before + amount:
        return None
    return Finding(Rule.DEPOSIT_VELOCITY, {"deposited_24h": str(before + amount), "deposits": len(earlier) + 1,
                                           "threshold": str(threshold)})


def structuring(*, amount: Decimal, earlier: list[Decimal]) -> Finding | None:
    """``AML_STRUCTURING_COUNT`` deposits in 24 h each just under the large-deposit threshold, in
    [large × (1 − ``AML_STRUCTURING_BAND``), large): amounts chosen to stay under it. Raised by the
    deposit that makes the count."""
    large, count = _decimal("AML_LARGE_DEPOSIT"), settings.AML_STRUCTURING_COUNT
    low = large * (1 - _decimal("AML_STRUCTURING_BAND"))
    in_band = [a for a in [*earlier, amount] if low <= a < large]
    if not (low <= amount < large and len(in_band) == count):
        return None
    return Finding(Rule.STRUCTURING, {"amounts": [str(a) for a in in_band], "band_from": str(low),
                                      "band_below": str(large), "count": count})


def low_turnover_withdrawal(*, amount: Decimal, last_deposit: Decimal | None, staked: Decimal) -> Finding | None:
    """A withdrawal of ``AML_LOW_TURNOVER_WITHDRAWAL`` or more while the stakes since the last deposit
    are under ``AML_LOW_TURNOVER_SHARE`` of it: money passed through the wallet barely played."""
    threshold = _decimal("AML_LOW_TURNOVER_WITHDRAWAL")
    if last_deposit is None or amount < threshold:
        return None
    required = last_deposit * _decimal("AML_LOW_TURNOVER_SHARE")
    if staked >= required:
        return None
    return Finding(Rule.LOW_TURNOVER_WITHDRAWAL, {
        "amount": str(amount), "last_deposit": str(last_deposit), "staked_since": str(staked),
        "stakes_expected": str(required), "threshold": str(threshold)})


def shared_ip(*, ip: str, user_ids: list[int]) -> Finding | None:
    """``AML_SHARED_IP_ACCOUNTS`` accounts registered from one address within 24 h (``user_ids``, this
    one last); raised by the registration that makes the count."""
    count = settings.AML_SHARED_IP_ACCOUNTS
    if len(user_ids) != count:
        return None
    return Finding(Rule.SHARED_IP, {"ip": ip, "user_ids": user_ids, "count": count})


# --- The checks ---------------------------------------------------------------------------------

def aml_transfer_check_queue(*, transfer: Transfer) -> None:
    """Check a deposit or a withdrawal in the worker once the caller's transaction commits. robust:
    with the broker down the money still moves (a rule never blocks), and the failure is logged."""
    task = CHECK_TASKS[transfer.kind]
    transaction.on_commit(lambda: current_app.send_task(task, args=[transfer.pk]), robust=True)


def aml_registration_check_queue(*, user_id: int) -> None:
    transaction.on_commit(lambda: current_app.send_task(REGISTRATION_CHECK_TASK, args=[user_id]), robust=True)


def aml_check_deposit(transfer_id: int) -> list[AmlAlert]:
    """The deposit rules on one deposit, over the wallet's deposits of the 24 h up to it; the alerts
    raised now (none when run again)."""
    deposit = _transfer(transfer_id, Transfer.Kind.DEPOSIT)
    if deposit is None:
        return []
    earlier = list(Transfer.objects.filter(
        credit_account_id=deposit.credit_account_id, kind=Transfer.Kind.DEPOSIT,
        entry_number__lt=deposit.entry_number, created_at__gt=deposit.created_at - WINDOW,
    ).values_list("amount", flat=True))
    findings = [large_deposit(amount=deposit.amount),
                deposit_velocity(amount=deposit.amount, earlier=earlier),
                structuring(amount=deposit.amount, earlier=earlier)]
    return _alerts_raise(deposit.credit_account.owner_id, deposit.reference, findings,
                         transfer=deposit.reference)


def aml_check_withdrawal(transfer_id: int) -> list[AmlAlert]:
    """The low-turnover rule on one withdrawal: the stakes (risk.sql.STAKE_KINDS out of the wallet)
    between the wallet's last deposit before it and it."""
    withdrawal = _transfer(transfer_id, Transfer.Kind.WITHDRAWAL)
    if withdrawal is None:
        return []
    wallet_id = withdrawal.debit_account_id
    deposit = (Transfer.objects.filter(credit_account_id=wallet_id, kind=Transfer.Kind.DEPOSIT,
                                       entry_number__lt=withdrawal.entry_number)
               .order_by("-entry_number").first())
    staked = Decimal("0.00")
    if deposit is not None:
        staked = Transfer.objects.filter(
            debit_account_id=wallet_id, kind__in=STAKE_KINDS,
            entry_number__gt=deposit.entry_number, entry_number__lt=withdrawal.entry_number,
        ).aggregate(staked=Sum("amount"))["staked"] or staked
    found = low_turnover_withdrawal(amount=withdrawal.amount, last_deposit=deposit.amount if deposit else None,
                                    staked=staked)
    extra = {"transfer": withdrawal.reference, **({"last_deposit_transfer": deposit.reference} if deposit else {})}
    return _alerts_raise(withdrawal.debit_account.owner_id, withdrawal.reference, [found], **extra)


def aml_check_registration(user_id: int) -> list[AmlAlert]:
    """The shared-address rule on one registration: the accounts registered from its address in the
    24 h up to it. The alert is the newest account's, its reference the address and that account."""
    user = get_user_model().objects.filter(pk=user_id).only("pk", "registration_ip", "date_joined").first()
    if user is None or not user.registration_ip:
        return []
    user_ids = list(get_user_model().objects.filter(
        registration_ip=user.registration_ip, pk__lte=user.pk, date_joined__gt=user.date_joined - WINDOW,
    ).order_by("pk").values_list("pk", flat=True))
    found = shared_ip(ip=user.registration_ip, user_ids=user_ids)
    return _alerts_raise(user.pk, f"ip:{user.registration_ip}:user:{user.pk}", [found])


def _transfer(transfer_id: int, kind: str) -> Transfer | None:
    return Transfer.objects.select_related("credit_account", "debit_account").filter(
        pk=transfer_id, kind=kind).first()


def _alerts_raise(user_id: int, reference: str, findings: list[Finding | None], **extra: Any) -> list[AmlAlert]:
    """One alert per finding, unless its rule already raised one for ``reference`` (a check run twice,
    or by two workers at once: the unique (rule, reference) makes the second wait and find the first).
    Each new alert is audited with it."""
    raised = []
    for finding in filter(None, findings):
        now = timezone.now()
        with transaction.atomic():
            alert, created = AmlAlert.objects.get_or_create(
                rule=finding.rule, reference=reference,
                defaults={"user_id": user_id, "severity": SEVERITY[finding.rule],
                          "details": {**finding.details, **extra}, "created_at": now, "updated_at": now})
            if created:
                audit_record(actor=SYSTEM, action="aml_alert.raise", category=AuditLog.Category.COMPLIANCE,
                             resource_type="aml_alert", resource_id=alert.pk, resource_label=str(alert),
                             details={"rule": alert.rule, "user_id": user_id, "reference": reference,
                                      "severity": alert.severity, **alert.details},
                             severity=AuditLog.Severity.WARNING)
                raised.append(alert)
    return raised


# --- The workflow -------------------------------------------------------------------------------

# The one status each moves on to; closed is final.
NEXT = {Status.OPEN: Status.INVESTIGATING, Status.INVESTIGATING: Status.CLOSED, Status.CLOSED: None}
REASON_MAX = AmlAlert._meta.get_field("closed_reason").max_length
# What compliance may ask for, and the audit action's verb for each.
STEPS = {Status.INVESTIGATING: "investigate", Status.CLOSED: "close"}


def aml_alert_update(*, alert_id: int, status: str, reason: str, actor: Actor) -> AmlAlert:
    """Move an alert on: open → investigating → closed. Closing needs a reason, kept on the alert;
    each step (and each refusal) is audited."""
    reason = (reason or "").strip()
    verb = STEPS.get(status, "update")
    with audited_transaction(actor=actor, action=f"aml_alert.{verb}", category=AuditLog.Category.COMPLIANCE,
                             resource_type="aml_alert", resource_id=alert_id,
                             details={"status": str(status), "reason": reason}):
        if status not in STEPS:
            raise InvalidInput(f"status must be one of {', '.join(STEPS)}.", code="invalid_request",
                               details={"field": "status"})
        if len(reason) > REASON_MAX:
            raise InvalidInput(f"Keep the reason to {REASON_MAX} characters.", code="invalid_request",
                               details={"field": "reason"})
        if status == Status.CLOSED and not reason:
            raise InvalidInput("Say why the alert is closed.", code="reason_required", details={"field": "reason"})
        alert = AmlAlert.objects.visible_to(actor.user).select_for_update(of=("self",)).filter(pk=alert_id).first()
        if alert is None:
            raise NotFound(f"No AML alert with id {alert_id}.", details={"resource": "aml_alert", "id": alert_id})
        if status != NEXT[alert.status]:
            raise Conflict(f"This alert is {alert.status}; it cannot move to {status}.", code="invalid_alert_state",
                           details={"status": alert.status, "requested": status})
        before = alert.status
        alert.status, alert.updated_at = status, timezone.now()
        if status == Status.CLOSED:
            alert.closed_reason = reason
        alert.save(update_fields=["status", "updated_at", "closed_reason"])
        audit_record(actor=actor, action=f"aml_alert.{verb}", category=AuditLog.Category.COMPLIANCE,
                     resource_type="aml_alert", resource_id=alert.pk, resource_label=str(alert),
                     details={"before": before, "after": status, "reason": reason, "rule": alert.rule,
                              "user_id": alert.user_id})
    return alert


# --- Reading ------------------------------------------------------------------------------------

def aml_alert_list(*, filters: dict[str, Any], viewer: Any) -> QuerySet[AmlAlert]:
    """The alerts ``viewer`` may see (audit.tenancy), newest first, narrowed by status, rule and user id; a
    value that is none of them is a 400."""
    alerts = AmlAlert.objects.visible_to(viewer)
    for field, choices in (("status", Status.values), ("rule", Rule.values)):
        if value := filters.get(field):
            if value not in choices:
                raise InvalidInput(f"{field} must be one of {', '.join(choices)}.", code="invalid_request",
                                   details={"field": field})
            alerts = alerts.filter(**{field: value})
    if (user_id := query_int(filters.get("user"), field="user", minimum=1)) is not None:
        alerts = alerts.filter(user_id=user_id)
    return alerts.order_by("-created_at", "-id")


AML_ALERT_COLUMNS = ["id", "created_at", "rule", "severity", "status", "user_id", "user", "reference", "details",
                     "updated_at", "closed_reason"]


def aml_alert_export_rows(*, filters: dict[str, Any], viewer: Any) -> Iterator[AmlAlert]:
    """The list's alerts for the CSV export, read in chunks."""
    return aml_alert_list(filters=filters, viewer=viewer).select_related("user").iterator(chunk_size=2000)


def aml_alert_row(alert: AmlAlert) -> list[Any]:
    return [alert.pk, alert.created_at.isoformat(), alert.rule, alert.severity, alert.status, alert.user_id,
            alert.user.get_username(), alert.reference, json.dumps(alert.details, sort_keys=True),
            alert.updated_at.isoformat(), alert.closed_reason]
