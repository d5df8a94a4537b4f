from dataclasses import replace

from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import UserSession
from accounts.services import player_register
from accounts.sessions import client_session_end, client_sessions_list, token_issue, token_revoke, token_session_key
from accounts.throttle import too_many_attempts
from audit.context import Actor
from core.api import errors
from core.errors import DomainError
from wallet.selectors import wallet_balance


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class RegisterInputSerializer(serializers.Serializer):
        username = serializers.RegexField(r"^[\w.@+-]{3,150}$", max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        email = serializers.EmailField()
        country = serializers.CharField(max_length=2, min_length=2)
        tenant = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                       help_text="The operator's slug (GET /api/v1/tenants); the default one "
                                                 "when left out.")
        agent_code = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                           help_text="An agent's code: the player joins the agent's operator "
                                                     "and is that agent's player.")

    class RegisterOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()

    @extend_schema(
        request=RegisterInputSerializer,
        responses={201: RegisterOutputSerializer,
                   **errors(r400="invalid_request, invalid_country, weak_password, unknown_tenant, "
                                 "unknown_agent_code, tenant_mismatch",
                            r409="username_taken")},
    )
    def post(self, request):
        data = self.RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = player_register(**data.validated_data, actor=Actor.from_request(request))
        return Response(self.RegisterOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    """POST logs in with a password and returns the user's token; DELETE revokes the token in use."""

    class TokenInputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    def _logging_in(self) -> bool:
        return getattr(self.request, "method", None) == "POST"

    def get_authenticators(self):
        # Logging in takes a password, not credentials: a stale token header (an expired token the
        # client comes to replace) or a session cookie (and its CSRF check) must not stand in its way.
        return [] if self._logging_in() else super().get_authenticators()

    def get_permissions(self):
        return [AllowAny()] if self._logging_in() else super().get_permissions()

    @extend_schema(
        request=TokenInputSerializer,
        responses={200: inline_serializer("Token", {"token": serializers.CharField()}),
                   **errors(r400="invalid_request", r401="invalid_credentials",
                            r429="too_many_attempts (5 failures for a username, or "
                                 "AUTH_IP_FAILURE_LIMIT from one address, within 15 minutes)")},
        description=f"A token expires {settings.AUTH_TOKEN_TTL_HOURS} hours (AUTH_TOKEN_TTL_HOURS) after it "
                    "was issued; logging in again then issues a fresh one.",
    )
    def post(self, request):
        data = self.TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # authenticate() records a failed login through Django's user_login_failed signal, and the
        # log-in throttle (django-axes) refuses a locked username or address there.
        user = authenticate(request._request, **data.validated_data)
        if getattr(request._request, "axes_locked_out", False):
            raise too_many_attempts()
        if user is None:
            raise DomainError("The username or password is wrong.", code="invalid_credentials",
                              status=401)
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        token = token_issue(user=user, actor=replace(Actor.from_request(request), user=user,
                                                     label=user.get_username()))
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None, **errors()},
                   description="Revokes the token of the request (with a session: the user's token).")
    def delete(self, request):
        token = request.auth if isinstance(request.auth, Token) else Token.objects.filter(user=request.user).first()
        if token is not None:
            token_revoke(token=token, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    class MeSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        roles = serializers.ListField(child=serializers.CharField())
        balance = serializers.DecimalField(max_digits=18, decimal_places=2)
        currency = serializers.CharField()

    @extend_schema(responses={200: MeSerializer, **errors()})
    def get(self, request):
        user = request.user
        wallet = wallet_balance(user=user)
        return Response(self.MeSerializer({
            "id": user.pk,
            "username": user.get_username(),
            "roles": sorted(user.groups.values_list("name", flat=True)),
            "balance": wallet.balance,
            "currency": wallet.currency,
        }).data)


class ClientSessionSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="the session or token of this request")
    active = serializers.SerializerMethodField(help_text="its client is still logged in with it")

    class Meta:
        model = UserSession
        fields = ["id", "kind", "ip", "user_agent", "started_at", "last_seen_at", "ended_at", "current", "active"]

    def get_current(self, session: UserSession) -> bool:
        return session.key == self.context["current_key"]

    def get_active(self, session: UserSession) -> bool:
        return session.ended_at is None


def _current_key(request) -> str | None:
    """The key of the request's own client session: its token's, else its browser session's."""
    if isinstance(request.auth, Token):
        return token_session_key(request.auth.key)
    return request.session.session_key


class SessionListApi(ListAPIView):
    """The caller's browser sessions and API tokens, newest first."""

    serializer_class = ClientSessionSerializer

    def get_queryset(self):
        return client_sessions_list(user=self.request.user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "current_key": _current_key(self.request)}

    @extend_schema(responses={200: ClientSessionSerializer(many=True), **errors(r400="invalid_request")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SessionEndApi(APIView):
    @extend_schema(request=None, responses={200: ClientSessionSerializer, **errors(r404="not_found")},
                   description="Ends one of the caller's sessions: a browser session is deleted and a token "
                               "revoked, so that client is logged out at once.")
    def post(self, request, pk: int):
        current_key = _current_key(request)
        session = client_session_end(user=request.user, session_id=pk, actor=Actor.from_request(request))
        if session.key == request.session.session_key:  # this browser's own: it is logged out too
            request.session.flush()
        return Response(ClientSessionSerializer(session, context={"current_key": current_key}).data)
