from django.contrib.auth import authenticate, user_logged_in
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import Actor
from oddslab.accounts.services import player_register
from oddslab.api import errors
from oddslab.errors import DomainError
from wallet.selectors import wallet_balance


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class RegisterInputSerializer(serializers.Serializer):
        username = serializers.RegexField(r"^[\w.@+-]{3,150}$", max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        email = serializers.EmailField()
        country = serializers.CharField(max_length=2, min_length=2)

    class RegisterOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()

    @extend_schema(
        request=RegisterInputSerializer,
        responses={201: RegisterOutputSerializer,
                   **errors(r400="invalid_request, invalid_country, weak_password",
                            r409="username_taken")},
    )
    def post(self, request):
        data = self.RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = player_register(**data.validated_data, actor=Actor.from_request(request))
        return Response(self.RegisterOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class TokenInputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(
        request=TokenInputSerializer,
        responses={200: inline_serializer("Token", {"token": serializers.CharField()}),
                   **errors(r400="invalid_request", r401="invalid_credentials")},
    )
    def post(self, request):
        data = self.TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # authenticate() records a failed login through Django's user_login_failed signal.
        user = authenticate(request._request, **data.validated_data)
        if user is None:
            raise DomainError("The username or password is wrong.", code="invalid_credentials",
                              status=401)
        token, _ = Token.objects.get_or_create(user=user)
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        return Response({"token": token.key})


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
