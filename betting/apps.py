from django.apps import AppConfig


class BettingConfig(AppConfig):
    name = "betting"
    verbose_name = "Bets"

    def ready(self) -> None:
        # The wallet and ledger apps sit below betting: they learn what a challenge's confirmation does,
        # and what escrow must hold, this way.
        from betting.challenges import challenge_transfer_decided
        from betting.escrow_audit import escrow_problems
        from ledger.selectors import ledger_check_register
        from wallet.gateways import gateway_handler_register

        gateway_handler_register("challenge", challenge_transfer_decided)
        # ledger_check also proves escrow holds exactly the stakes of the challenges it holds.
        ledger_check_register("escrow", escrow_problems)
