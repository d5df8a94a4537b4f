"""Registration, staff accounts, the console's record of user changes (API tokens: accounts.sessions)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Tenant
from accounts.roles import STAFF_ROLES
from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record
from core.errors import Conflict, InvalidInput
from risk.aml import aml_registration_check_queue
from wallet.services import wallet_open

User = get_user_model()


AGENT_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone
AGENT_CODE_LENGTH = 8


def registration_home(*, tenant: str | None = None, agent_code: str | None = None) -> tuple[Tenant, User | None]:
    """The tenant a new player joins and the agent who brought them: the agent's tenant with an
    ``agent_code``, the tenant named by ``tenant`` (a slug), else the platform tenant. Refusals (400):
    ``unknown_tenant``, ``unknown_agent_code``, ``tenant_mismatch`` (a code of another tenant's agent)."""
    agent = None
    if agent_code not in (None, ""):
        code = agent_code.strip().upper() if isinstance(agent_code, str) else ""
        agent = (User.objects.select_related("tenant").filter(agent_code=code, groups__name="agent").first()
                 if code.isascii() and code.isalnum() else None)
        if agent is None:
            raise InvalidInput("That agent code is not known; check it with your agent.",
                               code="unknown_agent_code", details={"field": "agent_code"})
    if tenant not in (None, ""):
        home = Tenant.objects.filter(slug=tenant).first() if isinstance(tenant, str) and tenant.isascii() else None
        if home is None:
            raise InvalidInput("That operator is not known.", code="unknown_tenant", details={"field": "tenant"})
        if agent is not None and agent.tenant_id != home.pk:
            raise InvalidInput("That agent code belongs to another operator.", code="tenant_mismatch",
                               details={"field": "agent_code", "tenant": home.slug})
        return home, agent
    if agent is not None:
        return agent.tenant, agent
    return Tenant.objects.get(slug=settings.PLATFORM_TENANT), None


def player_register(
    *, username: str, password: str, email: str, country: str, actor: Actor, tenant: str | None = None,
    agent_code: str | None = None, agent: User | None = None,
) -> User:
    """Create a player with an empty wallet; usernames are unique whatever their case. The address it
    registers from (``actor.ip``: the trusted proxy header's, else the peer's) is kept for transaction
    monitoring, whose shared-address check runs in the worker once the account exists.

    The player joins a tenant (``registration_home``: a ``tenant`` slug or an ``agent_code``). An agent
    creating a player for themselves (agents.players) passes ``agent``: the player joins the agent's
    tenant, the agent is the audit row's actor, and no registration address is kept (it is the agent's)."""
    if agent is not None:
        home = agent.tenant
    else:
        home, agent = registration_home(tenant=tenant, agent_code=agent_code)
    by_agent = actor.user is not None and agent is not None and actor.user_id == agent.pk
    country = (country or "").strip().upper()
    if len(country) != 2 or not country.isascii() or not country.isalpha():
        raise InvalidInput("Give your country as a two-letter code, e.g. GB.",
                           code="invalid_country", details={"field": "country"})
    candidate = User(username=username, email=email, country=country, tenant=home, agent=agent,
                     registration_ip=None if by_agent else actor.ip)
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
            actor=actor if by_agent else Actor(user=candidate, ip=actor.ip, user_agent=actor.user_agent,
                                               label=candidate.username),
            action="agent.player_create" if by_agent else "auth.register", category=AuditLog.Category.SECURITY,
            resource_type="user", resource_id=candidate.pk, resource_label=candidate.username,
            details={"country": country, "tenant": home.slug, **({"agent_id": agent.pk} if agent else {})},
        )
        if not by_agent:
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
    if role == "agent":
        agent_code_issue(user=user)
    return user, created


def agent_code_issue(*, user: User) -> str:
    """The agent's code, which players register with; issued once, when the agent role is given (the
    console's Role field, seed data), and kept after that."""
    if user.agent_code:
        return user.agent_code
    for _ in range(10):
        code = "".join(secrets.choice(AGENT_CODE_ALPHABET) for _ in range(AGENT_CODE_LENGTH))
        try:
            with transaction.atomic():
                updated = User.objects.filter(pk=user.pk, agent_code__isnull=True).update(agent_code=code)
        except IntegrityError:  # another agent's code: draw again
            continue
        if not updated:  # issued meanwhile by another request
            code = User.objects.values_list("agent_code", flat=True).get(pk=user.pk)
        user.agent_code = code
        return code
    raise RuntimeError("Could not draw a free agent code.")


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
