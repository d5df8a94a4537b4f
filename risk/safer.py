"""Safer gambling: the limits a player sets on themself, the time-out and the self-exclusion (API.md
"Responsible gambling"). A tighter limit applies at once; a looser one or a removal waits
``RG_COOLING_OFF_HOURS`` as a LimitChange the player may withdraw, and applies when it falls due
(``limit_changes_apply``, run by the beat and before the player's limits are read or changed). The
operator's limits still apply and the stricter wins. The rules that refuse stakes and deposits run in
the database (risk/sql.py), on every path that moves money."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction
from core.db import first_row
from core.errors import InvalidInput
from core.query import BIGINT_MAX
from ledger.models import Account
from ledger.services import money_validate
from risk.limits import restriction_lock
from risk.models import MINUTE_LIMITS, MINUTES_CEILING, PLAYER_LIMITS, LimitChange, PlayerRestriction
from risk.rules import PERIODS, player_only
from risk.sql import WALLET_TOTALS

TIME_OUT_DAYS = (1, 42)
SELF_EXCLUSION_MONTHS = (6, 12, 60)


@dataclass(frozen=True)
class PlayerLimits:
    """A player's own limits as they stand, what waits to loosen them, and what the rolling periods used."""

    values: dict[str, Decimal | int | None]
    pending: list[LimitChange]
    used: dict[str, dict[str, Decimal]]  # {"deposit": {"day": ..., "week": ..., "month": ...}, "loss": {...}}
    timed_out_until: datetime | None
    self_excluded_until: datetime | None


def limits_of(*, player: Any, now: datetime | None = None) -> PlayerLimits:
    now = now or timezone.now()
    limit_changes_apply(now=now, player_id=player.pk)
    return _as_they_stand(player, now)


def limits_set(*, player: Any, changes: Mapping[str, Any], actor: Actor,
               now: datetime | None = None) -> PlayerLimits:
    """Set any of the player's limits (a value, or None to remove one). Each tighter one applies at once
    (and withdraws a loosening of it that was waiting); each looser one or removal waits the cooling-off
    period, replacing one that was waiting. Setting a limit to its current value withdraws its pending
    change. Lower is tighter for every limit (a shorter reality-check interval checks more often)."""
    now = now or timezone.now()
    with audited_transaction(actor=actor, action="rg.limits_set", category=AuditLog.Category.COMPLIANCE,
                             resource_type="player", resource_id=player.pk,
                             details={"changes": _asked(changes)}):
        player_only(player)
        values = _limit_values(changes)
        restriction = restriction_lock(player_id=player.pk)
        _apply_due(restriction, now)
        applied, waiting = {}, {}
        for name, value in values.items():
            LimitChange.objects.filter(player=player, limit=name, status=LimitChange.Status.PENDING).update(
                status=LimitChange.Status.WITHDRAWN, resolved_at=now)
            if _at_least_as_tight(value, getattr(restriction, name)):
                setattr(restriction, name, value)
                applied[name] = _text(value)
            else:
                effective = now + timedelta(hours=settings.RG_COOLING_OFF_HOURS)
                LimitChange.objects.create(player=player, limit=name, value=value, requested_at=now,
                                           effective_at=effective, status=LimitChange.Status.PENDING)
                waiting[name] = {"value": _text(value), "effective_at": effective.isoformat()}
        restriction.save()
        audit_record(actor=actor, action="rg.limits_set", category=AuditLog.Category.COMPLIANCE,
                     resource_type="player", resource_id=player.pk, resource_label=player.get_username(),
                     details={"applied": applied, "pending": waiting})
    return _as_they_stand(player, now)


def limit_changes_apply(*, now: datetime | None = None, player_id: int | None = None) -> int:
    """Apply every loosening whose cooling-off has passed (one player's, or everyone's); the number applied."""
    now = now or timezone.now()
    due = LimitChange.objects.filter(status=LimitChange.Status.PENDING, effective_at__lte=now)
    if player_id is not None:
        due = due.filter(player_id=player_id)
    applied = 0
    for player in sorted(set(due.values_list("player_id", flat=True))):
        with transaction.atomic():
            restriction = PlayerRestriction.objects.select_for_update().get(player_id=player)
            applied += _apply_due(restriction, now)
    return applied


def time_out(*, player: Any, days: Any, actor: Actor, now: datetime | None = None) -> datetime:
    """A break of 1 to 42 days from now, at once. It cannot be shortened: asked for an earlier end while
    one runs, the later end stands (and is answered)."""
    with audited_transaction(actor=actor, action="rg.time_out", category=AuditLog.Category.COMPLIANCE,
                             resource_type="player", resource_id=player.pk, details={"days": str(days)[:40]}):
        player_only(player)
        count = _whole_number(days, field="days", minimum=TIME_OUT_DAYS[0], maximum=TIME_OUT_DAYS[1])
        return _commit_until(player, "timed_out_until", (now or timezone.now()) + timedelta(days=count),
                             action="rg.time_out", details={"days": count}, actor=actor)


