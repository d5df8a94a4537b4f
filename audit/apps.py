from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and notifications"


class ScopedAdminConfig(admin_apps.AdminConfig):
    """Django's admin whose site reads every tenant-scoped model through ``visible_to``."""

    default = False
    default_site = "audit.admin_tools.TenantScopedSite"
