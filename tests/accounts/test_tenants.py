"""Tenants: creating and listing them per role, registering into one (a slug or an agent code), a
tenant's own limit profile, and its branding on the player pages (docs/tenants.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Tenant, User
from agents.models import CommissionPlan
from agents.tenants import tenant_create
from audit.context import Actor
from oddslab.web.branding import brand_forget
from risk.models import LimitProfile
from tests.conftest import audit_rows, bets_snapshot, selection

GOOD = {"slug": "north-bet", "name": "North Bet", "colour": "#aa3300", "max_winning": "50.00",
        "commission": {"deposit_rate": "0.03", "ggr_share": "0.2500", "turnover_cap": "250.00"}}


def written() -> dict:
    """What a tenant's creation writes: a refusal leaves all of it as it was."""
    return {"tenants": list(Tenant.objects.values_list("slug", flat=True)),
            "plans": CommissionPlan.objects.count(),
            "profiles": list(LimitProfile.objects.values_list("pk", flat=True))}


def tenant_of(slug: str, name: str | None = None, **extra) -> Tenant:
    return tenant_create(slug=slug, name=name or slug.title(), actor=Actor.system("test"), **extra).tenant


def admin_of(make_user, tenant: Tenant | None = None, *, platform: bool = False) -> User:
    """An admin who is no superuser: of the platform tenant, or of ``tenant``."""
    user = make_user("admin")
    User.objects.filter(pk=user.pk).update(
        is_superuser=False, tenant=Tenant.objects.get(slug=settings.PLATFORM_TENANT) if platform else tenant)
    return User.objects.get(pk=user.pk)


@pytest.fixture
def north(db) -> Tenant:
    return tenant_of("north", "North Bet", max_winning="50.00")


# --- Creating and listing per role ---------------------------------------------------------------

@pytest.mark.parametrize("role", ["player", "agent", "trader", "compliance", "regulator", "tenant_admin"])
def test_only_the_platform_admin_creates_a_tenant(api, make_user, north, role):
    # given
    user = admin_of(make_user, north) if role == "tenant_admin" else make_user(role)
    before = written()
    # when
    response = api(user).post("/api/v1/tenants", GOOD, format="json")
    # then
    assert response.status_code == 403, response.json()
    assert response.json()["error"] == "forbidden"
    assert written() == before


def test_an_anonymous_visitor_is_asked_to_log_in(api, db):
    before = written()
    assert api().post("/api/v1/tenants", GOOD, format="json").status_code == 401
    assert api().get("/api/v1/tenants").status_code == 401
    assert written() == before


def test_a_tenant_admins_refusal_is_audited(api, make_user, north):
    # given
    user = admin_of(make_user, north)
    # when
    api(user).post("/api/v1/tenants", GOOD, format="json")
    # then
    assert audit_rows("tenant.create", "refused").get().details["error"] == "forbidden"


@pytest.mark.parametrize("platform_admin", ["superuser", "admin of the platform tenant"])
def test_the_platform_admin_creates_a_tenant_with_its_plan_and_limits(api, make_user, platform_admin):
    # given
    user = make_user("admin") if platform_admin == "superuser" else admin_of(make_user, platform=True)
    # when
    response = api(user).post("/api/v1/tenants", GOOD, format="json")
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["slug"], body["name"], body["colour"], body["max_winning"]) == (
        "north-bet", "North Bet", "#aa3300", "50.00")
    assert body["commission"] == {"deposit_rate": "0.0300", "deposit_floor": "10.00", "deposit_cap": "1000.00",
                                  "turnover_rate": "0.0150", "turnover_floor": "5.00", "turnover_cap": "250.00",
                                  "ggr_share": "0.2500"}
    tenant = Tenant.objects.get(slug="north-bet")
    assert tenant.commission_plan.deposit_rate == Decimal("0.0300")
    profile = LimitProfile.objects.get(scope="tenant", tenant=tenant)
    assert profile.max_winning == Decimal("50.00") and profile.max_stake is None
    row = audit_rows("tenant.create", "success").get()
    assert (row.resource_id, row.actor_id) == (str(tenant.pk), user.pk)


