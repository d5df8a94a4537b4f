from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import Actor
from ledger.serializers import StatementLineSerializer, TransferSerializer
from oddslab.api import RawValue, errors, idempotency_key
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
                            r409="idempotency_conflict", r422="insufficient_funds")},
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
