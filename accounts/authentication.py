"""API authentication. Its own module: DRF imports the authentication classes while loading its
views, so they cannot live beside the views."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from accounts.models import UserSession
from accounts.sessions import client_session_seen, token_session_key, token_valid_since
from core.db import columns, loaded_chain


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication with its one query written as SQL: it runs on every API call
    (every bet placed), and building ``select_related("user").get(key=...)`` cost more than running it.
    The same statement reads the user's group names (``user.group_names``), which the audit row's
    role is taken from (audit.context.role_of), and the token's client session (accounts.sessions):
    ``request.session_started``, which the player's session time limit counts from, and the
    last-seen time, written only when it is older than ``SESSION_LAST_SEEN_SECONDS``.
    An expired token is refused like an unknown one; logging in again replaces it."""

    def authenticate(self, request: Any) -> tuple[Any, Token] | None:
        found = super().authenticate(request)
        if found is not None:
            # on Django's request, which DRF's Request (and so Actor.from_request) reads through
            getattr(request, "_request", request).session_started = found[1].session_started
        return found

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user_model = get_user_model()
        created = Token._meta.get_field("created").column
        membership = Group.user_set.through
        session = {name: UserSession._meta.get_field(name).column for name in ("key", "started_at", "last_seen_at")}
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns(Token, 't')}, {columns(user_model, 'u')}, "
                           f"ARRAY(SELECT g.name FROM {Group._meta.db_table} g JOIN {membership._meta.db_table} m "
                           f"ON m.group_id = g.id WHERE m.user_id = u.id), "
                           f"s.id, s.{session['started_at']}, s.{session['last_seen_at']} "
                           f"FROM {Token._meta.db_table} t JOIN {user_model._meta.db_table} u ON u.id = t.user_id "
                           f"LEFT JOIN {UserSession._meta.db_table} s ON s.{session['key']} = %s "
                           f"WHERE t.key = %s AND t.{created} >= %s",
                           [token_session_key(key), key, token_valid_since()])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        *columns_read, groups, session_id, started_at, last_seen_at = row
        token, user = loaded_chain((Token, user_model), columns_read)
        user.group_names = frozenset(groups)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token.user = user
        token.session_started = started_at  # None for a token issued before sessions were tracked
        token.client_session_id = session_id
        if session_id is not None:
            client_session_seen(session_id=session_id, last_seen_at=last_seen_at)
        return user, token