def test_a_tenant_without_commission_or_max_winning_gets_the_default_plan(api, make_user):
    response = api(make_user("admin")).post("/api/v1/tenants", {"slug": "plain", "name": "Plain"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["max_winning"] is None and body["colour"] == "#1f6feb"
    assert body["commission"]["deposit_rate"] == "0.0200" and body["commission"]["ggr_share"] == "0.1000"
    assert not LimitProfile.objects.filter(scope="tenant", tenant__slug="plain").exists()


def test_the_list_per_role(api, make_user, north):
    # given a second tenant and the platform tenant
    tenant_of("south")
    everyone = sorted(Tenant.objects.values_list("slug", flat=True))
    assert {"north", "south", settings.PLATFORM_TENANT} <= set(everyone)
    # then the platform admin and regulators see every tenant; a tenant's admin its own
    for user in (make_user("admin"), admin_of(make_user, platform=True), make_user("regulator")):
        response = api(user).get("/api/v1/tenants")
        assert response.status_code == 200
        assert sorted(t["slug"] for t in response.json()) == everyone
    own = api(admin_of(make_user, north)).get("/api/v1/tenants").json()
    assert [(t["slug"], t["name"], t["max_winning"]) for t in own] == [("north", "North Bet", "50.00")]
    assert own[0]["commission"]["deposit_rate"] == "0.0200"
    # and players, agents, traders and compliance may not read them
    for role in ("player", "agent", "trader", "compliance"):
        assert api(make_user(role)).get("/api/v1/tenants").status_code == 403


# --- Duplicate and bad input ----------------------------------------------------------------------

def test_a_duplicate_slug_is_a_conflict(api, make_user, north):
    before = written()
    response = api(make_user("admin")).post("/api/v1/tenants", {**GOOD, "slug": "north"}, format="json")
    assert response.status_code == 409
    assert (response.json()["error"], response.json()["details"]["field"]) == ("tenant_exists", "slug")
    assert written() == before


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"slug": "North"}, "invalid_slug", "slug"),
    ({"slug": "-north"}, "invalid_slug", "slug"),
    ({"slug": "no rth"}, "invalid_slug", "slug"),
    ({"slug": "nörth"}, "invalid_slug", "slug"),
    ({"slug": "x" * 41}, "invalid_slug", "slug"),
    ({"slug": 12}, "invalid_slug", "slug"),
    ({"slug": None}, "invalid_slug", "slug"),
    ({"name": ""}, "invalid_name", "name"),
    ({"name": "n" * 81}, "invalid_name", "name"),
    ({"name": ["North"]}, "invalid_name", "name"),
    ({"colour": "red"}, "invalid_colour", "colour"),
    ({"colour": "#12345g"}, "invalid_colour", "colour"),
    ({"max_winning": "0"}, "invalid_amount", "max_winning"),
    ({"max_winning": 50.5}, "invalid_amount", "max_winning"),
    ({"max_winning": "٥٠"}, "invalid_amount", "max_winning"),  # Arabic-Indic digits
    ({"max_winning": "10.001"}, "invalid_amount", "max_winning"),
    ({"commission": {"deposit_rate": "1.5"}}, "invalid_rate", "commission.deposit_rate"),
    ({"commission": {"ggr_share": "-0.1"}}, "invalid_rate", "commission.ggr_share"),
    ({"commission": {"turnover_rate": "0.00001"}}, "invalid_rate", "commission.turnover_rate"),
    ({"commission": {"turnover_rate": 0.02}}, "invalid_rate", "commission.turnover_rate"),
    ({"commission": {"deposit_rate": "０.０２"}}, "invalid_rate", "commission.deposit_rate"),  # full-width
    ({"commission": {"deposit_rate": "NaN"}}, "invalid_rate", "commission.deposit_rate"),
    ({"commission": {"deposit_floor": "-1.00"}}, "invalid_amount", "commission.deposit_floor"),
    ({"commission": {"deposit_cap": "1.005"}}, "invalid_amount", "commission.deposit_cap"),
    ({"commission": {"bonus_rate": "0.1"}}, "invalid_request", "commission"),
    ({"commission": "lots"}, "invalid_request", "commission"),
    ({"name": "North\u0000Bet"}, "invalid_request", "name"),
    ({"slug": "north\u0000"}, "invalid_request", "slug"),
])
def test_bad_input_is_refused_with_its_code_and_writes_nothing(api, make_user, change, code, field):
    # given
    before = written()
    # when
    response = api(make_user("admin")).post("/api/v1/tenants", {**GOOD, **change}, format="json")
    # then
    assert response.status_code == 400, response.json()
    assert (response.json()["error"], response.json()["details"].get("field")) == (code, field)
    assert written() == before


def test_a_body_that_is_not_an_object_is_refused(api, make_user):
    before = written()
    response = api(make_user("admin")).post("/api/v1/tenants", [GOOD], format="json")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert written() == before


# --- Registration -------------------------------------------------------------------------------

REGISTRATION = {"username": "newbie", "password": "a-long-test-password", "email": "n@example.test",
                "country": "GB"}


def register(api, **extra):
    return api().post("/api/v1/auth/register", {**REGISTRATION, **extra}, format="json")


def test_registering_without_a_tenant_joins_the_platform_tenant(api, db):
    response = register(api)
    assert response.status_code == 201, response.json()
    user = User.objects.get(username="newbie")
    assert (user.tenant.slug, user.agent_id) == (settings.PLATFORM_TENANT, None)


