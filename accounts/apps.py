from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from accounts import signals, throttle  # noqa: F401  (connect the security events' receivers)
