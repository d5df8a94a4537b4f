from django.contrib import admin
from django.forms.models import model_to_dict
from simple_history.admin import SimpleHistoryAdmin

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record


class ReadOnlyAdmin(admin.ModelAdmin):
    """For append-only records (transfers, audit rows) and rows only services change."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent, changed only by services."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class AuditedSettingsAdmin(SimpleHistoryAdmin):
    """Rules kept as data (limits, caps, geofence): every edit is audited with before and after,
    in the admin's own transaction, besides the model history."""

    audit_category = AuditLog.Category.COMPLIANCE

    def save_model(self, request, obj, form, change):
        before = model_to_dict(type(obj).objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)
        self._audit(request, obj, "change" if change else "add",
                    {"before": _plain(before), "after": _plain(model_to_dict(obj))})

    def delete_model(self, request, obj):
        self._audit(request, obj, "delete", {"before": _plain(model_to_dict(obj))})
        super().delete_model(request, obj)

    def _audit(self, request, obj, verb, details):
        audit_record(actor=Actor.from_request(request), action=f"{obj._meta.model_name}.{verb}",
                     category=self.audit_category, resource_type=obj._meta.model_name,
                     resource_id=obj.pk, resource_label=str(obj), details=details)


def _plain(values: dict) -> dict:
    return {key: value if isinstance(value, bool | int | type(None)) else str(value)
            for key, value in values.items()}