def test_registering_with_a_tenant_joins_it(api, north):
    response = register(api, tenant="north")
    assert response.status_code == 201, response.json()
    user = User.objects.get(pk=response.json()["id"])
    assert (user.tenant_id, user.agent_id) == (north.pk, None)
    assert audit_rows("auth.register").get().details["tenant"] == "north"


def test_registering_with_an_agent_code_joins_the_agents_tenant(api, make_user, north):
    # given an agent of the north tenant
    agent = make_user("agent")
    User.objects.filter(pk=agent.pk).update(tenant=north)
    agent.refresh_from_db()
    assert agent.agent_code and len(agent.agent_code) == 8
    # when a player registers with the code (in lower case, with spaces: it is forgiving)
    response = register(api, agent_code=f" {agent.agent_code.lower()} ")
    # then
    assert response.status_code == 201, response.json()
    user = User.objects.get(pk=response.json()["id"])
    assert (user.tenant_id, user.agent_id) == (north.pk, agent.pk)
    # and naming the same tenant too is fine
    again = register(api, username="newbie2", agent_code=agent.agent_code, tenant="north")
    assert again.status_code == 201, again.json()


@pytest.mark.parametrize(("extra", "code"), [
    ({"tenant": "nowhere"}, "unknown_tenant"),
    ({"tenant": "nörth"}, "unknown_tenant"),
    ({"agent_code": "NOSUCH99"}, "unknown_agent_code"),
    ({"agent_code": "٣٣٣٣"}, "unknown_agent_code"),
    ({"agent_code": "AB\u0000CD"}, "invalid_request"),
    ({"tenant": "north", "agent_code": "PLATFORM"}, "tenant_mismatch"),
])
def test_registration_refusals_write_nothing(api, make_user, north, extra, code):
    # given an agent of the platform tenant whose code is PLATFORM
    agent = make_user("agent")
    User.objects.filter(pk=agent.pk).update(agent_code="PLATFORM")
    users = User.objects.count()
    # when
    response = register(api, **extra)
    # then
    assert response.status_code == 400, response.json()
    assert response.json()["error"] == code
    assert User.objects.count() == users


def test_a_players_code_is_no_agent_code(api, make_user, db):
    # given a player who somehow holds a code (a demoted agent's)
    player = make_user("player")
    User.objects.filter(pk=player.pk).update(agent_code="DEMOTED1")
    # then it is not an agent's code
    assert register(api, agent_code="DEMOTED1").json()["error"] == "unknown_agent_code"


def test_the_signup_page_takes_an_agent_code(make_user, north):
    # given
    agent = make_user("agent")
    User.objects.filter(pk=agent.pk).update(tenant=north)
    agent.refresh_from_db()
    page = Client()
    assert 'name="agent_code"' in page.get("/signup").content.decode()
    assert f'value="{agent.agent_code}"' in page.get(f"/signup?agent_code={agent.agent_code}").content.decode()
    # when
    response = page.post("/signup", {**REGISTRATION, "adult": "on", "agent_code": agent.agent_code})
    # then
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert (user.tenant_id, user.agent_id) == (north.pk, agent.pk)
    # and an unknown code is shown on the form
    refused = Client().post("/signup", {**REGISTRATION, "username": "other", "adult": "on", "agent_code": "NOPE"})
    assert refused.status_code == 422
    assert "agent code is not known" in refused.content.decode()
    assert not User.objects.filter(username="other").exists()


# --- A tenant's limits ------------------------------------------------------------------------------

def test_a_tenants_max_winning_applies_to_its_players_only(api, make_user, make_event, north):
    # given a player of the north tenant (max winning 50.00) and one of the platform tenant
    ours, theirs = make_user(balance="1000.00"), make_user(balance="1000.00")
    User.objects.filter(pk=ours.pk).update(tenant=north)
    event = make_event(home="2.50")
    body = {"selections": [selection(event)], "stake": "40.00", "bet_type": "single", "odds_change": "none"}
    before = bets_snapshot()
    # when each stakes 40.00 at 2.50 (a return of 100.00)
    refused = api(ours).post("/api/v1/bets", body, format="json")
    # then the north player is held to the tenant's max winning; nothing is written
    assert refused.status_code == 422, refused.json()
    assert (refused.json()["error"], refused.json()["details"]["max_winning"]) == ("max_winning_exceeded", "50.00")
    assert bets_snapshot() == before
    # and the platform tenant's player is not
    accepted = api(theirs).post("/api/v1/bets", body, format="json")
    assert accepted.status_code == 201, accepted.json()


