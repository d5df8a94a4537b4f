from django.contrib import admin

from audit.admin_tools import ReadOnlyAdmin
from audit.models import AuditLog, Notification


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "outcome", "severity", "category", "actor_label",
                    "actor_role", "resource_type", "resource_id", "ip_address"]
    list_filter = ["category", "severity", "outcome", "actor_role", "resource_type", "created_at"]
    search_fields = ["action", "actor_label", "resource_id", "resource_label"]
    date_hierarchy = "created_at"


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "audience", "user", "kind", "message", "read_at"]
    list_filter = ["audience", "kind"]
    search_fields = ["message", "user__username"]
