"""Client sessions and API tokens (docs/sessions.md): who is logged in where, since when, and the
player's way to end one (API.md "Responsible gambling, KYC").

A UserSession row is opened on a page log-in (accounts.signals) and when a token is issued; it ends on
log-out, when its token is revoked or replaced after expiring, and when the player ends it, which
deletes the Django session or the token, so that client is logged out at once. Its ``started_at`` is
what the player's session time limit and reality checks count from. A token's row is keyed by the
token's SHA-256: the table holds no usable credential."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from rest_framework.authtoken.models import Token

from accounts.models import UserSession
from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record
from core import live
from core.errors import NotFound

# The /ws/v1/me message that a client session ended: its sockets close (accounts.consumers).
SESSION_ENDED = "session_ended"


def token_valid_since() -> datetime:
    """Tokens created before this have expired (``AUTH_TOKEN_TTL_HOURS``)."""
    return timezone.now() - timedelta(hours=settings.AUTH_TOKEN_TTL_HOURS)


def token_session_key(token_key: str) -> str:
    """The key of a token's UserSession: the token's SHA-256 in hex."""
    return hashlib.sha256(token_key.encode()).hexdigest()


def _session_store() -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore


def _end(sessions: QuerySet[UserSession]) -> None:
    """End the sessions; after commit their sockets hear it and close (accounts.consumers)."""
    ended = list(sessions.filter(ended_at__isnull=True).values_list("pk", "user_id"))
    UserSession.objects.filter(pk__in=[pk for pk, _ in ended]).update(ended_at=timezone.now())
    live.to_users([(user_id, {"type": SESSION_ENDED, "session_id": pk}) for pk, user_id in ended])


def client_session_open(*, user: Any, kind: str, key: str, actor: Actor) -> UserSession:
    """The client's session, opened now from the actor's address and user agent, unless it is open
    already (a token issued again, a browser logging in again on the same session)."""
    now = timezone.now()
    session, _ = UserSession.objects.get_or_create(key=key, defaults={
        "user": user, "kind": kind, "ip": actor.ip, "user_agent": actor.user_agent,
        "started_at": now, "last_seen_at": now})
    return session


def client_session_seen(*, session_id: int, last_seen_at: datetime) -> None:
    """Record that the client was seen now, once per ``SESSION_LAST_SEEN_SECONDS``: while its last-seen
    time is fresh nothing is written, and of two requests that find it stale only one updates it."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SESSION_LAST_SEEN_SECONDS)
    if last_seen_at < stale:
        UserSession.objects.filter(pk=session_id, last_seen_at__lt=stale).update(last_seen_at=now)


def browser_session_started(*, user: Any, key: str, actor: Actor) -> datetime:
    """When the logged-in browser session ``key`` started, its last-seen time kept. A session without a
    row (Django cycled its key on a password change, or it logged in before sessions were tracked) is
    opened now."""
    row = (UserSession.objects.filter(key=key, user_id=user.pk, ended_at__isnull=True)
           .values_list("pk", "started_at", "last_seen_at").first())
    if row is None:
        return client_session_open(user=user, kind=UserSession.Kind.SESSION, key=key, actor=actor).started_at
    session_id, started_at, last_seen_at = row
    client_session_seen(session_id=session_id, last_seen_at=last_seen_at)
    return started_at


def browser_session_log_out(*, key: str | None) -> None:
    """A browser logged out: its session ends with it."""
    if key:
        _end(UserSession.objects.filter(key=key))


def token_issue(*, user: Any, actor: Actor) -> Token:
    """The user's API token, and its client session. An expired token is replaced by a fresh one
    (``AUTH_TOKEN_TTL_HOURS``) and its session ended; a new token is audited."""
    with transaction.atomic():
        expired = Token.objects.filter(user=user, created__lt=token_valid_since()).first()
        if expired is not None:
            _end(UserSession.objects.filter(key=token_session_key(expired.key)))
            expired.delete()
        token, created = Token.objects.get_or_create(user=user)
        session = client_session_open(user=user, kind=UserSession.Kind.TOKEN, key=token_session_key(token.key),
                                      actor=actor)
        if created:
            audit_record(actor=actor, action="auth.token_create", category=AuditLog.Category.SECURITY,
                         resource_type="user", resource_id=user.pk, resource_label=user.get_username(),
                         details={"session_id": session.pk})
    return token


def token_revoke(*, token: Token, actor: Actor) -> None:
    """Delete a token: whoever holds it is logged out of the API at once, and its session ends."""
    with transaction.atomic():
        deleted, _ = Token.objects.filter(key=token.key).delete()  # a TokenProxy's pk is its user's
        if deleted:
            _end(UserSession.objects.filter(key=token_session_key(token.key)))
            audit_record(actor=actor, action="auth.token_revoke", category=AuditLog.Category.SECURITY,
                         resource_type="user", resource_id=token.user_id,
                         resource_label=token.user.get_username())


def client_session_end(*, user: Any, session_id: int, actor: Actor) -> UserSession:
    """End one of the user's sessions: its Django session or its token is deleted, so that client is
    logged out at once (a token's end is audited as its revocation). Another user's is not found."""
    with transaction.atomic():
        session = UserSession.objects.select_for_update().filter(pk=session_id, user_id=user.pk).first()
        if session is None:
            raise NotFound(f"You have no session with id {session_id}.")
        if session.ended_at is not None:
            return session
        token = Token.objects.filter(user_id=user.pk).first() if session.kind == UserSession.Kind.TOKEN else None
        if token is not None and token_session_key(token.key) == session.key:
            token_revoke(token=token, actor=actor)  # ends the session too
        else:
            if session.kind == UserSession.Kind.SESSION:
                _session_store()().delete(session.key)
            _end(UserSession.objects.filter(pk=session.pk))
            audit_record(actor=actor, action="auth.session_end", category=AuditLog.Category.SECURITY,
                         resource_type="user_session", resource_id=session.pk,
                         resource_label=session.get_kind_display(), details={"kind": session.kind})
        session.refresh_from_db(fields=["ended_at"])
    return session


def client_sessions_list(*, user: Any) -> QuerySet[UserSession]:
    """The user's sessions and tokens, newest first. A client gone without logging out (a browser
    session expired or replaced by another log-in, a token expired) is ended here first, so
    ``ended_at`` tells the live ones."""
    live_token = Token.objects.filter(user_id=user.pk, created__gte=token_valid_since()).values_list(
        "key", flat=True).first()
    store, password_hash = _session_store(), user.get_session_auth_hash()

    def gone(session: UserSession) -> bool:
        if session.kind == UserSession.Kind.TOKEN:
            return live_token is None or token_session_key(live_token) != session.key
        # logged in as Django's get_user() checks it: this user, with the password as it is now
        browser = store(session_key=session.key)
        return browser.get(SESSION_KEY) != str(user.pk) or not constant_time_compare(
            browser.get(HASH_SESSION_KEY) or "", password_hash)

    open_sessions = UserSession.objects.filter(user_id=user.pk, ended_at__isnull=True).only("kind", "key")
    _end(UserSession.objects.filter(pk__in=[s.pk for s in open_sessions if gone(s)]))
    return UserSession.objects.filter(user_id=user.pk).order_by("-started_at", "-pk")
