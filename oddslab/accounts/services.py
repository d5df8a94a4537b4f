"""Registration and staff accounts."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record
from oddslab.accounts.roles import STAFF_ROLES
from oddslab.errors import Conflict, InvalidInput
from wallet.services import wallet_open

User = get_user_model()


def player_register(
    *, username: str, password: str, email: str, country: str, actor: Actor
) -> User:
    """Create a player with an empty wallet; usernames are unique whatever their case."""
    country = (country or "").strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise InvalidInput("Give your country as a two-letter code, e.g. GB.",
                           code="invalid_country", details={"field": "country"})
    candidate = User(username=username, email=email, country=country)
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
