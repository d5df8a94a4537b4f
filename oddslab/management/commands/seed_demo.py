"""Demo users for a local run. Running it again changes nothing (users and deposits are keyed)."""

from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from audit.context import Actor
from oddslab.accounts.services import user_with_role
from wallet.services import wallet_deposit

# (username, password, role, opening play credits)
DEMO_USERS = [
    ("admin", "admin-demo-pass", "admin", None),
    ("trader", "trader-demo-pass", "trader", None),
    ("regulator", "regulator-demo-pass", "regulator", None),
    ("compliance", "compliance-demo-pass", "compliance", None),
    ("agent", "agent-demo-pass", "agent", None),
    ("alice", "alice-demo-pass", "player", Decimal("10000.00")),
    ("bob", "bob-demo-pass", "player", Decimal("5000.00")),
]


class Command(BaseCommand):
    help = "Create the demo users (admin, trader, regulator, compliance, agent, two players)."

    def handle(self, *args, **options):
        actor = Actor.system("seed_demo")
        rows = []
        with transaction.atomic():
            for username, password, role, credits in DEMO_USERS:
                user, created = user_with_role(username=username, password=password, role=role,
                                               email=f"{username}@oddslab.test")
                if credits is not None:
                    # The key makes the opening deposit happen once, however often this runs.
                    wallet_deposit(user=user, amount=credits, actor=actor,
                                   idempotency_key=f"seed-demo-opening-{username}")
                rows.append((username, password, role, "created" if created else "exists"))
        self.stdout.write("Demo accounts (password shown only for local use):")
        for username, password, role, state in rows:
            self.stdout.write(f"  {role:<11} {username:<11} {password:<20} ({state})")
