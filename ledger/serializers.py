from rest_framework import serializers

from ledger.models import Transfer, format_entry_number


class StatementLineSerializer(serializers.Serializer):
    """One transfer seen from one account: money in (credit) or out (debit), and the balance after.

    The serializer needs ``context["account_id"]``.
    """

    entry_number = serializers.SerializerMethodField()
    kind = serializers.CharField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    direction = serializers.SerializerMethodField()
    balance_after = serializers.SerializerMethodField()
    reference = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def _is_credit(self, transfer: Transfer) -> bool:
        return transfer.credit_account_id == self.context["account_id"]

    def get_entry_number(self, transfer: Transfer) -> str:
        return format_entry_number(transfer.entry_number)

    def get_direction(self, transfer: Transfer) -> str:
        return "credit" if self._is_credit(transfer) else "debit"

    def get_balance_after(self, transfer: Transfer) -> str | None:
        after = (transfer.credit_balance_after if self._is_credit(transfer)
                 else transfer.debit_balance_after)
        return None if after is None else str(after)

    def get_reference(self, transfer: Transfer) -> dict[str, str]:
        return {"type": transfer.reference_type, "id": transfer.reference_id}


class TransferSerializer(serializers.Serializer):
    entry_number = serializers.SerializerMethodField()
    kind = serializers.CharField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    created_at = serializers.DateTimeField()

    def get_entry_number(self, transfer: Transfer) -> str:
        return format_entry_number(transfer.entry_number)
