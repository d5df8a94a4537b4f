"""Who did it: the actor every service receives and every audit row records."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection

from core.hygiene import clean_text

# The roles, most privileged first; a user's role in the audit trail is the first one they hold.
ROLES = ("admin", "trader", "compliance", "regulator", "agent", "player")


def role_of(user: Any) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    if not hasattr(user, "_oddslab_role"):  # once per user object: a request, or a worker's player
        # read with the user when token authentication loaded it (accounts.authentication)
        names = getattr(user, "group_names", None)
        if names is None:
            names = _group_names(user.pk)
        user._oddslab_role = next((role for role in ROLES if role in names),
                                  "admin" if user.is_superuser else "staff" if user.is_staff else "user")
    return user._oddslab_role


def _group_names(user_id: int) -> set[str]:
    # Written as SQL: it labels the audit row of every placement, and the ORM's many-to-many
    # query cost more to build than to run.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT g.name FROM {Group._meta.db_table} g JOIN {Group.user_set.through._meta.db_table} m "
                       "ON m.group_id = g.id WHERE m.user_id = %s", [user_id])
        return {name for (name,) in cursor.fetchall()}


@dataclass(frozen=True)
class Actor:
    user: Any = None
    ip: str | None = None
    user_agent: str = ""
    label: str = ""
    # ISO country of the request when a trusted proxy header says it; geofencing falls back to
    # the player's registered country.
    country: str = ""
    # When the client's session (or token) started, if it came through one: the player's session
    # time limit counts from it (accounts.models.UserSession).
    session_started: datetime | None = None

    @property
    def user_id(self) -> int | None:
        return getattr(self.user, "pk", None)

    def audit_columns(self) -> tuple[int | None, str, str, str | None, str]:
        """Who acted, as an audit row records it: (actor id, label, role, ip, user agent)."""
        user = self.user
        return (user.pk if user else None, self.label or (user.get_username() if user else ""),
                role_of(user) if user else "system", self.ip, self.user_agent)

    @classmethod
    def from_request(cls, request: Any) -> Actor:
        user = getattr(request, "user", None)
        if user is not None and not user.is_authenticated:
            user = None
        return cls(
            user=user,
            ip=client_ip(request),
            # only recorded: cleaned and cut to the column's size rather than refused
            user_agent=clean_text(request.META.get("HTTP_USER_AGENT", ""), limit=300),
            label=user.get_username() if user else "anonymous",
            country=client_country(request),
            session_started=getattr(request, "session_started", None),
        )

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(label=f"system:{label}")

    @classmethod
    def of(cls, user: Any) -> Actor:
        return cls(user=user, label=user.get_username())


def client_ip(request: Any) -> str | None:
    """REMOTE_ADDR, or the first address of the trusted proxy header when one is configured."""
    header = settings.TRUSTED_PROXY_IP_HEADER
    if header:
        forwarded = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        if forwarded and (address := _address(forwarded.split(",")[0].strip())):
            return address
    return _address(request.META.get("REMOTE_ADDR") or "")


def _address(value: str) -> str | None:
    """``value`` if it is an IP address (the audit column is ``inet``), else None: a garbled header is no 500."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_country(request: Any) -> str:
    header = settings.TRUSTED_COUNTRY_HEADER
    if not header:
        return ""
    country = request.META.get("HTTP_" + header.upper().replace("-", "_"), "").strip().upper()[:2]
    return country if country.isascii() and country.isalpha() else ""
