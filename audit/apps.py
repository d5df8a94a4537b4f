from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and notifications"

    def ready(self) -> None:
        from audit import signals  # noqa: F401  (login and failed-login records)