def self_exclude(*, player: Any, months: Any, actor: Actor, now: datetime | None = None) -> datetime:
    """Exclusion for 6, 12 or 60 months from now, at once; no one (player or staff) shortens or lifts it."""
    with audited_transaction(actor=actor, action="rg.self_exclude", category=AuditLog.Category.COMPLIANCE,
                             resource_type="player", resource_id=player.pk, details={"months": str(months)[:40]}):
        player_only(player)
        count = _whole_number(months, field="months", minimum=min(SELF_EXCLUSION_MONTHS),
                              maximum=max(SELF_EXCLUSION_MONTHS))
        if count not in SELF_EXCLUSION_MONTHS:
            raise InvalidInput("months must be 6, 12 or 60.", code="invalid_request", details={"field": "months"})
        return _commit_until(player, "self_excluded_until", (now or timezone.now()) + relativedelta(months=count),
                             action="rg.self_exclude", details={"months": count}, actor=actor)


def _commit_until(player: Any, field: str, until: datetime, *, action: str, details: dict,
                  actor: Actor) -> datetime:
    """The break's end: ``until``, or the later end of one already running (inside the caller's transaction)."""
    restriction = restriction_lock(player_id=player.pk)
    current = getattr(restriction, field)
    if current is None or current < until:
        setattr(restriction, field, until)
        restriction.save(update_fields=[field])
    ends = getattr(restriction, field)
    audit_record(actor=actor, action=action, category=AuditLog.Category.COMPLIANCE, resource_type="player",
                 resource_id=player.pk, resource_label=player.get_username(),
                 details={**details, "until": ends.isoformat()})
    return ends


def _apply_due(restriction: PlayerRestriction, now: datetime) -> int:
    """The restriction's due loosenings, applied (the row is locked by the caller), each audited."""
    due = list(LimitChange.objects.filter(player_id=restriction.player_id, status=LimitChange.Status.PENDING,
                                          effective_at__lte=now).order_by("effective_at"))
    for change in due:
        value = change.limit_value
        setattr(restriction, change.limit, value)
        change.status, change.resolved_at = LimitChange.Status.APPLIED, now
        change.save(update_fields=["status", "resolved_at"])
        audit_record(actor=Actor.system("rg_cooling_off"), action="rg.limit_loosened",
                     category=AuditLog.Category.COMPLIANCE, resource_type="player",
                     resource_id=restriction.player_id,
                     details={"limit": change.limit, "value": _text(value),
                              "requested_at": change.requested_at.isoformat()})
    if due:
        restriction.save(update_fields=[change.limit for change in due])
    return len(due)


def _asked(changes: Any) -> dict[str, str]:
    """What was asked, as the refusal's audit row keeps it (cut short: the body is the client's)."""
    items = changes.items() if isinstance(changes, Mapping) else []
    return {str(name)[:40]: str(value)[:40] for name, value in list(items)[:len(PLAYER_LIMITS) + 1]}


def _limit_values(changes: Mapping[str, Any]) -> dict[str, Decimal | int | None]:
    if not isinstance(changes, Mapping) or not changes:
        raise InvalidInput(f"Send at least one of: {', '.join(PLAYER_LIMITS)}.", code="invalid_request",
                           details={"field": "limits"})
    unknown = sorted(str(name)[:40] for name in changes if name not in PLAYER_LIMITS)
    if unknown:
        raise InvalidInput(f"Unknown limit: {unknown[0]}.", code="invalid_request", details={"field": unknown[0]})
    values: dict[str, Decimal | int | None] = {}
    for name, raw in changes.items():
        if raw is None:
            values[name] = None
        elif name in MINUTE_LIMITS:
            values[name] = _whole_number(raw, field=name, minimum=1, maximum=MINUTES_CEILING)
        else:
            values[name] = money_validate(raw, field=name)
    return values


def _whole_number(value: Any, *, field: str, minimum: int, maximum: int) -> int:
    """A JSON whole number (or ASCII digits) from ``minimum`` to ``maximum``; never a float or a bool."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= len(str(BIGINT_MAX)):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise InvalidInput(f"{field} must be a whole number from {minimum} to {maximum}.", code="invalid_request",
                           details={"field": field})
    return value


def _at_least_as_tight(value: Decimal | int | None, current: Decimal | int | None) -> bool:
    return value is not None and (current is None or value <= current)


def _text(value: Decimal | int | None) -> str | None:
    return None if value is None else str(value)


def _as_they_stand(player: Any, now: datetime) -> PlayerLimits:
    restriction = first_row(PlayerRestriction, player_id=player.pk)
    pending = list(LimitChange.objects.filter(player_id=player.pk, status=LimitChange.Status.PENDING)
                   .order_by("effective_at", "limit"))
    totals = _wallet_totals(player, now)
    return PlayerLimits(
        values={name: getattr(restriction, name) if restriction else None for name in PLAYER_LIMITS},
        pending=pending,
        used={"deposit": {period: totals[f"deposit_{period}"] for period in PERIODS},
              "loss": {period: totals[f"loss_{period}"] for period in PERIODS}},
        timed_out_until=restriction.timed_out_until if restriction else None,
        self_excluded_until=restriction.self_excluded_until if restriction else None,
    )


def _wallet_totals(player: Any, now: datetime) -> dict[str, Decimal]:
    """What the player's wallet deposited and lost in each rolling period (risk/sql.py, the figures the
    rules refuse by); nothing for a player without a wallet yet."""
    wallet = first_row(Account, owner_id=player.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {WALLET_TOTALS}(%s, %s)", [wallet.pk if wallet else None, now])
        names = [column.name for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))
