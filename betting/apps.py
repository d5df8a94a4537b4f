from django.apps import AppConfig


class BettingConfig(AppConfig):
    name = "betting"
    verbose_name = "Bets"

    def ready(self) -> None:
        # The wallet app sits below betting: it learns what a challenge's confirmation does this way.
        from betting.challenges import challenge_transfer_decided
        from wallet.gateways import gateway_handler_register

        gateway_handler_register("challenge", challenge_transfer_decided)
