from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import errors, permission
from ledger.models import Account
from ledger.selectors import account_balance, account_statement, ledger_verify
from ledger.serializers import StatementLineSerializer


class AccountSerializer(serializers.ModelSerializer):
    balance = serializers.SerializerMethodField()

    class Meta:
        model = Account
        fields = ["id", "code", "kind", "name", "currency", "may_go_negative", "balance"]

    def get_balance(self, account: Account) -> str:
        return str(account_balance(account))


class AccountListApi(ListAPIView):
    """The ledger accounts with their balances (staff who may read the ledger; a tenant's staff, its
    players' wallets: audit.tenancy)."""

    permission_classes = [permission("ledger.view_account")]
    serializer_class = AccountSerializer

    def get_queryset(self):
        return Account.objects.visible_to(self.request.user).order_by("id")

    @extend_schema(responses={200: AccountSerializer(many=True), **errors(r403="forbidden")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AccountTransactionsApi(ListAPIView):
    """The statement of any ledger account (staff who may read the ledger)."""

    permission_classes = [permission("ledger.view_transfer")]
    serializer_class = StatementLineSerializer

    def get_queryset(self):
        return account_statement(self.account)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "account_id": self.account.pk}

    @extend_schema(responses={200: StatementLineSerializer(many=True),
                              **errors(r403="forbidden", r404="not_found")})
    def get(self, request, *args, **kwargs):
        self.account = get_object_or_404(Account.objects.visible_to(request.user), pk=kwargs["pk"])
        return super().get(request, *args, **kwargs)


class LedgerCheckApi(APIView):
    permission_classes = [permission("ledger.view_transfer")]

    @extend_schema(responses={200: None, **errors(r403="forbidden")})
    def get(self, request):
        report = ledger_verify()
        return Response({"ok": report.ok, "accounts": report.accounts,
                         "transfers": report.transfers, "sum": str(report.total),
                         "problems": report.problems})
