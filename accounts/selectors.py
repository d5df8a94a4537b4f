"""Reads about accounts: who may manage whom in the console, what a user's record holds, when a client's
session started."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import UserSession

User = get_user_model()


def _granted(user: Any) -> QuerySet[Permission]:
    """The permissions a user holds, directly or through a group, whether active or not (a
    deactivated account keeps what it would regain)."""
    return Permission.objects.filter(Q(user=user) | Q(group__user=user)).values("pk")


def users_manageable(actor: Any) -> QuerySet[User]:
    """The users whose account (details, password, privileges, tokens) ``actor`` may change.

    The one rule: nobody manages themselves or anyone whose privileges equal or exceed their own.
    A superuser manages every other non-superuser; other staff only non-staff users whose
    permissions are a proper subset of theirs (players, agents); a non-staff user nobody.
    """
    if not (actor.is_active and (actor.is_superuser or actor.is_staff)):
        return User.objects.none()
    users = User.objects.visible_to(actor).exclude(pk=actor.pk).filter(is_superuser=False)
    if actor.is_superuser:
        return users
    held = list(_granted(actor.pk).values_list("pk", flat=True))
    beyond_actor = _granted(OuterRef("pk")).exclude(pk__in=held)
    # Given nothing beyond the actor's, some permission the target lacks makes the subset proper.
    lacking = Permission.objects.filter(pk__in=held).exclude(pk__in=_granted(OuterRef(OuterRef("pk"))))
    return users.filter(is_staff=False).filter(~Exists(beyond_actor), Exists(lacking))


def user_may_manage(actor: Any, target: Any) -> bool:
    return users_manageable(actor).filter(pk=target.pk).exists()


def user_record(user: Any) -> dict[str, Any]:
    """What the console may change on a user, as plain values for the audit trail: every field
    but the password (its hash is a secret too), with groups and permissions by name."""
    fields = {f.name: getattr(user, f.attname) for f in User._meta.concrete_fields
              if f.name not in {"id", "password"}}
    return {
        **{name: value if isinstance(value, bool | int | type(None)) else str(value)
           for name, value in fields.items()},
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "user_permissions": sorted(f"{app}.{codename}" for app, codename in user.user_permissions.values_list(
            "content_type__app_label", "codename")),
    }


def client_session_of(*, user_id: int, key: str) -> tuple[int | None, datetime | None]:
    """The id of the user's open client session ``key`` (a browser's session key, a token's SHA-256)
    and when it started; (None, None) when there is none."""
    return (UserSession.objects.filter(key=key, user_id=user_id, ended_at__isnull=True)
            .values_list("pk", "started_at").first()) or (None, None)