def test_a_player_profile_still_beats_the_tenant_profile(api, make_user, make_event, north):
    # given a north player with a max winning of their own
    ours = make_user(balance="1000.00")
    User.objects.filter(pk=ours.pk).update(tenant=north)
    LimitProfile.objects.create(scope="player", player=ours, max_winning="500.00")
    event = make_event(home="2.50")
    # when
    response = api(ours).post("/api/v1/bets", {"selections": [selection(event)], "stake": "40.00",
                                               "bet_type": "single", "odds_change": "none"}, format="json")
    # then the more specific scope decides
    assert response.status_code == 201, response.json()


# --- Branding ---------------------------------------------------------------------------------------

def test_the_pages_show_the_players_tenant(make_user, north):
    # given a player of the north tenant (colour set) and a visitor
    brand_forget()
    Tenant.objects.filter(pk=north.pk).update(colour="#aa3300")
    brand_forget()
    ours = make_user()
    User.objects.filter(pk=ours.pk).update(tenant=north)
    page = Client()
    page.force_login(User.objects.get(pk=ours.pk))
    # when
    html = page.get("/").content.decode()
    # then the header shows the tenant's name and colour
    assert '<a class="brand" href="/" style="color: #aa3300">North Bet</a>' in html
    assert 'data-tenant="north"' in html
    # and a visitor sees the platform's
    platform = Tenant.objects.get(slug=settings.PLATFORM_TENANT)
    visitor = Client().get("/").content.decode()
    assert f'>{platform.name}</a>' in visitor and 'data-tenant="oddslab"' in visitor


# --- The console ------------------------------------------------------------------------------------

ADD_USER = {"username": "console-made", "password1": "another-long-pass-9", "password2": "another-long-pass-9",
            "usable_password": "true", "country": "GB"}


def test_a_tenant_admin_adds_users_to_their_own_tenant(make_user, north):
    # given a tenant's admin, and another tenant
    south = tenant_of("south")
    page = Client()
    page.force_login(admin_of(make_user, north))
    # then the add page offers no tenant to pick
    assert 'name="tenant"' not in page.get("/admin/accounts/user/add/").content.decode()
    # when they add an agent, naming another tenant anyway
    response = page.post("/admin/accounts/user/add/", {**ADD_USER, "role": "agent", "tenant": south.pk})
    # then the agent is in their tenant, with an agent code
    assert response.status_code == 302, response.content.decode()[:2000]
    made = User.objects.get(username="console-made")
    assert made.tenant_id == north.pk
    assert list(made.groups.values_list("name", flat=True)) == ["agent"] and len(made.agent_code) == 8


def test_the_platform_admin_picks_the_tenant(make_user, north):
    page = Client()
    page.force_login(make_user("admin"))
    assert 'name="tenant"' in page.get("/admin/accounts/user/add/").content.decode()
    response = page.post("/admin/accounts/user/add/", {**ADD_USER, "role": "player", "tenant": north.pk})
    assert response.status_code == 302
    made = User.objects.get(username="console-made")
    assert (made.tenant_id, made.agent_code) == (north.pk, None)
    # and left empty, the platform tenant
    page.post("/admin/accounts/user/add/", {**ADD_USER, "username": "console-two", "role": "player"})
    assert User.objects.get(username="console-two").tenant.slug == settings.PLATFORM_TENANT


def test_a_player_cannot_be_given_another_tenants_agent(make_user, north):
    # given an agent of the platform tenant
    agent = make_user("agent")
    page = Client()
    page.force_login(make_user("admin"))
    # when a player of the north tenant is added under them
    response = page.post("/admin/accounts/user/add/", {**ADD_USER, "role": "player", "tenant": north.pk,
                                                       "agent": agent.pk})
    # then the form refuses it
    assert response.status_code == 200
    assert "This agent works for another tenant." in response.content.decode()
    assert not User.objects.filter(username="console-made").exists()


def test_the_tenant_pages_of_the_console(make_user, north):
    # given a tenant admin, and another tenant
    south = tenant_of("south")
    page = Client()
    page.force_login(admin_of(make_user, north))
    # then they see and rebrand their own tenant only
    listed = page.get("/admin/accounts/tenant/").content.decode()
    assert "North Bet" in listed and "South" not in listed
    assert page.get(f"/admin/accounts/tenant/{south.pk}/change/").status_code != 200
    response = page.post(f"/admin/accounts/tenant/{north.pk}/change/", {"name": "North Bet 2", "colour": "#00aa00"})
    assert response.status_code == 302
    north.refresh_from_db()
    assert (north.slug, north.name, north.colour) == ("north", "North Bet 2", "#00aa00")
    assert audit_rows("tenant.change").get().details["after"] == {"name": "North Bet 2", "colour": "#00aa00"}
    # and nobody adds a tenant there (the API writes it with its plan and limits)
    assert page.get("/admin/accounts/tenant/add/").status_code == 403
