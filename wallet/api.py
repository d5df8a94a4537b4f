from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import Actor
from core.api import RawValue, errors, idempotency_key
from ledger.serializers import StatementLineSerializer, TransferSerializer
from wallet.external import (
    external_account_require,
    external_available,
    external_wallet_open,
    external_wallet_top_up,
)
from wallet.selectors import wallet_account, wallet_balance, wallet_statement
from wallet.services import wallet_deposit, wallet_withdraw

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER,
    description="Same key and body: the first response again, nothing changes. "
    "Same key, other body: 409 idempotency_conflict.",
)


class WalletApi(APIView):
    class WalletBalanceSerializer(serializers.Serializer):
        balance = serializers.DecimalField(max_digits=18, decimal_places=2)
        currency = serializers.CharField()

    @extend_schema(responses={200: WalletBalanceSerializer, **errors()})
    def get(self, request):
        return Response(self.WalletBalanceSerializer(wallet_balance(user=request.user)).data)


class _WalletMoveApi(APIView):
    service = None

    class WalletMoveInputSerializer(serializers.Serializer):
        amount = RawValue(help_text='Exact decimal string, e.g. "250.00"; at most two decimals.')

    class WalletMoveSerializer(serializers.Serializer):
        transaction = TransferSerializer(source="transfer")
        balance = serializers.DecimalField(max_digits=18, decimal_places=2)

    def post(self, request):
        data = self.WalletMoveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        movement = self.service(
            user=request.user, amount=data.validated_data["amount"],
            actor=Actor.from_request(request), idempotency_key=idempotency_key(request),
        )
        return Response(self.WalletMoveSerializer(movement).data, status=status.HTTP_201_CREATED)


class DepositApi(_WalletMoveApi):
    service = staticmethod(wallet_deposit)

    @extend_schema(
        request=_WalletMoveApi.WalletMoveInputSerializer, parameters=[IDEMPOTENCY_HEADER],
        responses={201: _WalletMoveApi.WalletMoveSerializer,
                   **errors(r400="invalid_request, invalid_amount, invalid_idempotency_key",
                            r409="idempotency_conflict")},
    )
    def post(self, request):
        return super().post(request)


class WithdrawalApi(_WalletMoveApi):
    service = staticmethod(wallet_withdraw)

    @extend_schema(
        request=_WalletMoveApi.WalletMoveInputSerializer, parameters=[IDEMPOTENCY_HEADER],
        responses={201: _WalletMoveApi.WalletMoveSerializer,
                   **errors(r400="invalid_request, invalid_amount, invalid_idempotency_key",
                            r403="kyc_required", r409="idempotency_conflict", r422="insufficient_funds")},
    )
    def post(self, request):
        return super().post(request)


class WalletTransactionsApi(ListAPIView):
    """The caller's ledger statement, newest first, with the balance after each line."""

    serializer_class = StatementLineSerializer

    def get_queryset(self):
        return wallet_statement(user=self.request.user)

    def get_serializer_context(self):
        account = wallet_account(user=self.request.user)
        return {**super().get_serializer_context(), "account_id": account.pk if account else None}

    @extend_schema(responses={200: StatementLineSerializer(many=True), **errors()})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ExternalWalletSerializer(serializers.Serializer):
    address = serializers.CharField()
    balance = serializers.DecimalField(max_digits=18, decimal_places=2)
    currency = serializers.CharField()


class ExternalWalletApi(APIView):
    """The player's account at the simulated external wallet service."""

    @extend_schema(responses={200: ExternalWalletSerializer,
                              **errors(r404="external_wallet_not_open", r503="external_wallet_unavailable")})
    def get(self, request):
        external_available()
        account = external_account_require(user_id=request.user.pk)
        return Response(ExternalWalletSerializer(account).data)

    @extend_schema(request=None, responses={201: ExternalWalletSerializer, 200: ExternalWalletSerializer,
                                            **errors(r403="not_a_player, self_excluded, geo_blocked",
                                                     r503="external_wallet_unavailable")})
    def post(self, request):
        opened = external_wallet_open(user=request.user, actor=Actor.from_request(request))
        return Response(ExternalWalletSerializer(opened.account).data,
                        status=status.HTTP_201_CREATED if opened.created else status.HTTP_200_OK)


class ExternalTopUpApi(APIView):
    class TopUpInputSerializer(serializers.Serializer):
        amount = RawValue(help_text='Exact decimal string, e.g. "250.00"; at most two decimals.')

    class TopUpSerializer(serializers.Serializer):
        tx_id = serializers.CharField(source="transaction.tx_id")
        amount = serializers.DecimalField(source="transaction.amount", max_digits=18, decimal_places=2)
        address = serializers.CharField(source="account.address")
        balance = serializers.DecimalField(source="account.balance", max_digits=18, decimal_places=2)
        currency = serializers.CharField(source="account.currency")

    @extend_schema(
        request=TopUpInputSerializer, parameters=[IDEMPOTENCY_HEADER],
        responses={201: TopUpSerializer,
                   **errors(r400="invalid_request, invalid_amount, invalid_idempotency_key",
                            r403="not_a_player, self_excluded, geo_blocked, kyc_required",
                            r404="external_wallet_not_open", r409="idempotency_conflict",
                            r422="deposit_limit", r503="external_wallet_unavailable")},
    )
    def post(self, request):
        data = self.TopUpInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        top_up = external_wallet_top_up(user=request.user, amount=data.validated_data["amount"],
                                        actor=Actor.from_request(request), idempotency_key=idempotency_key(request))
        return Response(self.TopUpSerializer(top_up).data, status=status.HTTP_201_CREATED)
