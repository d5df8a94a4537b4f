"""Each role sees and can do exactly its part of the console (issue 7): trader runs events, markets,
prices and settlement; compliance players, limits and audit; regulator reads everything; admin all.
The ledger and the audit log are read-only for everyone, the superuser included."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import User
from audit.context import Actor
from betting.services import bet_place
from ledger.models import Transfer
from risk.models import Geofence, LimitProfile
from tests.conftest import audit_rows, outcome_of, selection
from tests.console_admin.conftest import state_snapshot

pytestmark = pytest.mark.django_db

READ = "v"
EVENTS_READ = {m: READ for m in ["events.sport", "events.competition", "events.event", "events.market",
                                 "events.outcome", "events.oddstick"]}
LEDGER_READ = {"ledger.account": READ, "ledger.checkpoint": READ, "ledger.transfer": READ}
RISK_READ = {m: READ for m in ["risk.exposurecap", "risk.geofence", "risk.limitprofile", "risk.outcomeexposure",
                               "risk.playerrestriction"]}
AUDIT_READ = {"audit.auditlog": READ, "audit.notification": READ}
# A player's restriction is read-only to everyone: the player sets it, with the cooling-off (risk.safer).
LIMITS = {"risk.limitprofile": "vacd", "risk.exposurecap": "vacd", "risk.geofence": "vc",
          "risk.playerrestriction": READ, "risk.outcomeexposure": READ}
# KYC documents and AML alerts: read in the admin, decided through their services' buttons.
COMPLIANCE_READ = {"risk.kycdocument": READ, "risk.amlalert": READ}
P2P_READ = {"betting.challenge": READ, "wallet.gatewaytransfer": READ, "wallet.externaltransaction": READ}
ESCROW_AUDIT_READ = {"betting.escrowaudit": READ}
# Agents' commission statements: read in the admin, decided through agents.services (its buttons); the
# plan is the admin's to edit (docs/agents.md).
COMMISSIONS_READ = {"agents.commissionstatement": READ, "agents.commissionplan": READ}
# The casino's seed pairs and rounds: read-only to every staff role (casino/admin.py).
CASINO_READ = {"casino.round": READ, "casino.seedpair": READ}
# v view, a add, c change, d delete: as the admin computes them for its index (ModelAdmin.get_model_perms).
EXPECTED = {
    "trader": {**EVENTS_READ, "events.sport": "vc", "events.competition": "va", "events.event": "va",
               "betting.bet": READ, **RISK_READ, **LEDGER_READ, **P2P_READ, **CASINO_READ},
    "compliance": {**EVENTS_READ, "betting.bet": READ, **LIMITS, **LEDGER_READ, **AUDIT_READ,
                   "accounts.user": "vc", **P2P_READ, **ESCROW_AUDIT_READ, **COMPLIANCE_READ, **COMMISSIONS_READ,
                   **CASINO_READ},
    "regulator": {**EVENTS_READ, "betting.bet": READ, **RISK_READ, **LEDGER_READ, **AUDIT_READ,
                  "accounts.user": READ, **P2P_READ, **ESCROW_AUDIT_READ, **COMPLIANCE_READ,
                  "accounts.tenant": READ, **COMMISSIONS_READ, **CASINO_READ},
    "admin": {**EVENTS_READ, "events.sport": "vacd", "events.competition": "vacd", "events.event": "va",
              "betting.bet": READ, **LIMITS, **COMPLIANCE_READ, "risk.geofence": "vc",
              **LEDGER_READ, **AUDIT_READ, "accounts.user": "vacd", "auth.group": "vacd",
              "authtoken.tokenproxy": "vd", **P2P_READ, **ESCROW_AUDIT_READ,
              "accounts.tenant": "vc",  # created by POST /api/v1/tenants, with their plan and limits
              **COMMISSIONS_READ, "agents.commissionplan": "vc", **CASINO_READ},
}
# The service actions each role is offered (bulk on the market list, buttons on the change pages).
ACTIONS = {"trader": True, "compliance": False, "regulator": False, "admin": True}


def _seen(client) -> dict[str, str]:
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    return {f"{app['app_label']}.{model['object_name'].lower()}":
            "".join(letter for letter, perm in [("v", "view"), ("a", "add"), ("c", "change"), ("d", "delete")]
                    if model["perms"].get(perm))
            for app in index.context["available_apps"] for model in app["models"]}


@pytest.fixture
def one_of_everything(make_event, player):
    """An event, its market, an outcome and a bet on it: something for every console page."""
    event = make_event()
    bet = bet_place(player=player, selections=[selection(event)], stake="5.00", bet_type="single",
                    actor=Actor.of(player))
    return event, event.markets.get(), outcome_of(event), bet


@pytest.mark.parametrize("role", EXPECTED)
def test_each_role_sees_exactly_its_part_of_the_console(console, role, one_of_everything):
    # given: one of everything to open
    event, market, outcome, bet = one_of_everything
    client = console(role)
    # then: the index lists exactly the role's models with exactly its permissions
    seen = _seen(client)
    assert seen == EXPECTED[role]
    # and the pages agree: every listed changelist opens, every other one is refused
    from django.contrib import admin

    for model in admin.site._registry:
        label = model._meta.label_lower
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == (200 if label in seen else 403), (role, label)
        add = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
        assert client.get(add).status_code == (200 if "a" in seen.get(label, "") else 403), (role, label)
    # and the service actions are offered to the roles that may run them, and to no other
    offered = ACTIONS[role]
    changelist = client.get(reverse("admin:events_market_changelist")).content.decode()
    assert ('value="suspend_markets"' in changelist) is offered
    pages = {
        reverse("admin:events_market_change", args=[market.pk]): reverse("admin:events_market_suspend",
                                                                         args=[market.pk]),
        reverse("admin:events_outcome_change", args=[outcome.pk]): reverse("admin:events_outcome_price",
                                                                           args=[outcome.pk]),
        reverse("admin:events_event_change", args=[event.pk]): reverse("admin:events_event_start", args=[event.pk]),
        reverse("admin:betting_bet_change", args=[bet.pk]): reverse("admin:betting_bet_settle", args=[bet.pk]),
    }
    for page, action in pages.items():
        response = client.get(page)
        assert response.status_code == 200
        assert (f'href="{action}"' in response.content.decode()) is offered, (role, action)
        assert client.get(action).status_code == (200 if offered else 403), (role, action)


@pytest.mark.parametrize("role", ["compliance", "regulator"])
def test_trader_actions_posted_by_other_roles_are_403_and_change_nothing(console, role, one_of_everything):
    # given
    event, market, outcome, bet = one_of_everything
    client = console(role)
    before = state_snapshot()
    posts = [
        (reverse("admin:events_market_suspend", args=[market.pk]), {"reason": "x"}),
        (reverse("admin:events_market_cancel", args=[market.pk]), {"reason": "x"}),
        (reverse("admin:events_outcome_price", args=[outcome.pk]), {"price": "5.00", "reason": "x"}),
        (reverse("admin:events_outcome_release", args=[outcome.pk]), {}),
        (reverse("admin:events_event_start", args=[event.pk]), {}),
        (reverse("admin:events_event_result", args=[event.pk]), {"home_score": 1, "away_score": 0}),
        (reverse("admin:betting_bet_settle", args=[bet.pk]), {"result": "won", "reason": "x"}),
        (reverse("admin:events_event_add"), {"home_team": "A", "away_team": "B", "sport": "football",
                                             "competition": "C", "start_time": "2026-12-20T15:00",
                                             "match_result__home": "2", "match_result__draw": "3",
                                             "match_result__away": "4"}),
    ]
    # when / then
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    # the bulk action is not among the role's actions: the admin runs nothing
    response = client.post(reverse("admin:events_market_changelist"),
                           {"action": "suspend_markets", "_selected_action": [market.pk], "confirm": "yes",
                            "reason": "x"})
    assert response.status_code in (200, 302)
    assert state_snapshot() == before
    assert not audit_rows("market.suspend").exists()


def test_ledger_and_audit_are_read_only_even_for_the_superuser(console, player):
    admin = console("admin")
    assert admin.get(reverse("admin:index")).wsgi_request.user.is_superuser
    transfer = Transfer.objects.filter(credit_account=player.ledger_account).first()
    row = audit_rows("wallet.deposit").first() or audit_rows("auth.login").first()
    before = state_snapshot()
    for page in [reverse("admin:ledger_transfer_change", args=[transfer.pk]),
                 reverse("admin:audit_auditlog_change", args=[row.pk])]:
        response = admin.get(page)
        assert response.status_code == 200 and b'name="_save"' not in response.content
        assert admin.post(page, {"amount": "1.00", "action": "x"}).status_code == 403
        assert admin.get(page.replace("/change/", "/delete/")).status_code == 403
    assert state_snapshot() == before


def test_limits_change_for_compliance_and_admin_only(console):
    geofence = Geofence.objects.get_or_create(pk=1)[0]
    add_profile = reverse("admin:risk_limitprofile_add")
    for role, allowed in [("trader", False), ("regulator", False), ("compliance", True)]:
        client = console(role)
        response = client.post(add_profile, {"scope": "global", "max_stake": "50.00"})
        assert response.status_code == (302 if allowed else 403), (role, response.status_code)
        geofence_page = client.get(reverse("admin:risk_geofence_change", args=[geofence.pk]))
        assert (b'name="_save"' in geofence_page.content) is allowed
    profile = LimitProfile.objects.get()
    assert profile.max_stake == 50 and audit_rows("limitprofile.add").get().actor_role == "compliance"
    history = console("regulator").get(reverse("admin:risk_limitprofile_history", args=[profile.pk]))
    assert history.status_code == 200 and b"change-history" in history.content


def test_compliance_cannot_grant_itself_or_a_player_a_role(console, make_user):
    client = console("compliance")
    own = User.objects.get(groups__name="compliance")
    player = make_user("player")
    admin_group = Group.objects.get(name="admin")

    def post(user):
        return client.post(reverse("admin:accounts_user_change", args=[user.pk]), {
            "username": user.username, "email": "new@example.test", "country": "GB", "is_active": "on",
            "is_superuser": "on", "is_staff": "on", "groups": [admin_group.pk],
            "last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})

    # a player's page offers no privilege field, and saving it saves what compliance may change only
    page = client.get(reverse("admin:accounts_user_change", args=[player.pk]))
    assert page.status_code == 200
    for field in ["groups", "is_superuser", "user_permissions", "is_staff"]:
        assert f'name="{field}"'.encode() not in page.content, field
    assert post(player).status_code == 302
    player.refresh_from_db()
    assert player.email == "new@example.test"
    assert not player.is_superuser and list(player.groups.values_list("name", flat=True)) == ["player"]
    # its own page is read-only (nobody manages themselves in the console), and a POST is refused
    assert b'name="_save"' not in client.get(reverse("admin:accounts_user_change", args=[own.pk])).content
    assert post(own).status_code == 403
    own.refresh_from_db()
    assert own.email != "new@example.test" and not own.is_superuser
    assert list(own.groups.values_list("name", flat=True)) == ["compliance"]
