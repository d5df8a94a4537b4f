from django.apps import AppConfig


class CasinoConfig(AppConfig):
    name = "casino"
    verbose_name = "Casino"

    def ready(self) -> None:
        # ledger_check also proves every round's stake and payout moved through the ledger, once.
        from casino.sql import round_problems
        from ledger.selectors import ledger_check_register

        ledger_check_register("casino", round_problems)
