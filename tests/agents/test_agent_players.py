"""An agent's players: creating them (API and page), and the figures the agent reads, which never
include a player's personal details (docs/tenants.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Tenant, User
from agents.models import CommissionStatement
from agents.players import agent_players
from agents.tenants import tenant_create
from audit.context import Actor
from betting.services import bet_place
from betting.settlement import bet_settle_manual
from ledger.models import Account
from tests.conftest import audit_rows, selection
from wallet.services import wallet_deposit

NEW_PLAYER = {"username": "recruit", "password": "a-long-test-password", "email": "recruit@example.test",
              "country": "DE"}
SYSTEM = Actor.system("test")


@pytest.fixture
def north(db) -> Tenant:
    return tenant_create(slug="north", name="North Bet", actor=SYSTEM).tenant


@pytest.fixture
def agent(make_user, north):
    made = make_user("agent")
    User.objects.filter(pk=made.pk).update(tenant=north)
    made.refresh_from_db()
    return made


def under(agent, make_user, balance: str | None = None):
    player = make_user(balance=None)
    User.objects.filter(pk=player.pk).update(tenant=agent.tenant, agent=agent)
    if balance:
        wallet_deposit(user=player, amount=Decimal(balance), actor=SYSTEM)
    player.refresh_from_db()
    return player


# --- Creating a player --------------------------------------------------------------------------

def test_an_agent_creates_a_player_in_their_tenant(api, agent):
    # when
    response = api(agent).post("/api/v1/agent/players", NEW_PLAYER, format="json")
    # then
    assert response.status_code == 201, response.json()
    assert set(response.json()) == {"id", "username"}
    player = User.objects.get(pk=response.json()["id"])
    assert (player.tenant_id, player.agent_id, player.country) == (agent.tenant_id, agent.pk, "DE")
    assert list(player.groups.values_list("name", flat=True)) == ["player"]
    assert Account.objects.get(owner=player).balance == Decimal("0.00")  # registration's wallet
    assert player.check_password(NEW_PLAYER["password"])
    row = audit_rows("agent.player_create", "success").get()
    assert (row.actor_id, row.resource_id) == (agent.pk, str(player.pk))


def test_creating_a_player_takes_registrations_rules(api, agent):
    # given
    users = User.objects.count()
    # when: a weak password, a bad country, a taken username
    weak = api(agent).post("/api/v1/agent/players", {**NEW_PLAYER, "password": "short"}, format="json")
    country = api(agent).post("/api/v1/agent/players", {**NEW_PLAYER, "country": "G1"}, format="json")
    taken = api(agent).post("/api/v1/agent/players", {**NEW_PLAYER, "username": agent.username.upper()},
                            format="json")
    # then
    assert (weak.status_code, weak.json()["error"]) == (400, "weak_password")
    assert (country.status_code, country.json()["error"]) == (400, "invalid_country")
    assert (taken.status_code, taken.json()["error"]) == (409, "username_taken")
    assert User.objects.count() == users


@pytest.mark.parametrize("role", ["player", "trader", "compliance", "regulator", "admin"])
def test_only_agents_create_and_list_players(api, make_user, role):
    users = User.objects.count() + 1  # the caller
    user = make_user(role)
    assert api(user).post("/api/v1/agent/players", NEW_PLAYER, format="json").status_code == 403
    assert api(user).get("/api/v1/agent/players").status_code == 403
    assert User.objects.count() == users


def test_anonymous_is_asked_to_log_in(api, db):
    assert api().post("/api/v1/agent/players", NEW_PLAYER, format="json").status_code == 401
    assert api().get("/api/v1/agent/players").status_code == 401
    assert not User.objects.filter(username="recruit").exists()


# --- The figures ----------------------------------------------------------------------------------

def test_the_list_shows_each_players_figures_and_nothing_personal(api, make_user, make_event, agent):
    # given two players of the agent: deposits, a won and a lost bet settled, one bet still open
    rich, quiet = under(agent, make_user, "100.00"), under(agent, make_user)
    wallet_deposit(user=rich, amount=Decimal("50.00"), actor=SYSTEM)
    trader = make_user("trader")  # of the players' tenant: a trader settles their own tenant's bets only
    User.objects.filter(pk=trader.pk).update(tenant=agent.tenant)
    trader.refresh_from_db()
    event = make_event(home="2.50")
    bets = [bet_place(player=rich, selections=[selection(event)], stake=stake, bet_type="single",
                      actor=Actor.of(rich)) for stake in ("10.00", "20.00", "5.00", "7.00")]
    bet_settle_manual(bet_id=bets[0].pk, result="won", reason="test", actor=Actor.of(trader))  # pays 25.00
    bet_settle_manual(bet_id=bets[1].pk, result="lost", reason="test", actor=Actor.of(trader))
    bet_settle_manual(bet_id=bets[3].pk, result="void", reason="test", actor=Actor.of(trader))  # stake back
    # and another agent's player, and a player of no agent, with figures of their own
    other_agent = make_user("agent")
    under(other_agent, make_user, "70.00")
    make_user(balance="80.00")
    # when
    response = api(agent).get("/api/v1/agent/players")
    # then: deposits 150.00; stakes settled won or lost 30.00; GGR 30.00 − 25.00; the open and the void
    # bet count nowhere
    assert response.status_code == 200
    assert response.json() == [
        {"id": p.pk, "username": p.username, "deposits": d, "stakes": s, "ggr": g}
        for p, d, s, g in sorted([(rich, "150.00", "30.00", "5.00"), (quiet, "0.00", "0.00", "0.00")],
                                 key=lambda row: row[0].username)]
    text = response.content.decode()
    for personal in (rich.email, quiet.email, '"country"', '"email"', "registration_ip"):
        assert personal not in text
    # and the other agent sees only theirs
    assert [p["username"] for p in api(other_agent).get("/api/v1/agent/players").json()] == \
        list(other_agent.agent_players.values_list("username", flat=True))


def test_a_period_narrows_the_figures(api, make_user, agent):
    # given
    player = under(agent, make_user, "40.00")
    today = timezone.now().date().isoformat()
    # when / then: today's figures, an old period's (nothing), and a malformed day
    assert api(agent).get(f"/api/v1/agent/players?start={today}&end={today}").json()[0]["deposits"] == "40.00"
    old = api(agent).get("/api/v1/agent/players?start=2020-01-01&end=2020-01-31").json()
    assert old == [{"id": player.pk, "username": player.username, "deposits": "0.00", "stakes": "0.00",
                    "ggr": "0.00"}]
    bad = api(agent).get("/api/v1/agent/players?start=2020-13-01")
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_date")
    reversed_period = api(agent).get("/api/v1/agent/players?start=2020-02-01&end=2020-01-01")
    assert (reversed_period.status_code, reversed_period.json()["error"]) == (400, "invalid_date")


def test_the_figures_take_one_query_however_many_players(make_user, agent):
    for _ in range(5):
        under(agent, make_user, "10.00")
    with CaptureQueriesContext(connection) as queries:
        rows = agent_players(agent=agent)
    assert len(rows) == 5 and len(queries) == 1


# --- The agent page -----------------------------------------------------------------------------

def test_the_agent_page_lists_players_creates_one_and_shows_statements(make_user, agent):
    # given a player, and a statement of the agent's
    player = under(agent, make_user, "25.00")
    CommissionStatement.objects.create(agent=agent, tenant=agent.tenant, period_start="2026-11-01",
                                       period_end="2026-12-01", deposits="25.00", turnover="0.00", ggr="0.00",
                                       amount="0.50")
    page = Client()
    page.force_login(agent)
    # when
    html = page.get("/account/agent").content.decode()
    # then
    assert f'id="agent-player-{player.pk}"' in html and "25.00" in html and player.email not in html
    assert agent.agent_code in html
    assert "0.50" in html and "Pending" in html
    # and the form creates a player under the agent
    created = page.post("/account/agent", NEW_PLAYER)
    assert created.status_code == 302
    assert User.objects.get(username="recruit").agent_id == agent.pk
    # and a refusal is shown on the form, writing nothing
    refused = page.post("/account/agent", {**NEW_PLAYER, "username": "recruit2", "password": "short"})
    assert refused.status_code == 422
    assert not User.objects.filter(username="recruit2").exists()


@pytest.mark.parametrize("role", ["player", "trader", "admin"])
def test_the_agent_page_is_for_agents(make_user, role):
    page = Client()
    page.force_login(make_user(role))
    assert page.get("/account/agent").status_code == 403
    assert page.post("/account/agent", NEW_PLAYER).status_code == 403
    assert not User.objects.filter(username="recruit").exists()
