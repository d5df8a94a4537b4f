"""API authentication. Its own module: DRF imports the authentication classes while loading its
views, so they cannot live beside the views' helpers in core.api."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from core.db import columns, loaded_chain


def token_valid_since() -> datetime:
    """Tokens created before this have expired (``AUTH_TOKEN_TTL_HOURS``)."""
    return timezone.now() - timedelta(hours=settings.AUTH_TOKEN_TTL_HOURS)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication with its one query written as SQL: it runs on every API call
    (every bet placed), and building ``select_related("user").get(key=...)`` cost more than running it.
    The same statement reads the user's group names (``user.group_names``), which the audit row's
    role is taken from (audit.context.role_of), so a request does not ask for them again.
    An expired token is refused like an unknown one; logging in again replaces it."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user_model = get_user_model()
        created = Token._meta.get_field("created").column
        membership = Group.user_set.through
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns(Token, 't')}, {columns(user_model, 'u')}, "
                           f"ARRAY(SELECT g.name FROM {Group._meta.db_table} g JOIN {membership._meta.db_table} m "
                           f"ON m.group_id = g.id WHERE m.user_id = u.id) "
                           f"FROM {Token._meta.db_table} t JOIN {user_model._meta.db_table} u ON u.id = t.user_id "
                           f"WHERE t.key = %s AND t.{created} >= %s", [key, token_valid_since()])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        *columns_read, groups = row
        token, user = loaded_chain((Token, user_model), columns_read)
        user.group_names = frozenset(groups)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token.user = user
        return user, token
