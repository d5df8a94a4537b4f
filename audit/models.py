"""Append-only audit trail and the notifications that players and staff read."""

from datetime import timedelta

from django.conf import settings
from django.db import models

from audit.tenancy import TenantQuerySet
from core.db import append_only


class AuditLog(models.Model):
    tenant_paths = ("actor__tenant",)  # audit.tenancy

    class Category(models.TextChoices):
        BETTING = "betting", "Betting"
        WALLET = "wallet", "Wallet"
        ADMIN = "admin", "Administration"
        SECURITY = "security", "Security"
        COMPLIANCE = "compliance", "Compliance"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        REFUSED = "refused", "Refused"
        ERROR = "error", "Error"

    # How long a record must be kept, by category: financial 5 years, security and compliance 7,
    # everything else 2.
    RETENTION = {
        Category.BETTING: timedelta(days=5 * 365),
        Category.WALLET: timedelta(days=5 * 365),
        Category.ADMIN: timedelta(days=2 * 365),
        Category.SECURITY: timedelta(days=7 * 365),
        Category.COMPLIANCE: timedelta(days=7 * 365),
    }

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True, default="")
    actor_role = models.CharField(max_length=32, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    action = models.CharField(max_length=64)  # indexed: Meta (without the LIKE index db_index adds)
    resource_type = models.CharField(max_length=32, blank=True, default="")  # leads audit_resource_idx
    resource_id = models.CharField(max_length=64, blank=True, default="")
    resource_label = models.CharField(max_length=200, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    category = models.CharField(max_length=16, choices=Category.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField()
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("export_auditlog", "Can export audit logs as CSV")]
        indexes = [models.Index(fields=["resource_type", "resource_id"], name="audit_resource_idx"),
                   models.Index(fields=["action"], name="audit_action_idx")]
        triggers = append_only("audit")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.outcome}"


class Notification(models.Model):
    """A message for one player, or for staff when ``user`` is empty and audience is staff."""

    tenant_paths = ("user__tenant",)  # audit.tenancy

    class Audience(models.TextChoices):
        PLAYER = "player", "Player"
        STAFF = "staff", "Staff"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
        related_name="notifications",
    )
    audience = models.CharField(max_length=16, choices=Audience.choices)
    kind = models.CharField(max_length=48)
    message = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(audience="staff") | models.Q(user__isnull=False),
                name="notification_player_has_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"
