from django.contrib import admin

from audit.admin_tools import ReadOnlyAdmin
from ledger.models import Account, Checkpoint, Transfer
from ledger.selectors import account_balance


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "code", "name", "kind", "may_go_negative", "current_balance", "created_at"]
    list_filter = ["kind", "may_go_negative"]
    search_fields = ["code", "name", "owner__username"]

    @admin.display(description="Balance")
    def current_balance(self, account: Account):
        return account_balance(account)


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["reference", "created_at", "kind", "amount", "debit_account", "credit_account",
                    "reference_type", "reference_id", "created_by"]
    list_filter = ["kind", "reference_type", "created_at"]
    search_fields = ["=entry_number", "reference_id", "idempotency_key",
                     "debit_account__code", "credit_account__code"]
    list_select_related = ["debit_account", "credit_account", "created_by"]
    date_hierarchy = "created_at"


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["account", "entry_number", "balance", "created_at"]
    list_filter = ["account"]
