from django.contrib import admin

from audit.admin_tools import AuditedSettingsAdmin, ReadOnlyAdmin
from risk.models import ExposureCap, Geofence, LimitProfile, OutcomeExposure, PlayerRestriction


@admin.register(LimitProfile)
class LimitProfileAdmin(AuditedSettingsAdmin):
    list_display = ["__str__", "scope", "min_stake", "max_stake", "max_winning", "max_selections",
                    "max_price", "max_combined_odds", "velocity_max_bets", "velocity_max_stake"]
    list_filter = ["scope"]
    autocomplete_fields = ["player"]
    search_fields = ["player__username", "sport__name", "competition__name", "group__name"]


@admin.register(ExposureCap)
class ExposureCapAdmin(AuditedSettingsAdmin):
    list_display = ["__str__", "sport", "market_kind", "cap"]


@admin.register(Geofence)
class GeofenceAdmin(AuditedSettingsAdmin):
    list_display = ["__str__", "enabled"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PlayerRestriction)
class PlayerRestrictionAdmin(AuditedSettingsAdmin):
    list_display = ["player", "self_excluded_until", "max_stake", "daily_deposit_limit", "daily_loss_limit",
                    "kyc_verified"]
    list_filter = ["kyc_verified"]
    autocomplete_fields = ["player"]
    search_fields = ["player__username"]


@admin.register(OutcomeExposure)
class OutcomeExposureAdmin(ReadOnlyAdmin):
    list_display = ["outcome", "stakes", "worst_case_payout", "bets"]
    list_select_related = ["outcome__market__event"]
    ordering = ["-worst_case_payout"]
