"""Tenant scoping, the one mechanism behind every read staff make (DESIGN.md "Tenants and agents").

A model whose rows belong to a tenant names the paths from a row to its tenant in ``tenant_paths``
(a bet: ``("player__tenant",)``; a ledger transfer, either side's owner) and takes ``TenantQuerySet``
as its manager. ``visible_to(user)`` is then what the selectors, the admin (audit.admin_tools'
site), the console pages, the reports and the CSV exports read through: a staff member of a tenant
sees that tenant's rows only, and another tenant's ids are as unknown as ids that do not exist.
Rows that reach no tenant (house accounts, global limits, system audit rows) are the platform's: its
staff see them, a white-label tenant's staff do not. The platform admin
(an admin of ``settings.PLATFORM_TENANT``, or a superuser) and regulators see every tenant.
"""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from audit.context import role_of


def sees_every_tenant(user: Any) -> bool:
    if user is None:  # the system acting (Actor.system: a task, a command), never a request's user
        return True
    if getattr(user, "is_superuser", False):
        return True
    role = role_of(user)
    if role == "regulator":
        return True
    return role == "admin" and user.tenant.slug == settings.PLATFORM_TENANT


def keeps_the_book(user: Any) -> bool:
    """The liability book is the platform's (events, prices and exposure caps are shared by every
    tenant; risk.OutcomeExposure sums every tenant's bets): its staff and those who see every tenant
    read it, a white-label tenant's staff do not."""
    return sees_every_tenant(user) or user.tenant.slug == settings.PLATFORM_TENANT


class TenantQuerySet(models.QuerySet):
    def _paths(self) -> tuple[str, ...]:
        return getattr(self.model, "tenant_paths", ())

    def in_tenant(self, tenant_id: int | None) -> TenantQuerySet:
        """The rows of one tenant (none for ``None``)."""
        return self.filter(reduce(or_, (Q(**{path: tenant_id}) for path in self._paths()), Q(pk__in=[])))

    def visible_to(self, user: Any, *, tenant: str | None = None) -> TenantQuerySet:
        """The rows ``user`` may see; ``tenant`` (a slug) narrows them to one tenant, as a report's
        filter does (a tenant's staff naming another tenant see nothing). The platform tenant's staff
        also see the rows that reach no tenant: they run the platform (global limits, house accounts)."""
        rows = self
        if not sees_every_tenant(user):
            tenant_id = getattr(user, "tenant_id", None)
            mine = reduce(or_, (Q(**{path: tenant_id}) for path in self._paths()), Q(pk__in=[]))
            if tenant_id is not None and user.tenant.slug == settings.PLATFORM_TENANT and self._paths():
                mine |= Q(**{f"{path}__isnull": True for path in self._paths()})
            rows = rows.filter(mine)
        if tenant is not None:
            rows = rows.filter(reduce(or_, (Q(**{f"{path}__slug": tenant}) for path in self._paths()), Q(pk__in=[])))
        return rows
