"""Demo users for a local run. Running it again changes nothing (users and deposits are keyed)."""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.services import user_with_role
from audit.context import Actor
from events.models import Event
from events.services import MarketSpec, event_create
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
    ("carol", "carol-demo-pass", "player", Decimal("750.00")),
]
# The demo agent's players: their deposits (and, once settled, their bets) make the agent's commission
# statement (POST /api/v1/commissions/run over a period holding today; docs/agents.md).
DEMO_AGENT, DEMO_AGENT_PLAYERS = "agent", ("alice", "bob", "carol")


# (home, away, competition, hours from now, home/draw/away prices)
DEMO_EVENTS = [
    ("Riverside Rovers", "Harbour Town", "Odds Lab League", 2, ("2.10", "3.40", "3.30")),
    ("Northgate United", "Old Mill Athletic", "Odds Lab League", 5, ("1.75", "3.80", "4.50")),
    ("Castle Park", "Westbrook City", "Odds Lab Cup", 26, ("2.60", "3.10", "2.70")),
]
# A basketball game with its rosters, for player propositions (home, away, hours from now, players a side)
DEMO_GAME = ("Harbour City Hawks", "Valley Comets", 3,
             {"home": ["Jay Brooks", "Marcus Hayes", "Andre Okafor", "Tyler Reyes", "Sam Lindqvist"],
              "away": ["Luis Moreno", "Devon Carter", "Kofi Mensah", "Noah Petrov", "Eli Nakamura"]})


class Command(BaseCommand):
    help = ("Create the demo users (admin, trader, regulator, compliance, agent, three players of the agent) "
            "and events "
            "(a basketball game among them, with its rosters).")

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
            agent = get_user_model().objects.get(username=DEMO_AGENT)
            get_user_model().objects.filter(username__in=DEMO_AGENT_PLAYERS, agent__isnull=True,
                                            tenant_id=agent.tenant_id).update(agent=agent)
            for home, away, competition, hours, (h, d, a) in DEMO_EVENTS:
                if not Event.objects.filter(home=home, away=away).exists():
                    event_create(
                        home_team=home, away_team=away, sport="football", competition=competition,
                        start_time=timezone.now() + timedelta(hours=hours), actor=actor,
                        markets=[MarketSpec(kind="match_result", prices={"home": h, "draw": d, "away": a}),
                                 MarketSpec(kind="over_under", line="2.5", prices={"over": "1.90", "under": "1.90"}),
                                 MarketSpec(kind="both_teams_to_score", prices={"yes": "1.80", "no": "2.00"}),
                                 MarketSpec(kind="double_chance", prices={
                                     "home_draw": "1.30", "home_away": "1.30", "draw_away": "1.45"})])
            home, away, hours, roster = DEMO_GAME
            if not Event.objects.filter(home=home, away=away).exists():
                event_create(
                    home_team=home, away_team=away, sport="basketball", competition="Odds Lab Hoops",
                    start_time=timezone.now() + timedelta(hours=hours), actor=actor,
                    markets=[MarketSpec(kind="match_winner", prices={"home": "1.80", "away": "2.00"}),
                             MarketSpec(kind="total_points", line="215.5", prices={"over": "1.90", "under": "1.90"})],
                    players=[{"name": name, "team": team} for team, names in roster.items() for name in names])
        self.stdout.write("Demo accounts (password shown only for local use):")
        for username, password, role, state in rows:
            self.stdout.write(f"  {role:<11} {username:<11} {password:<20} ({state})")
        # issued with the agent role (accounts.services.user_with_role); players register with it
        self.stdout.write(f"Agent code of {DEMO_AGENT}: {agent.agent_code}")
