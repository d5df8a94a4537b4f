"""Tenants (white-label operators): creating one with its commission plan and its limit profile, and
reading them (API.md "Tenants, agents, commissions, bonuses"; docs/tenants.md).

A tenant is three rows written together: the ``accounts.Tenant`` itself, its ``CommissionPlan`` (the
default plan, or the rates given) and, when a ``max_winning`` is given, its ``risk.LimitProfile`` of
scope "tenant" (which sits between the global and the sport scopes for every player of the tenant).
Only the platform admin (``audit.tenancy.sees_every_tenant``) creates tenants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet

from accounts.models import Tenant
from agents.models import CommissionPlan
from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction
from audit.tenancy import sees_every_tenant
from core.decimals import exact_decimal, has_at_most
from core.errors import Conflict, DomainError, InvalidInput
from ledger.services import money_validate
from risk.models import LimitProfile

SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
NAME_MAX = 80
RATES = ("deposit_rate", "turnover_rate", "ggr_share")
BOUNDS = ("deposit_floor", "deposit_cap", "turnover_floor", "turnover_cap")
PLAN_FIELDS = ("deposit_rate", "deposit_floor", "deposit_cap", "turnover_rate", "turnover_floor", "turnover_cap",
               "ggr_share")
BOUND_CEILING = Decimal("1000000000000000")  # NUMERIC(18, 2)
ACTION = "tenant.create"


@dataclass(frozen=True)
class TenantView:
    """A tenant as the API shows it: the row, its plan and its own max winning (None: not set)."""

    tenant: Tenant
    plan: CommissionPlan | None
    max_winning: Decimal | None


def tenant_create(
    *, slug: Any, name: Any, colour: Any = None, max_winning: Any = None, commission: Any = None, actor: Actor
) -> TenantView:
    """Create tenant ``slug`` with its commission plan (API.md's default plan, with any rate, floor or cap
    of ``commission`` in its place) and, given ``max_winning``, its limit profile; audited.

    Refusals: ``forbidden`` 403 (anyone but the platform admin); 400 ``invalid_slug`` (lower-case ASCII
    letters, digits and inner hyphens, at most 40), ``invalid_name`` (1 to 80 characters), ``invalid_colour``
    (``#rrggbb``), ``invalid_rate`` (a decimal string from 0 to 1, at most 4 places), ``invalid_amount``
    (floors and caps: 0 or more, 2 places; max_winning: more than 0), ``invalid_request`` (a commission
    that is not an object or names an unknown field); 409 ``tenant_exists``."""
    details = {"slug": slug if isinstance(slug, str) else repr(slug)}
    with audited_transaction(actor=actor, action=ACTION, category=AuditLog.Category.ADMIN,
                             resource_type="tenant", resource_id=details["slug"][:64], details=details):
        if not sees_every_tenant(actor.user):  # the system (no user: a task, a command) sees every tenant
            raise DomainError("Only the platform's admin creates tenants.", code="forbidden", status=403)
        slug, name, colour = _slug(slug), _name(name), _colour(colour)
        winning = None if max_winning in (None, "") else money_validate(max_winning, field="max_winning")
        plan_values = _plan(commission)
        if Tenant.objects.filter(slug=slug).exists():
            raise _exists(slug)
        try:
            with transaction.atomic():
                tenant = Tenant.objects.create(slug=slug, name=name, **({"colour": colour} if colour else {}))
        except IntegrityError:  # created meanwhile by another request
            raise _exists(slug) from None
        plan = CommissionPlan.objects.create(tenant=tenant, **plan_values)
        if winning is not None:
            LimitProfile.objects.create(scope=LimitProfile.Scope.TENANT, tenant=tenant, max_winning=winning,
                                        note=f"Limits of tenant {slug}")
        audit_record(actor=actor, action=ACTION, category=AuditLog.Category.ADMIN, resource_type="tenant",
                     resource_id=tenant.pk, resource_label=slug,
                     details={"name": name, "colour": tenant.colour,
                              "max_winning": None if winning is None else str(winning),
                              "commission": {field: str(getattr(plan, field)) for field in PLAN_FIELDS}})
    return TenantView(tenant=tenant, plan=plan, max_winning=winning)


def tenant_list(*, viewer: Any) -> list[TenantView]:
    """The tenants ``viewer`` may see (the platform admin and regulators: all; a tenant's staff: theirs),
    each with its plan and its own max winning, in two queries."""
    rows: QuerySet[Tenant] = Tenant.objects.select_related("commission_plan").prefetch_related(
        Prefetch("limit_profiles", queryset=LimitProfile.objects.filter(scope=LimitProfile.Scope.TENANT),
                 to_attr="own_limits"))
    if not sees_every_tenant(viewer):
        rows = rows.filter(pk=getattr(viewer, "tenant_id", None))
    return [TenantView(tenant=t, plan=getattr(t, "commission_plan", None),
                       max_winning=t.own_limits[0].max_winning if t.own_limits else None) for t in rows]


def _exists(slug: str) -> Conflict:
    return Conflict(f"A tenant {slug!r} exists already; choose another slug.", code="tenant_exists",
                    details={"field": "slug", "slug": slug})


def _slug(value: Any) -> str:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise InvalidInput("A slug is 1 to 40 lower-case letters, digits and inner hyphens, e.g. \"north-bet\".",
                           code="invalid_slug", details={"field": "slug"})
    return value


def _name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise InvalidInput(f"Give the tenant a name of 1 to {NAME_MAX} printable characters.", code="invalid_name",
                           details={"field": "name", "max_length": NAME_MAX})
    return name


def _colour(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not COLOUR.fullmatch(value):
        raise InvalidInput("A colour is written #rrggbb, e.g. \"#1f6feb\".", code="invalid_colour",
                           details={"field": "colour"})
    return value.lower()


def _plan(commission: Any) -> dict[str, Decimal]:
    """The plan's fields given (others keep the default plan's), validated."""
    if commission is None:
        return {}
    if not isinstance(commission, dict):
        raise InvalidInput("commission is an object of rates, floors and caps.", code="invalid_request",
                           details={"field": "commission"})
    unknown = sorted(set(commission) - set(PLAN_FIELDS))
    if unknown:
        raise InvalidInput(f"commission has no field {unknown[0]!r}.", code="invalid_request",
                           details={"field": "commission", "unknown": unknown, "fields": list(PLAN_FIELDS)})
    values: dict[str, Decimal] = {}
    for field, raw in commission.items():
        where = f"commission.{field}"
        if field in RATES:
            rate = exact_decimal(raw, code="invalid_rate", field=where, example="0.02")
            if not (0 <= rate <= 1) or not has_at_most(rate, 4):
                raise InvalidInput("A rate is a fraction from 0 to 1 with at most 4 decimals (0.02 is 2%).",
                                   code="invalid_rate", details={"field": where})
            values[field] = rate
        else:
            bound = exact_decimal(raw, code="invalid_amount", field=where, example="10.00")
            if bound < 0 or bound >= BOUND_CEILING or not has_at_most(bound, 2):
                raise InvalidInput("A floor or cap is an amount of 0 or more with at most two decimals.",
                                   code="invalid_amount", details={"field": where})
            values[field] = bound.quantize(Decimal("0.01"))
    return values
