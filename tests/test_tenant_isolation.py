"""Tenant isolation (issue 17, DESIGN.md "Tenants and agents"): staff of one tenant never read a row of
another, in the API's lists and details, the CSV exports, the reports, the console pages and every
admin changelist; the platform admin and regulators read both.

Two white-label tenants, alpha and beta, each with a player who deposited, bet (settled), challenged,
sent an identity document and raised an AML alert, and each with its own trader, compliance officer and
admin. Every check runs both ways round, and for the platform admin and a regulator, who must see both.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from accounts.models import Tenant, User
from audit.context import Actor
from betting.challenges import challenge_create
from betting.models import Bet
from betting.services import bet_place
from betting.settlement import bet_settle_manual
from ledger.models import Account
from risk.aml import aml_check_deposit
from risk.kyc import kyc_submit
from tests.conftest import bets_snapshot, ledger_snapshot
from wallet.services import wallet_deposit

PASSWORD = "a-long-test-password"
TODAY = {"start": "2000-01-01", "end": "2999-12-31"}


@pytest.fixture
def world(db, make_user, make_event):
    """Players, staff and their rows in tenants alpha and beta."""
    event = make_event()
    home = event.markets.get(kind="match_result").outcomes.get(key="home")
    w = SimpleNamespace(tenants={})
    for slug in ("alpha", "beta"):
        tenant = Tenant.objects.create(slug=slug, name=slug.title())
        made = {role: make_user(role, f"{slug}-{role}") for role in ("player", "trader", "compliance", "admin")}
        # a tenant's admin holds the admin role, not a superuser's powers (those are the platform's)
        User.objects.filter(pk__in=[u.pk for u in made.values()]).update(tenant=tenant, is_superuser=False)
        player = User.objects.get(pk=made["player"].pk)
        deposit = wallet_deposit(user=player, amount=Decimal("10000.00"), actor=Actor.of(player))
        aml_check_deposit(deposit.transfer.pk)
        bet = bet_place(player=player, selections=[{"outcome_id": home.pk, "price": str(home.price)}],
                        stake="5.00", bet_type="single", actor=Actor.of(player))
        bet_settle_manual(bet_id=bet.pk, result="lost", reason="isolation", actor=Actor.system("test"))
        challenge_create(creator=player, event_id=event.pk, outcome_id=home.pk, stake="5.00", funding="internal",
                         actor=Actor.of(player))
        document = kyc_submit(player=player, document_type="passport", document_number=f"{slug.upper()}-123456",
                              actor=Actor.of(player))
        w.tenants[slug] = SimpleNamespace(
            tenant=tenant, player=player, bet=Bet.objects.get(pk=bet.pk), document=document,
            wallet=Account.objects.get(owner=player),
            staff={role: User.objects.get(pk=made[role].pk) for role in ("trader", "compliance", "admin")})
    w.platform_admin = make_user("admin", "platform-admin")
    w.regulator = make_user("regulator", "the-regulator")
    return w


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- API lists and exports: what another tenant's rows would show --------------------------------

LISTS = [
    # (url, roles that may read it, what of the other tenant it would show)
    ("/api/v1/bets", ("trader", "compliance", "admin"), "bet_id"),
    ("/api/v1/accounts", ("trader", "compliance", "admin"), "wallet_id"),
    ("/api/v1/audit-logs", ("compliance", "admin"), "username"),
    ("/api/v1/compliance/kyc", ("compliance", "admin"), "username"),
    ("/api/v1/compliance/alerts", ("compliance", "admin"), "player_id"),
    ("/api/v1/challenges", ("trader", "compliance", "admin"), "creator_id"),
    ("/api/v1/exports/bets.csv", ("compliance", "admin"), "username"),
    ("/api/v1/exports/settlements.csv", ("compliance", "admin"), "username"),
    ("/api/v1/exports/challenges.csv", ("compliance", "admin"), "username"),
    ("/api/v1/exports/ledger.csv", ("compliance", "admin"), "wallet"),
    ("/api/v1/exports/audit-logs.csv", ("compliance", "admin"), "username"),
    ("/api/v1/exports/aml-alerts.csv", ("compliance", "admin"), "player_id"),
]


def _shows(world, slug, body: str, what: str) -> bool:
    t = world.tenants[slug]
    needle = {"bet_id": f'"id":{t.bet.pk},', "wallet_id": f'"id":{t.wallet.pk},', "username": t.player.username,
              "wallet": t.wallet.code, "player_id": f"{t.player.pk}",
              "creator_id": f'"creator_id":{t.player.pk},'}[what]
    if what == "player_id":  # an alert's user id, in JSON or in the CSV's user_id column
        return f'"user_id":{t.player.pk}' in body or f",{t.player.pk}," in body
    return needle in body


def _body(client, url) -> str:
    response = client.get(url, TODAY if "exports" in url else {})
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode().replace(" ", "")


# One world for the whole table (building it is most of the time): each row a loop step, named on failure.

def test_a_tenants_staff_never_list_another_tenants_rows(world):
    for url, roles, what in LISTS:
        for mine, theirs in (("alpha", "beta"), ("beta", "alpha")):
            for role in roles:
                body = _body(_client(world.tenants[mine].staff[role]), url)
                assert not _shows(world, theirs, body, what), (role, mine, url)
                assert _shows(world, mine, body, what), (role, mine, url, "its own rows are listed")


def test_the_platform_admin_and_regulators_list_every_tenant(world):
    for url, _roles, what in LISTS:
        for viewer in (world.platform_admin, world.regulator):
            body = _body(_client(viewer), url)
            assert _shows(world, "alpha", body, what) and _shows(world, "beta", body, what), (viewer, url)


# --- Details: another tenant's ids are 404 --------------------------------------------------------

def _details(t):
    return [
        ("get", f"/api/v1/bets/{t.bet.pk}", None, ("trader", "compliance", "admin")),
        ("get", f"/api/v1/accounts/{t.wallet.pk}/transactions", None, ("trader", "compliance", "admin")),
        ("get", f"/api/v1/compliance/kyc/documents/{t.document.pk}", None, ("compliance", "admin")),
        ("post", f"/api/v1/compliance/kyc/{t.player.pk}/verify", {"reason": "ok"}, ("compliance", "admin")),
        ("post", "/api/v1/bonuses", {"user_id": t.player.pk, "amount": "1.00", "reason": "r"}, ("trader", "admin")),
        ("post", f"/api/v1/bets/{t.bet.pk}/settle", {"result": "void", "reason": "r"}, ("trader", "admin")),
    ]


def test_another_tenants_ids_are_not_found(world):
    ledger, bets = ledger_snapshot(), bets_snapshot()
    for mine, theirs in (("alpha", "beta"), ("beta", "alpha")):
        for method, url, body, roles in _details(world.tenants[theirs]):
            for role in roles:
                client = _client(world.tenants[mine].staff[role])
                response = getattr(client, method)(url, body, content_type="application/json")
                assert response.status_code == 404, (role, mine, url, response.status_code, response.content[:200])
    document = world.tenants["beta"].document
    document.refresh_from_db()
    assert document.status == "pending"  # the refused decision changed nothing
    assert (ledger_snapshot(), bets_snapshot()) == (ledger, bets)  # nor did the bonus or the settlement


def test_an_alert_of_another_tenant_cannot_be_worked(world):
    alerts = apps.get_model("risk", "AmlAlert").objects
    theirs = alerts.get(user=world.tenants["beta"].player)
    response = _client(world.tenants["alpha"].staff["compliance"]).post(
        f"/api/v1/compliance/alerts/{theirs.pk}", {"status": "investigating"}, content_type="application/json")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "open"


def test_events_markets_and_prices_are_the_platforms_to_change(world, make_user):
    market = world.tenants["alpha"].bet.legs.get().market
    before = market.status
    for role in ("trader", "admin"):
        response = _client(world.tenants["alpha"].staff[role]).post(f"/api/v1/markets/{market.pk}/suspend", {},
                                                                    content_type="application/json")
        assert response.status_code == 403 and response.json()["error"] == "forbidden", (role, response.content)
    market.refresh_from_db()
    assert market.status == before
    platform_trader = make_user("trader", "platform-trader")
    response = _client(platform_trader).post(f"/api/v1/markets/{market.pk}/suspend", {},
                                             content_type="application/json")
    assert response.status_code == 200, response.content


# --- Reports --------------------------------------------------------------------------------------

def test_the_ggr_report_counts_the_viewers_tenant_and_filters_by_tenant(world):
    alpha_staff = _client(world.tenants["alpha"].staff["compliance"])
    assert alpha_staff.get("/api/v1/reports/ggr", TODAY).json()["total_staked"] == "5.00"
    assert alpha_staff.get("/api/v1/reports/ggr", {**TODAY, "tenant": "beta"}).json()["total_staked"] == "0.00"
    everyone = _client(world.regulator)
    assert everyone.get("/api/v1/reports/ggr", TODAY).json()["total_staked"] == "10.00"
    assert everyone.get("/api/v1/reports/ggr", {**TODAY, "tenant": "beta"}).json()["total_staked"] == "5.00"


def test_the_liability_book_is_the_platforms(world):
    assert _client(world.tenants["alpha"].staff["trader"]).get("/api/v1/reports/liabilities").status_code == 403
    assert _client(world.platform_admin).get("/api/v1/reports/liabilities").status_code == 200


# --- Console pages --------------------------------------------------------------------------------

CONSOLE = ["console:ledger", "console:audit", "console:aml-alerts", "console:kyc"]


def test_console_pages_show_the_viewers_tenant_only(world):
    for mine, theirs in (("alpha", "beta"), ("beta", "alpha")):
        client = _client(world.tenants[mine].staff["admin"])
        for name in CONSOLE:
            url = reverse(name) + ("?status=" if name == "console:kyc" else "")
            page = client.get(url).content.decode()
            assert world.tenants[mine].player.username in page or name == "console:audit", (mine, name)
            assert world.tenants[theirs].player.username not in page, (mine, name)
        wallet = world.tenants[theirs].wallet
        assert client.get(reverse("console:ledger-statement", args=[wallet.pk])).status_code == 404


# --- The admin: every changelist of a tenant-scoped model ------------------------------------------

SCOPED = [model for model in admin.site._registry if getattr(model, "tenant_paths", None)]


def test_admin_changelists_list_the_viewers_tenant_only(world):
    beta = world.tenants["beta"].tenant
    assert len(SCOPED) >= 14, "the scoped models are registered in the admin"
    for model in SCOPED:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        theirs = set(model.objects.in_tenant(beta.pk).values_list("pk", flat=True))
        for viewer in (world.tenants["alpha"].staff["admin"], world.tenants["alpha"].staff["compliance"]):
            response = _client(viewer).get(url)
            if response.status_code == 403:
                continue  # this role does not read this model at all
            assert response.status_code == 200, (viewer, url, response.status_code)
            shown = set(response.context["cl"].queryset.values_list("pk", flat=True))
            assert not shown & theirs, (viewer.username, model._meta.label)
            for pk in list(theirs)[:3]:
                change = _client(viewer).get(reverse(
                    f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk]))
                assert change.status_code in (302, 404), (viewer.username, model._meta.label, pk)
        everyone = _client(world.platform_admin).get(url)
        assert set(everyone.context["cl"].queryset.values_list("pk", flat=True)) >= theirs, model._meta.label
