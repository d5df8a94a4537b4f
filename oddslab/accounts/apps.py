from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "oddslab.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"
