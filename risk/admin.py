from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html

from audit.admin_tools import (
    AuditedSettingsAdmin,
    HistoryAdmin,
    ObjectAction,
    ReadOnlyAdmin,
    ReasonForm,
    ServiceActionsAdmin,
)
from audit.context import Actor
from core.errors import NotFound
from risk.aml import REASON_MAX, aml_alert_update
from risk.kyc import KYC_REVIEW, kyc_document_open, kyc_file_open, kyc_reject, kyc_verify, number_masked
from risk.models import (
    AmlAlert,
    ExposureCap,
    Geofence,
    KycDocument,
    KycStatus,
    LimitProfile,
    OutcomeExposure,
    PlayerRestriction,
)


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
class PlayerRestrictionAdmin(ReadOnlyAdmin, HistoryAdmin):
    """Read-only: the player sets their own limits (risk.safer, with the cooling-off), a time-out or a
    self-exclusion cannot be shortened by anyone, and KYC moves through its review."""

    list_display = ["player", "self_excluded_until", "timed_out_until", "max_stake", "deposit_day", "loss_day",
                    "session_minutes", "kyc_status"]
    list_filter = ["kyc_status"]
    search_fields = ["player__username"]


@admin.register(OutcomeExposure)
class OutcomeExposureAdmin(ReadOnlyAdmin):
    list_display = ["outcome", "stakes", "worst_case_payout", "bets"]
    list_select_related = ["outcome__market__event"]
    ordering = ["-worst_case_payout"]


class AlertReasonForm(forms.Form):
    # Optional here: the service refuses a close without one (reason_required).
    reason = forms.CharField(max_length=REASON_MAX, required=False, widget=forms.TextInput(attrs={"size": 60}))


def _alert_step(status: str):
    def run(alert, data, actor):
        done = aml_alert_update(alert_id=alert.pk, status=status, reason=data["reason"], actor=actor)
        return f"Alert {done.pk} is {done.get_status_display().lower()}."

    return run


@admin.register(AmlAlert)
class AmlAlertAdmin(ServiceActionsAdmin, ReadOnlyAdmin):
    """Read-only: alerts are raised by the monitoring and moved on only by its workflow (risk.aml)."""

    list_display = ["id", "rule", "user", "severity", "status", "created_at", "updated_at"]
    list_filter = ["status", "rule", "severity"]
    search_fields = ["=id", "=user__id", "user__username", "reference"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    object_actions = (
        ObjectAction("investigate", "Investigate", "risk.change_amlalert", _alert_step(AmlAlert.Status.INVESTIGATING),
                     form=AlertReasonForm, offered=lambda alert: alert.status == AmlAlert.Status.OPEN),
        ObjectAction("close", "Close with reason", "risk.change_amlalert", _alert_step(AmlAlert.Status.CLOSED),
                     form=AlertReasonForm, offered=lambda alert: alert.status == AmlAlert.Status.INVESTIGATING,
                     help="Closed is final; the reason is kept on the alert."),
    )


def _kyc_decision(decide, done: str):
    def run(document, data, actor):
        decide(player_id=document.player_id, document_id=document.pk, reason=data["reason"], actor=actor)
        return done.format(player=document.player)

    return run


def _waiting(document: KycDocument) -> bool:
    return document.status == KycStatus.PENDING


@admin.register(KycDocument)
class KycDocumentAdmin(ServiceActionsAdmin, ReadOnlyAdmin):
    """Compliance reviews identity documents here as on the console: the buttons call risk.kyc's services.
    The number shows masked in the list and to regulators; in full, with a link to the scan, on a reviewer's
    change page. Each such opening, and each download of a scan, is audited."""

    list_display = ["id", "player", "document_type", "number", "has_file", "status", "submitted_at", "reviewed_by",
                    "reviewed_at"]
    list_filter = ["status", "document_type"]
    search_fields = ["=id", "=player__id", "player__username"]
    list_select_related = ["player", "reviewed_by"]
    date_hierarchy = "submitted_at"
    readonly_fields = ["number", "number_in_full", "scan", "scan_link"]
    object_actions = (
        ObjectAction("verify", "Verify", KYC_REVIEW, _kyc_decision(kyc_verify, "{player} is verified."),
                     form=ReasonForm, offered=_waiting, help="The reason is a note for staff."),
        ObjectAction("reject", "Reject with reason", KYC_REVIEW,
                     _kyc_decision(kyc_reject, "{player}'s document is rejected; they are told why."),
                     form=ReasonForm, offered=_waiting, help="The player reads the reason and may send another."),
    )

    def get_fields(self, request, obj=None):
        reviewer = request.user.has_perm(KYC_REVIEW)
        return ["player", "document_type", "number_in_full" if reviewer else "number",
                "scan_link" if reviewer else "scan", "status", "reason", "submitted_at", "reviewed_by", "reviewed_at"]

    def get_urls(self):
        return [path("<int:object_id>/file/", self.admin_site.admin_view(self.file_view),
                     name="risk_kycdocument_file"), *super().get_urls()]

    def file_view(self, request, object_id: int) -> HttpResponse:
        """The scan, decrypted, as a download (never shown inline: it is the player's, not a page's)."""
        if not request.user.has_perm(KYC_REVIEW):
            raise PermissionDenied
        try:
            scan = kyc_file_open(document_id=object_id, actor=Actor.from_request(request))
        except NotFound as exc:
            raise Http404(exc.message) from None
        response = HttpResponse(scan.content, content_type=scan.content_type)
        response["Content-Disposition"] = f'attachment; filename="{scan.name}"'
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        document = self.get_object(request, object_id) if request.method == "GET" else None
        if document is not None and request.user.has_perm(KYC_REVIEW):
            kyc_document_open(document_id=document.pk, actor=Actor.from_request(request))  # audits the reading
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Document number")
    def number(self, document: KycDocument) -> str:
        return number_masked(document.document_number)

    @admin.display(description="Document number")
    def number_in_full(self, document: KycDocument) -> str:
        return document.document_number

    @admin.display(description="File", boolean=True)
    def has_file(self, document: KycDocument) -> bool:
        return bool(document.file)

    @admin.display(description="File")
    def scan(self, document: KycDocument) -> str:
        return f"{document.file_content_type}, {document.file_size} bytes" if document.file else "—"

    @admin.display(description="File")
    def scan_link(self, document: KycDocument) -> str:
        if not document.file:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:risk_kycdocument_file", args=[document.pk]),
                           self.scan(document))
