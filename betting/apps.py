from django.apps import AppConfig


class BettingConfig(AppConfig):
    name = "betting"
    verbose_name = "Bets"
