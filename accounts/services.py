"""Registration, staff accounts, the console's record of user changes (API tokens: accounts.sessions)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.roles import STAFF_ROLES
from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record
from core.errors import Conflict, InvalidInput
from risk.aml import aml_registration_check_queue
from wallet.services import wallet_open

User = get_user_model()


def player_register(
    *, username: str, password: str, email: str, country: str, actor: Actor
) -> User:
    """Create a player with an empty wallet; usernames are unique whatever their case. The address it
    registers from (``actor.ip``: the trusted proxy header's, else the peer's) is kept for transaction
    monitoring, whose shared-address check runs in the worker once the account exists."""
    country = (country or "").strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise InvalidInput("Give your country as a two-letter code, e.g. GB.",
                           code="invalid_country", details={"field": "country"})
    candidate = User(username=username, email=email, country=country, registration_ip=actor.ip)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), code="weak_password",
                           details={"field": "password", "reasons": exc.messages}) from None
    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            raise Conflict("That username is taken; choose another.", code="username_taken",
                           details={"field": "username"})
        candidate.set_password(password)
        candidate.save()
        candidate.groups.add(Group.objects.get(name="player"))
        wallet_open(user=candidate)
        audit_record(
            actor=Actor(user=candidate, ip=actor.ip, user_agent=actor.user_agent,
                        label=candidate.username),
            action="auth.register", category=AuditLog.Category.SECURITY,
            resource_type="user", resource_id=candidate.pk, resource_label=candidate.username,
            details={"country": country},
        )
        aml_registration_check_queue(user_id=candidate.pk)
    return candidate


def user_with_role(*, username: str, password: str, role: str, email: str = "",
                   country: str = "GB") -> tuple[User, bool]:
    """Get or create a user holding ``role`` (seed data, tests); staff roles may use the admin."""
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"email": email, "country": country, "is_staff": role in STAFF_ROLES,
                  "is_superuser": role == "admin"},
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=role))
    if role == "player":
        wallet_open(user=user)
    return user, created


def user_change_record(*, actor: Actor, user: User, action: str, before: dict[str, Any],
                       after: dict[str, Any]) -> None:
    """Audit a change made to a user in the console with the fields it changed, before and after.
    ``before`` is empty for an added user, ``after`` for a deleted one; nothing changed, nothing recorded."""
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    if not changed:
        return
    audit_record(actor=actor, action=action, category=AuditLog.Category.SECURITY, resource_type="user",
                 resource_id=user.pk, resource_label=user.get_username(),
                 details={"before": {n: before[n] for n in changed if n in before},
                          "after": {n: after[n] for n in changed if n in after}})


def user_password_change_record(*, actor: Actor, user: User) -> None:
    """A password set in the console: recorded as such, never with the password or its hash."""
    audit_record(actor=actor, action="user.password_change", category=AuditLog.Category.SECURITY,
                 resource_type="user", resource_id=user.pk, resource_label=user.get_username(),
                 details={"change": "password changed"})
