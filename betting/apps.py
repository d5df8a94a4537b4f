from django.apps import AppConfig


class BettingConfig(AppConfig):
    name = "betting"
    verbose_name = "Bets"

    def ready(self) -> None:
        from betting.escrow_audit import escrow_problems
        from ledger.selectors import ledger_check_register

        # ledger_check also proves escrow holds exactly the stakes of the challenges it holds.
        ledger_check_register("escrow", escrow_problems)
