from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from accounts import throttle  # noqa: F401  (connects the lockout audit receiver)
