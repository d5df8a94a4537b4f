"""The only writers of audit records and notifications."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.context import Actor, role_of
from audit.models import AuditLog, Notification
from core import live
from core.db import insert_values, instance
from core.errors import DomainError


def audit_record(
    *,
    actor: Actor,
    action: str,
    category: str,
    resource_type: str = "",
    resource_id: Any = "",
    resource_label: str = "",
    details: dict[str, Any] | None = None,
    severity: str = AuditLog.Severity.INFO,
    outcome: str = AuditLog.Outcome.SUCCESS,
) -> AuditLog:
    """Write one audit row in the caller's transaction, so it commits with the change it describes."""
    entry = audit_entry(actor=actor, action=action, category=category, resource_type=resource_type,
                        resource_id=resource_id, resource_label=resource_label, details=details,
                        severity=severity, outcome=outcome)
    entry["id"] = insert_values(AuditLog, [entry])[0]
    return instance(AuditLog, entry)


def audit_records(entries: list[dict[str, Any]]) -> list[int]:
    """Write a batch's audit rows (each built by ``audit_entry``) in one insert, in the caller's
    transaction; their ids. Settlement writes a thousand at a time."""
    return insert_values(AuditLog, entries)


def audit_entry(
    *, actor: Actor, action: str, category: str, resource_type: str = "", resource_id: Any = "",
    resource_label: str = "", details: dict[str, Any] | None = None,
    severity: str = AuditLog.Severity.INFO, outcome: str = AuditLog.Outcome.SUCCESS,
) -> dict[str, Any]:
    """An unsaved audit row as column values; batch writers (settlement) insert many at once with
    ``insert_values``."""
    now = timezone.now()
    actor_id, label, role, ip, user_agent = actor.audit_columns()
    return {
        "actor_id": actor_id,
        "actor_label": label,
        "actor_role": role,
        "ip_address": ip,
        "user_agent": user_agent,
        "action": action,
        "resource_type": resource_type,
        "resource_id": str(resource_id),
        "resource_label": resource_label[:200],
        "details": details or {},
        "severity": severity,
        "category": category,
        "outcome": outcome,
        "created_at": now,
        "expires_at": now + AuditLog.RETENTION[category],
    }


@contextmanager
def audited_transaction(
    *, actor: Actor, action: str, category: str, resource_type: str = "", resource_id: Any = "",
    details: dict[str, Any] | None = None,
) -> Iterator[None]:
    """Run the block in a transaction; if it raises a refusal, roll it back and audit the refusal.

    The refusal row is written after the rollback, on its own, so a refused action leaves no trace
    but its audit record (issue: "refused actions are recorded too, in their own transaction").
    """
    if actor.user is not None:
        role_of(actor.user)  # read (and kept on the user) now, not inside the locks the block takes
    try:
        with transaction.atomic():
            yield
    except DomainError as refusal:
        audit_record(
            actor=actor, action=action, category=category, resource_type=resource_type,
            resource_id=resource_id,
            details=bounded_details({**(details or {}), "error": refusal.code, "message": refusal.message,
                                     **refusal.details}),
            severity=AuditLog.Severity.WARNING, outcome=AuditLog.Outcome.REFUSED,
        )
        raise


# A refusal's row copies what the client sent (a slip's selections, its stake): each text, list and
# object is cut to these, and the whole to DETAILS_MAX_CHARS, so a 5 MB slip refused is no 5 MB row.
DETAILS_MAX_TEXT = 500
DETAILS_MAX_ITEMS = 100
DETAILS_MAX_CHARS = 32_000
DETAILS_MAX_DEPTH = 8


def bounded_details(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` with long texts, lists and objects cut, each cut marked with what was left out."""
    kept = _bounded(details)
    if len(json.dumps(kept, default=str)) <= DETAILS_MAX_CHARS:
        return kept
    # Still too big (many long items): keep the refusal's code and sentence, and say how much was cut.
    return {**{k: kept[k] for k in ("error", "message") if k in kept},
            "details_cut": f"{len(json.dumps(kept, default=str))} characters of details not kept"}


def _bounded(value: Any, depth: int = 0) -> Any:
    if depth > DETAILS_MAX_DEPTH and isinstance(value, list | tuple | dict):
        return "…[nested deeper]"
    if isinstance(value, str):
        cut = len(value) - DETAILS_MAX_TEXT
        return value if cut <= 0 else f"{value[:DETAILS_MAX_TEXT]}…[{cut} more characters]"
    if isinstance(value, list | tuple):
        kept = [_bounded(item, depth + 1) for item in value[:DETAILS_MAX_ITEMS]]
        cut = len(value) - DETAILS_MAX_ITEMS
        return kept if cut <= 0 else [*kept, f"…[{cut} more items]"]
    if isinstance(value, dict):
        items = list(value.items())
        kept = {_bounded(str(k)): _bounded(v, depth + 1) for k, v in items[:DETAILS_MAX_ITEMS]}
        cut = len(items) - DETAILS_MAX_ITEMS
        return kept if cut <= 0 else {**kept, "…": f"{cut} more keys"}
    return value


def notification_create(
    *, kind: str, message: str, user: Any = None, data: dict[str, Any] | None = None
) -> Notification:
    audience = Notification.Audience.PLAYER if user is not None else Notification.Audience.STAFF
    notification = Notification.objects.create(user=user, audience=audience, kind=kind, message=message,
                                               data=data or {})
    notification_push(notification)
    return notification


def player_notifications_create(*, kind: str, rows: list[tuple[int, str, dict[str, Any]]]) -> list[tuple[int, dict]]:
    """A batch of player notifications of one kind, ``(user_id, message, data)`` each, in one insert in
    the caller's transaction; answers their socket messages ``(user_id, payload)``, for the caller to
    send after commit with its own (one publish per batch)."""
    insert_values(Notification, [{"user_id": user_id, "audience": Notification.Audience.PLAYER, "kind": kind,
                                  "message": message, "data": data} for user_id, message, data in rows])
    return [(user_id, notification_message(kind=kind, message=message, data=data)) for user_id, message, data in rows]


def notification_message(*, kind: str, message: str, data: dict[str, Any]) -> dict[str, Any]:
    """A notification's socket message (a batch writer has its fields as column values, not a Notification)."""
    return {"type": "notification", "kind": kind, "message": message, **({"data": data} if data else {})}


def notification_push(notification: Notification) -> None:
    """Send a notification to its player's or staff's sockets once it has committed."""
    message = notification_message(kind=notification.kind, message=notification.message, data=notification.data)
    if notification.user_id:
        live.to_user(notification.user_id, message)
    else:
        live.to_staff(message)
