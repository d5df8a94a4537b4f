from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "oddslab.console"
    label = "console"
    verbose_name = "Operator console"
