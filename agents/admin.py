from django import forms
from django.contrib import admin
from django.forms.models import model_to_dict

from agents.models import CommissionLine, CommissionPlan, CommissionStatement
from agents.services import REASON_MAX, commission_approve, commission_reject
from audit.admin_tools import ObjectAction, ReadOnlyAdmin, ReadOnlyInline, ServiceActionsAdmin
from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record

DECIDE = "agents.change_commissionstatement"


class CommissionLineInline(ReadOnlyInline):
    model = CommissionLine
    fields = ["kind", "base", "rate", "amount"]


class DecisionForm(forms.Form):
    # Optional here: the service refuses a decision without one (reason_required), with its own code.
    reason = forms.CharField(max_length=REASON_MAX, required=False, widget=forms.TextInput(attrs={"size": 60}))


def _decide(service, done: str):
    def run(statement, data, actor):
        decided = service(statement_id=statement.pk, reason=data["reason"], actor=actor)
        return done.format(statement=decided, status=decided.get_status_display().lower())

    return run


def _pending(statement: CommissionStatement) -> bool:
    return statement.status == CommissionStatement.Status.PENDING


@admin.register(CommissionStatement)
class CommissionStatementAdmin(ServiceActionsAdmin, ReadOnlyAdmin):
    """Read-only: the commission run writes statements; compliance approves (pays) or rejects them
    through agents.services, here or on the console's Commissions page."""

    list_display = ["id", "agent", "tenant", "period_start", "period_end", "deposits", "turnover", "ggr", "amount",
                    "status", "decided_at"]
    list_filter = ["status", "period_start"]  # no tenant filter: its choices would name every tenant
    search_fields = ["=id", "=agent__id", "agent__username"]
    list_select_related = ["agent", "tenant"]
    inlines = [CommissionLineInline]
    object_actions = (
        ObjectAction("approve", "Approve and pay", DECIDE, _decide(commission_approve, "{statement} is {status}."),
                     form=DecisionForm, offered=_pending,
                     help="Pays the amount from the commission pool to the agent's wallet (one ledger transfer)."),
        ObjectAction("reject", "Reject", DECIDE, _decide(commission_reject, "{statement} is {status}."),
                     form=DecisionForm, offered=_pending, help="Nothing is paid; the reason is kept."),
    )


@admin.register(CommissionPlan)
class CommissionPlanAdmin(admin.ModelAdmin):
    """One plan per tenant (made with the tenant); the admin edits its rates, floors and caps, each edit
    audited with before and after. Statements already written keep the figures they were computed with."""

    list_display = ["tenant", "deposit_rate", "deposit_floor", "deposit_cap", "turnover_rate", "turnover_floor",
                    "turnover_cap", "ggr_share", "updated_at"]
    readonly_fields = ["tenant", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        before = model_to_dict(CommissionPlan.objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)
        audit_record(actor=Actor.from_request(request), action=f"commissionplan.{'change' if change else 'add'}",
                     category=AuditLog.Category.COMPLIANCE, resource_type="commissionplan", resource_id=obj.pk,
                     resource_label=str(obj), details={"before": _plain(before), "after": _plain(model_to_dict(obj))})


def _plain(values: dict) -> dict:
    return {key: value if isinstance(value, bool | int | type(None)) else str(value) for key, value in values.items()}
