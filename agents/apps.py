from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Agents and commissions"

    def ready(self) -> None:
        # ledger_check also proves each paid statement was paid exactly once, by its one transfer.
        from agents.services import commission_problems
        from ledger.selectors import ledger_check_register

        ledger_check_register("commissions", commission_problems)
