"""The tenant's branding on the player pages: its name and colour in the header (docs/tenants.md).

A logged-in user sees their tenant's; a visitor the platform tenant's. Read through a small cache per
process (``BRAND_TTL_SECONDS``), so a page costs no query for it; a renamed tenant shows within that time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from accounts.models import Tenant

BRAND_TTL_SECONDS = 60.0
_cache: dict[Any, tuple[float, Brand]] = {}


@dataclass(frozen=True)
class Brand:
    slug: str
    name: str
    colour: str


def brand_of(user: Any) -> Brand:
    tenant_id = getattr(user, "tenant_id", None) if getattr(user, "is_authenticated", False) else None
    key = tenant_id if tenant_id is not None else settings.PLATFORM_TENANT
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    rows = Tenant.objects.filter(pk=tenant_id) if tenant_id is not None else Tenant.objects.filter(
        slug=settings.PLATFORM_TENANT)
    found = rows.values_list("slug", "name", "colour").first()
    brand = Brand(*found) if found else Brand(settings.PLATFORM_TENANT, "Odds Lab", "#1f6feb")
    _cache[key] = (now + BRAND_TTL_SECONDS, brand)
    return brand


def brand_forget() -> None:
    """Drop the cached brands (a test that renames a tenant)."""
    _cache.clear()
