"""API authentication. Its own module: DRF imports the authentication classes while loading its
views, so they cannot live beside the views' helpers in core.api."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
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
    An expired token is refused like an unknown one; logging in again replaces it."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user_model = get_user_model()
        created = Token._meta.get_field("created").column
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns(Token, 't')}, {columns(user_model, 'u')} "
                           f"FROM {Token._meta.db_table} t JOIN {user_model._meta.db_table} u ON u.id = t.user_id "
                           f"WHERE t.key = %s AND t.{created} >= %s", [key, token_valid_since()])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token, user = loaded_chain((Token, user_model), row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token.user = user
        return user, token
