from django.contrib import admin

from audit.admin_tools import ReadOnlyAdmin
from wallet.models import ExternalTransaction, GatewayTransfer


@admin.register(GatewayTransfer)
class GatewayTransferAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "gateway", "direction", "purpose", "user", "platform_account", "amount",
                    "network_fee", "status", "tx_id", "reference_type", "reference_id"]
    list_filter = ["gateway", "direction", "purpose", "status"]
    search_fields = ["=id", "tx_id", "idempotency_key", "reference_id", "user__username"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"


@admin.register(ExternalTransaction)
class ExternalTransactionAdmin(ReadOnlyAdmin):
    """The simulated external service's own transactions, as that service would show them."""

    list_display = ["tx_id", "created_at", "source", "destination", "amount", "network_fee", "status",
                    "confirm_after", "confirmed_at", "failure_reason"]
    list_filter = ["status"]
    search_fields = ["tx_id", "idempotency_key", "source__address", "destination__address"]
    list_select_related = ["source", "destination"]
    date_hierarchy = "created_at"
