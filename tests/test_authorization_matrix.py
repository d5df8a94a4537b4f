"""The authorization matrix: every URL of the site × every role, with the outcome each role must get.

The table below (``ROWS``; the sockets are in ``SOCKET_ROWS``) is the documentation for auditors: one
row per URL pattern (its name, or its route when it has none) and HTTP method, and one outcome per role,
in the order of ``ROLES``: anonymous, player, another player, agent, trader, compliance, regulator,
admin (a superuser). "Another player" is a second player acting on the first player's objects (its bet,
its wallet). Every write sends a body that succeeds for an allowed role, with ids of the shared fixtures,
so a permission mistake shows as a wrong outcome, not as a 400. Each request runs in a savepoint rolled
back after it, so no role's write changes what the next role meets.

Adding a URL: ``test_every_url_and_socket_has_a_row`` fails, naming it, until it has a row. Add
``Row(name, method, roles(...), args=..., body=...)`` beside its neighbours (``staff(...)`` for a page of
the admin, where everyone not staff is sent to the admin login); for a pattern with no name, the name is
its route. A row whose pattern is gone fails the same test. A row says what must happen: when the
code does otherwise, mend the code, not the row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token, TokenProxy
from rest_framework.test import APIClient

from accounts.models import Tenant, User, UserSession
from accounts.roles import PERMISSIONS
from accounts.services import user_with_role
from agents.models import CommissionPlan
from agents.services import commissions_run
from audit.context import Actor
from audit.models import AuditLog
from audit.services import notification_create
from betting.challenges import challenge_accept, challenge_create
from betting.escrow_audit import escrow_audit_run
from betting.models import Challenge
from betting.services import bet_place
from casino.services import casino_round_play, casino_seed_rotate
from events.models import Competition, OddsTick, Sport
from events.services import MarketSpec, event_create, market_suspend, outcome_price_set
from ledger.models import Account, Checkpoint, Transfer
from ledger.services import checkpoint_create
from oddslab import routing
from risk.aml import aml_alert_update, aml_check_deposit
from risk.kyc import kyc_submit
from risk.models import ExposureCap, Geofence, LimitProfile, OutcomeExposure, PlayerRestriction
from wallet.external import external_wallet_open, external_wallet_top_up
from wallet.models import GatewayTransfer
from wallet.services import wallet_deposit

# --- Outcomes -------------------------------------------------------------------------------------
# What a response is read as (_outcome). An expected outcome matches the label read, or its beginning:
# FORBIDDEN matches "FORBIDDEN not_a_player", NOT_A_PLAYER only that. Other labels name the status and
# the error code ("422 insufficient_funds"), a page's own refusal ("REFUSED_ON_PAGE <code>": the slip's
# error, or the refusal the services audited), or a form sent back with errors ("INVALID {...}").
OK = "OK"                    # 2xx, or a redirect that is not to a login page
LOGIN = "LOGIN"              # pages: a redirect to a login page (or the slip's login_required); API: 401
FORBIDDEN = "FORBIDDEN"      # 403
NOT_FOUND = "NOT_FOUND"      # 404: another player's object is not there for them
NO_FUNDS = "422 insufficient_funds"                   # an empty wallet: nothing to withdraw
PAGE_NO_FUNDS = "REFUSED_ON_PAGE insufficient_funds"
NOT_A_PLAYER = "FORBIDDEN not_a_player"               # API: 403 {"error": "not_a_player"}
PAGE_NOT_A_PLAYER = "REFUSED_ON_PAGE not_a_player"    # the page shows the refusal (slip, wallet form)
ACCEPTED = "OK"              # sockets: the handshake is accepted
REFUSED = "REFUSED"          # sockets: the handshake is closed

ROLES = ("anonymous", "player", "other_player", "agent", "trader", "compliance", "regulator", "admin")
NOT_PLAYERS = ("agent", "trader", "compliance", "regulator", "admin")
PASSWORD = "a-long-test-password"


def roles(anonymous: str, player: str, other_player: str, agent: str, trader: str, compliance: str,
          regulator: str, admin: str) -> dict[str, str]:
    """One outcome per role, in the order of ROLES."""
    return dict(zip(ROLES, (anonymous, player, other_player, agent, trader, compliance, regulator, admin),
                    strict=True))


def everyone(outcome: str) -> dict[str, str]:
    return roles(*[outcome] * len(ROLES))


def logged_in(outcome: str) -> dict[str, str]:
    """Anyone logged in gets ``outcome``; anonymous is asked to log in."""
    return roles(LOGIN, *[outcome] * (len(ROLES) - 1))


def players(others: str) -> dict[str, str]:
    """A player's own action: players may, anonymous is asked to log in, agents and staff get ``others``."""
    return roles(LOGIN, OK, OK, *[others] * len(NOT_PLAYERS))


def staff(trader: str, compliance: str, regulator: str, admin: str) -> dict[str, str]:
    """An admin or console page: whoever is not staff (anonymous, players, agents) goes to the admin login."""
    return roles(LOGIN, LOGIN, LOGIN, LOGIN, trader, compliance, regulator, admin)


def api_staff(trader: str, compliance: str, regulator: str, admin: str) -> dict[str, str]:
    """An API endpoint for staff: anonymous gets 401, players and agents 403."""
    return roles(LOGIN, FORBIDDEN, FORBIDDEN, FORBIDDEN, trader, compliance, regulator, admin)


AGENTS_ONLY = roles(LOGIN, FORBIDDEN, FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN)
ALL_STAFF = (OK, OK, OK, OK)
TRADERS = (OK, FORBIDDEN, FORBIDDEN, OK)          # trader and admin
COMPLIANCE = (FORBIDDEN, OK, FORBIDDEN, OK)       # compliance and admin
ADMIN_ONLY = (FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)
NOBODY = (FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN)
READERS = (FORBIDDEN, OK, OK, OK)                 # compliance, regulator, admin


# --- Rows -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """``name``: the URL pattern's name (``app:name``) or, without one, its route. ``args``: the URL's
    arguments from the fixtures; ``body``: the form or JSON sent; ``on``: which object, when a pattern
    has rows for several (a user page: a player, a staff member, another superuser); ``before``: a
    request sent first in the same savepoint (a selection on the slip before placing it)."""

    name: str
    method: str
    expect: dict[str, str]
    args: Callable[[Any], list] = lambda w: []
    body: Callable[[Any], dict] | None = None
    query: str = ""
    on: str = ""
    path: Callable[[Any], str] | None = None
    before: Callable[[Any, Any], None] | None = None
    htmx: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return self.name, self.method, self.on

    def url(self, world: Any) -> str:
        base = self.path(world) if self.path else reverse(self.name, args=self.args(world))
        return f"{base}?{self.query}" if self.query else base

    @property
    def kind(self) -> str:
        """The API's patterns are the ones without a namespace, but for these pages."""
        return "page" if self.path or ":" in self.name or self.name in PAGE_NAMES else "api"


PAGE_NAMES = {"health", "login", "logout", "password_change", "password_change_done", "password_reset",
              "password_reset_done", "password_reset_confirm", "password_reset_complete", "schema", "swagger",
              "redoc"}

PERIOD = "start=2020-01-01&end=2030-12-31"


def _place_body(w) -> dict:
    return {"selections": [{"outcome_id": w.home.pk, "price": str(w.home.price)}], "stake": "5.00",
            "bet_type": "single", "odds_change": "none"}


def _event_body(w) -> dict:
    return {"home_team": "Matrix Home", "away_team": "Matrix Away", "sport": "football",
            "competition": "Matrix League", "start_time": (timezone.now() + timedelta(days=2)).isoformat(),
            "markets": [{"kind": "match_result", "prices": {"home": "2.50", "draw": "3.20", "away": "2.80"}}]}


def _toggle_home(client, w) -> None:
    client.post(reverse("web:slip-toggle", args=[w.home.pk]), HTTP_HX_REQUEST="true")


def _loosen_a_limit(client, w) -> None:
    """The acting user's own deposit limit, set and then loosened: a change waiting to be withdrawn."""
    for value in ("100.00", "200.00"):
        client.post(reverse("web:safer-gambling"), {"action": "limits", "deposit_day": value})


API_ROWS = [
    Row("register", "POST", everyone(OK),
        body=lambda w: {"username": "matrix-new", "password": PASSWORD, "email": "new@example.test",
                        "country": "GB"}),
    Row("register", "POST", everyone(OK), on="with an agent code",
        body=lambda w: {"username": "matrix-new", "password": PASSWORD, "email": "new@example.test",
                        "country": "GB", "agent_code": w.agent.agent_code}),
    Row("token", "POST", everyone(OK), body=lambda w: {"username": w.player.username, "password": PASSWORD}),
    Row("token", "DELETE", logged_in(OK)),
    Row("me", "GET", logged_in(OK)),
    Row("me-stats", "GET", logged_in(OK)),  # staff never bet: zeros, as their wallet reads 0.00
    # anyone's own sessions; another user's session is not there for them
    Row("me-sessions", "GET", logged_in(OK)),
    Row("me-session-end", "POST", roles(LOGIN, OK, *[NOT_FOUND] * (len(ROLES) - 2)),
        args=lambda w: [w.player_session.pk]),
    # Safer gambling: anyone reads their own (staff: none set); only players set limits or take a break.
    Row("me-limits", "GET", logged_in(OK)),
    Row("me-limits", "PUT", players(NOT_A_PLAYER), body=lambda w: {"deposit_day": "500.00", "session_minutes": 90}),
    Row("me-time-out", "POST", players(NOT_A_PLAYER), body=lambda w: {"days": 1}),
    Row("me-self-exclusion", "POST", players(NOT_A_PLAYER), body=lambda w: {"months": 6}),
    # KYC: anyone reads their own state; only players send a document (the world's player has one waiting)
    Row("me-kyc", "GET", logged_in(OK)),
    Row("me-kyc", "POST", roles(LOGIN, "409 kyc_pending", OK, *[NOT_A_PLAYER] * len(NOT_PLAYERS)),
        body=lambda w: {"document_type": "passport", "document_number": "MATRIX123"}),
    Row("leaderboard", "GET", everyone(OK), query="period=week"),
    Row("wallet", "GET", logged_in(OK)),
    Row("wallet-deposit", "POST", players(NOT_A_PLAYER), body=lambda w: {"amount": "10.00"}),
    Row("wallet-withdraw", "POST", players(NO_FUNDS),
        body=lambda w: {"amount": "10.00"}),
    Row("wallet-transactions", "GET", logged_in(OK)),
    Row("ledger-accounts", "GET", api_staff(*ALL_STAFF)),
    Row("ledger-account-transactions", "GET", api_staff(*ALL_STAFF), args=lambda w: [w.wallet.pk]),
    Row("ledger-check", "GET", api_staff(*ALL_STAFF)),
    Row("events", "GET", everyone(OK)),
    Row("events", "POST", api_staff(*TRADERS), body=_event_body),
    Row("event", "GET", everyone(OK), args=lambda w: [w.event.pk]),
    Row("event-players", "GET", everyone(OK), args=lambda w: [w.event.pk]),
    Row("event-start", "POST", api_staff(*TRADERS), args=lambda w: [w.event.pk]),
    Row("event-result", "POST", api_staff(*TRADERS), args=lambda w: [w.event.pk],
        body=lambda w: {"home_score": 2, "away_score": 1}),
    Row("event-cancel", "POST", api_staff(*TRADERS), args=lambda w: [w.event.pk],
        body=lambda w: {"reason": "matrix"}),
    Row("event-settlement", "GET", api_staff(*ALL_STAFF), args=lambda w: [w.event.pk]),
    Row("market-suspend", "POST", api_staff(*TRADERS), args=lambda w: [w.market.pk]),
    Row("market-resume", "POST", api_staff(*TRADERS), args=lambda w: [w.suspended_market.pk]),
    Row("market-close", "POST", api_staff(*TRADERS), args=lambda w: [w.market.pk]),
    Row("market-cancel", "POST", api_staff(*TRADERS), args=lambda w: [w.market.pk],
        body=lambda w: {"reason": "matrix"}),
    Row("outcome-price", "POST", api_staff(*TRADERS), args=lambda w: [w.home.pk],
        body=lambda w: {"price": "2.40", "reason": "matrix"}),
    Row("outcome-release", "POST", api_staff(*TRADERS), args=lambda w: [w.pinned.pk]),
    Row("bets", "GET", logged_in(OK)),
    Row("bets", "POST", players(NOT_A_PLAYER), body=_place_body),
    Row("bet-validate", "POST", players(NOT_A_PLAYER), body=_place_body),
    Row("bet", "GET", roles(LOGIN, OK, NOT_FOUND, NOT_FOUND, OK, OK, OK, OK), args=lambda w: [w.bet.pk]),
    Row("bet-settle", "POST", api_staff(*TRADERS), args=lambda w: [w.bet.pk],
        body=lambda w: {"result": "won", "reason": "matrix"}),
    Row("external-wallet", "GET", roles(LOGIN, OK, OK, *[NOT_FOUND] * len(NOT_PLAYERS))),
    Row("external-wallet", "POST", players(NOT_A_PLAYER)),
    Row("external-wallet-top-up", "POST", players(NOT_A_PLAYER), body=lambda w: {"amount": "10.00"}),
    Row("bonuses", "POST", api_staff(*TRADERS),
        body=lambda w: {"user_id": w.player.pk, "amount": "10.00", "reason": "welcome offer"}),
    # The casino: players play and keep their seeds; staff who may view rounds read them, and verify one
    # once revealed (the world's player's round, its seed pair rotated)
    Row("casino-seed", "GET", players(NOT_A_PLAYER)),
    Row("casino-seed", "PUT", players(NOT_A_PLAYER), body=lambda w: {"client_seed": "matrix"}),
    Row("casino-seed-rotate", "POST", players(NOT_A_PLAYER)),
    Row("casino-rounds", "GET", logged_in(OK)),
    Row("casino-rounds", "POST", players(NOT_A_PLAYER),
        body=lambda w: {"game": "dice", "stake": "1.00", "target": "50.00", "direction": "under"}),
    Row("casino-round-verify", "GET", roles(LOGIN, OK, NOT_FOUND, NOT_FOUND, OK, OK, OK, OK),
        args=lambda w: [w.casino_round.pk]),
    # Tenants: admins and regulators read them; only the platform admin (here a superuser) creates one
    Row("tenants", "GET", api_staff(FORBIDDEN, FORBIDDEN, OK, OK)),
    Row("tenants", "POST", api_staff(*ADMIN_ONLY),
        body=lambda w: {"slug": "matrix-tenant", "name": "Matrix Tenant", "max_winning": "100.00",
                        "commission": {"deposit_rate": "0.03"}}),
    # An agent's players: only agents create and list them
    Row("agent-players", "GET", AGENTS_ONLY),
    Row("agent-players", "POST", AGENTS_ONLY,
        body=lambda w: {"username": "matrix-recruit", "password": PASSWORD, "email": "r@example.test",
                        "country": "GB"}),
    Row("challenges", "GET", everyone(OK)),
    Row("challenges", "POST", players(NOT_A_PLAYER),
        body=lambda w: {"event_id": w.event.pk, "outcome_id": w.home.pk, "stake": "5.00", "funding": "internal"}),
    # open: anyone sees it; matched (the player's against a third player): its parties and staff
    Row("challenge", "GET", everyone(OK), args=lambda w: [w.challenge.pk], on="open"),
    Row("challenge", "GET", roles(NOT_FOUND, OK, NOT_FOUND, NOT_FOUND, OK, OK, OK, OK),
        args=lambda w: [w.matched_challenge.pk], on="matched"),
    Row("challenge-accept", "POST", roles(LOGIN, "422 own_challenge", OK, *[NOT_A_PLAYER] * len(NOT_PLAYERS)),
        args=lambda w: [w.challenge.pk], body=lambda w: {"funding": "internal"}),
    Row("challenge-cancel", "POST", roles(LOGIN, OK, *[FORBIDDEN] * (len(ROLES) - 2)),
        args=lambda w: [w.challenge.pk]),
    Row("report-ggr", "GET", api_staff(*ALL_STAFF), query=PERIOD),
    Row("report-liabilities", "GET", api_staff(*ALL_STAFF)),
    Row("escrow-audit", "GET", api_staff(*READERS)),
    Row("export-bets", "GET", api_staff(FORBIDDEN, OK, OK, OK), query=PERIOD),
    Row("export-ledger", "GET", api_staff(FORBIDDEN, OK, OK, OK), query=PERIOD),
    Row("export-settlements", "GET", api_staff(FORBIDDEN, OK, OK, OK), query=PERIOD),
    Row("export-challenges", "GET", api_staff(FORBIDDEN, OK, OK, OK), query=PERIOD),
    Row("audit-logs", "GET", api_staff(*READERS)),
    Row("export-audit-logs", "GET", api_staff(*READERS), query=PERIOD),
    # AML alerts: compliance and admins work them, regulators read and export them
    Row("aml-alerts", "GET", api_staff(*READERS)),
    Row("aml-alert", "POST", api_staff(*COMPLIANCE), args=lambda w: [w.aml_alert.pk],
        body=lambda w: {"status": "investigating", "reason": "matrix"}),
    Row("export-aml-alerts", "GET", api_staff(*READERS)),
    # Commission statements: compliance and admins run periods and decide them; agents read their own,
    # regulators every one (the world's agent has a pending statement for today)
    Row("commissions", "GET", roles(LOGIN, FORBIDDEN, FORBIDDEN, OK, FORBIDDEN, OK, OK, OK)),
    Row("commissions-run", "POST", api_staff(*COMPLIANCE), body=lambda w: {"start": "2020-01-06", "end": "2020-01-13"}),
    Row("commission-approve", "POST", api_staff(*COMPLIANCE), args=lambda w: [w.statement.pk],
        body=lambda w: {"reason": "matrix"}),
    Row("commission-reject", "POST", api_staff(*COMPLIANCE), args=lambda w: [w.statement.pk],
        body=lambda w: {"reason": "matrix"}),
    Row("export-commissions", "GET", api_staff(FORBIDDEN, OK, OK, OK), query=PERIOD),
    Row("export-casino-rounds", "GET", api_staff(FORBIDDEN, OK, OK, OK), query=PERIOD),
    # KYC review: regulators read the queue (numbers masked); compliance and admins open and decide documents
    Row("compliance-kyc", "GET", api_staff(*READERS), query="status=pending"),
    Row("compliance-kyc-document", "GET", api_staff(*COMPLIANCE), args=lambda w: [w.kyc_document.pk]),
    Row("compliance-kyc-verify", "POST", api_staff(*COMPLIANCE), args=lambda w: [w.player.pk],
        body=lambda w: {"reason": "matrix"}),
    Row("compliance-kyc-reject", "POST", api_staff(*COMPLIANCE), args=lambda w: [w.player.pk],
        body=lambda w: {"reason": "matrix"}),
    Row("schema", "GET", everyone(OK)),
    Row("swagger", "GET", everyone(OK)),
    Row("redoc", "GET", everyone(OK)),
    Row("health", "GET", everyone(OK)),
]

PAGE_ROWS = [
    Row("web:live", "GET", everyone(OK)),
    Row("web:event", "GET", everyone(OK), args=lambda w: [w.event.pk]),
    Row("web:slip", "GET", everyone(OK)),
    Row("web:slip-toggle", "POST", everyone(OK), args=lambda w: [w.home.pk], htmx=True),
    Row("web:slip-update", "POST", everyone(OK), body=lambda w: {"stake": "5.00", "bet_type": "single"},
        htmx=True),
    Row("web:slip-accept-prices", "POST", everyone(OK), htmx=True),
    Row("web:slip-clear", "POST", everyone(OK), htmx=True),
    Row("web:slip-place", "POST", players(PAGE_NOT_A_PLAYER),
        body=lambda w: {"stake": "5.00", "bet_type": "single", "odds_change": "none"}, before=_toggle_home,
        htmx=True),
    Row("web:wallet", "GET", logged_in(OK)),
    Row("web:wallet", "POST", players(PAGE_NOT_A_PLAYER), on="deposit",
        body=lambda w: {"action": "deposit", "deposit-amount": "10.00"}),
    Row("web:wallet", "POST", players(PAGE_NO_FUNDS), on="withdraw",
        body=lambda w: {"action": "withdraw", "withdraw-amount": "1.00"}),
    # the external wallet: the world's players have one open, so opening it again shows it
    Row("web:wallet", "POST", players(PAGE_NOT_A_PLAYER), on="open external wallet",
        body=lambda w: {"action": "open_external"}),
    Row("web:wallet", "POST", players(PAGE_NOT_A_PLAYER), on="top up the external wallet",
        body=lambda w: {"action": "top_up", "top_up-amount": "10.00"}),
    Row("web:challenges", "GET", everyone(OK)),
    Row("web:challenge-create", "POST", players(PAGE_NOT_A_PLAYER),
        body=lambda w: {"kind": "outcome", "event_id": w.event.pk, "outcome_id": w.home.pk, "stake": "5.00",
                        "funding": "internal"}),
    Row("web:challenge-accept", "POST", roles(LOGIN, "REFUSED_ON_PAGE own_challenge", OK,
                                              *[PAGE_NOT_A_PLAYER] * len(NOT_PLAYERS)),
        args=lambda w: [w.challenge.pk], body=lambda w: {"funding": "internal"}),
    # only its creator may cancel a challenge; everyone else is refused in words
    Row("web:challenge-cancel", "POST", roles(LOGIN, OK, *["REFUSED_ON_PAGE forbidden"] * (len(ROLES) - 2)),
        args=lambda w: [w.challenge.pk]),
    Row("web:my-bets", "GET", logged_in(OK)),
    Row("web:leaderboard", "GET", everyone(OK)),
    Row("web:notifications", "GET", logged_in(OK)),
    Row("web:sessions", "GET", logged_in(OK)),
    Row("web:session-end", "POST", roles(LOGIN, OK, *[NOT_FOUND] * (len(ROLES) - 2)),
        args=lambda w: [w.player_session.pk]),
    # a player's own safer-gambling limits and breaks; staff and agents have none, so are refused
    Row("web:safer-gambling", "GET", logged_in(OK)),
    Row("web:safer-gambling", "POST", players(FORBIDDEN), on="limits",
        body=lambda w: {"action": "limits", "deposit_day": "500.00", "session_minutes": "90"}),
    Row("web:safer-gambling", "POST", players(FORBIDDEN), on="withdraw a loosening", before=_loosen_a_limit,
        body=lambda w: {"action": "withdraw", "limit": "deposit_day"}),
    Row("web:safer-gambling", "POST", players(FORBIDDEN), on="time-out",
        body=lambda w: {"action": "time_out", "time_out-days": "1", "time_out-confirm": "on"}),
    Row("web:safer-gambling", "POST", players(FORBIDDEN), on="self-exclusion",
        body=lambda w: {"action": "self_exclusion", "self_exclusion-months": "6", "self_exclusion-confirm": "on"}),
    Row("web:kyc", "GET", logged_in(OK)),
    Row("web:kyc", "POST", roles(LOGIN, "REFUSED_ON_PAGE kyc_pending", OK, *[PAGE_NOT_A_PLAYER] * len(NOT_PLAYERS)),
        body=lambda w: {"document_type": "passport", "document_number": "MATRIX123"}),
    # the Casino page: anyone logged in opens it (staff and agents read that only players play); only
    # players play and keep their seeds, everyone else is refused in words
    Row("web:casino", "GET", logged_in(OK)),
    Row("web:casino-dice-odds", "GET", logged_in(OK), query="target=50.00&direction=under&stake=1.00"),
    Row("web:casino-dice", "POST", players(PAGE_NOT_A_PLAYER),
        body=lambda w: {"stake": "1.00", "target": "50.00", "direction": "under"}),
    Row("web:casino-roulette", "POST", players(PAGE_NOT_A_PLAYER),
        body=lambda w: {"bet_rows": "2", "bet-0-type": "red", "bet-0-stake": "1.00", "bet-1-type": "straight",
                        "bet-1-value": "17", "bet-1-stake": "1.00"}),
    Row("web:casino-seed", "POST", players(PAGE_NOT_A_PLAYER), body=lambda w: {"client_seed": "matrix"}),
    Row("web:casino-rotate", "POST", players(PAGE_NOT_A_PLAYER)),
    Row("web:signup", "GET", everyone(OK)),
    # the agent page: an agent's players, creating one, their commission statements
    Row("web:agent", "GET", AGENTS_ONLY),
    Row("web:agent", "POST", AGENTS_ONLY,
        body=lambda w: {"username": "matrix-recruit", "password": PASSWORD, "email": "r@example.test",
                        "country": "GB"}),
    Row("web:signup", "POST", everyone(OK),
        body=lambda w: {"username": "matrix-signup", "password": PASSWORD, "email": "s@example.test",
                        "country": "GB", "adult": "on"}),
    # django.contrib.auth's pages
    Row("login", "GET", everyone(OK)),
    Row("login", "POST", everyone(OK), body=lambda w: {"username": w.player.username, "password": PASSWORD}),
    Row("logout", "POST", everyone(OK)),
    Row("password_change", "GET", logged_in(OK)),
    Row("password_change", "POST", logged_in(OK),
        body=lambda w: {"old_password": PASSWORD, "new_password1": "another-long-pass-9",
                        "new_password2": "another-long-pass-9"}),
    Row("password_change_done", "GET", logged_in(OK)),
    Row("password_reset", "GET", everyone(OK)),
    Row("password_reset", "POST", everyone(OK), body=lambda w: {"email": w.player.email}),
    Row("password_reset_done", "GET", everyone(OK)),
    Row("password_reset_confirm", "GET", everyone(OK), args=lambda w: ["MQ", "set-password"]),
    Row("password_reset_complete", "GET", everyone(OK)),
]

CONSOLE_ROWS = [
    Row("console:index", "GET", staff(*ALL_STAFF)),
    Row("console:liabilities", "GET", staff(*ALL_STAFF)),
    Row("console:ggr", "GET", staff(*ALL_STAFF), query=PERIOD),
    Row("console:settlements", "GET", staff(*ALL_STAFF), query=PERIOD),
    Row("console:ledger", "GET", staff(*ALL_STAFF)),
    Row("console:ledger-statement", "GET", staff(*ALL_STAFF), args=lambda w: [w.wallet.pk]),
    Row("console:audit", "GET", staff(*READERS)),
    Row("console:aml-alerts", "GET", staff(*READERS)),
    Row("console:aml-alert", "POST", staff(*COMPLIANCE), args=lambda w: [w.aml_alert.pk],
        body=lambda w: {"status": "investigating", "reason": "matrix"}),
    Row("console:kyc", "GET", staff(*READERS)),
    Row("console:kyc-document", "GET", staff(*COMPLIANCE), args=lambda w: [w.kyc_document.pk]),
    Row("console:kyc-decide", "POST", staff(*COMPLIANCE), args=lambda w: [w.kyc_document.pk],
        body=lambda w: {"decision": "verify", "reason": "matrix"}),
    Row("console:commissions", "GET", staff(*READERS)),
    Row("console:commission-decide", "POST", staff(*COMPLIANCE), args=lambda w: [w.statement.pk],
        body=lambda w: {"decision": "approve", "reason": "matrix"}),
]

ADMIN_SITE_ROWS = [
    Row("admin:index", "GET", staff(*ALL_STAFF)),
    Row("admin:login", "GET", everyone(OK)),
    Row("admin:logout", "POST", everyone(OK)),
    Row("admin:password_change", "GET", staff(*ALL_STAFF)),
    Row("admin:password_change", "POST", staff(*ALL_STAFF),
        body=lambda w: {"old_password": PASSWORD, "new_password1": "another-long-pass-9",
                        "new_password2": "another-long-pass-9"}),
    Row("admin:password_change_done", "GET", staff(*ALL_STAFF)),
    Row("admin:autocomplete", "GET", staff(*READERS),
        query="app_label=risk&model_name=limitprofile&field_name=player"),
    Row("admin:jsi18n", "GET", staff(*ALL_STAFF)),
    # no model has a page on the site (get_absolute_url)
    Row("admin:view_on_site", "GET", staff(NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
        args=lambda w: [ContentType.objects.get_for_model(User).pk, w.player.pk]),
    Row("admin:app_list", "GET", staff(*ALL_STAFF), path=lambda w: "/admin/events/"),
    Row("admin/(?P<url>.*)$", "GET", staff(NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
        path=lambda w: "/admin/no-such-page/"),
]


def admin_model(label: str, obj: Callable[[Any], Any], *, view: tuple, add: tuple, change: tuple | None,
                delete: tuple, add_body: Callable[[Any], dict] | None = None) -> list[Row]:
    """The pages the admin makes for one model, each as a row, from what each staff role may do with it
    (trader, compliance, regulator, admin; everyone else goes to the login): ``view`` opens the list,
    the change page (read-only without ``change``) and the history; ``add``, ``change`` and ``delete``
    are the add page and its form, the change form, and the delete page and its confirmation
    (``change=None``: the change form has rows of its own, one per kind of object)."""
    app, model = label.split(".")
    prefix = f"admin:{app}_{model}"
    pk = lambda w: [obj(w).pk]  # noqa: E731
    return [
        Row(f"{prefix}_changelist", "GET", staff(*view)),
        Row(f"{prefix}_add", "GET", staff(*add)),
        Row(f"{prefix}_add", "POST", staff(*add), body=add_body or (lambda w: {})),
        Row(f"{prefix}_change", "GET", staff(*view), args=pk),
        *([Row(f"{prefix}_change", "POST", staff(*change), args=pk, body=FROM_FORM)] if change else []),
        Row(f"{prefix}_delete", "GET", staff(*delete), args=pk),
        Row(f"{prefix}_delete", "POST", staff(*delete), args=pk, body=lambda w: {"post": "yes"}),
        Row(f"{prefix}_history", "GET", staff(*view), args=pk),
        # the bare object URL redirects to the change page, for any staff member
        Row(f"admin/{app}/{model}/<path:object_id>/", "GET", staff(*ALL_STAFF),
            path=lambda w: f"/admin/{app}/{model}/{obj(w).pk}/"),
    ]


def simple_history(label: str, obj: Callable[[Any], Any], view: tuple, revert: tuple) -> list[Row]:
    """django-simple-history's page of one past version (GET), and its "revert to this" form (POST),
    which nobody may send: history is read, changes go through the change form or the services."""
    app, model = label.split(".")
    args = lambda w: [obj(w).pk, _first_version(obj(w))]  # noqa: E731
    name = f"admin:{app}_{model}_simple_history"
    return [Row(name, "GET", staff(*view), args=args), Row(name, "POST", staff(*revert), args=args, body=FROM_FORM)]


def _first_version(obj) -> int:
    return obj.history.earliest().history_id


def object_actions(label: str, obj: Callable[[Any], Any], bodies: dict[str, Callable[[Any], dict]],
                   who: tuple, objects: dict[str, Callable[[Any], Any]] | None = None) -> list[Row]:
    """The console's service actions on one object (audit/admin_tools.py ObjectAction): the confirmation
    page (GET) and the action (POST)."""
    app, model = label.split(".")
    rows = []
    for action, body in bodies.items():
        target = (objects or {}).get(action, obj)
        args = lambda w, target=target: [target(w).pk]  # noqa: E731
        rows += [Row(f"admin:{app}_{model}_{action}", "GET", staff(*who), args=args),
                 Row(f"admin:{app}_{model}_{action}", "POST", staff(*who), args=args, body=body)]
    return rows


def FROM_FORM(w) -> dict:
    """The body a browser would send from the form the page shows (read as the superuser)."""
    raise AssertionError("replaced by the form of the page")


def user_pages(on: str, user: Callable[[Any], Any], *, change: tuple) -> list[Row]:
    """Changing one user: its change form and its password page (the change page GET is the model's)."""
    args = lambda w: [user(w).pk]  # noqa: E731
    password = lambda w: {"password1": "another-long-pass-9", "password2": "another-long-pass-9",  # noqa: E731
                          "usable_password": "true"}
    return [Row("admin:accounts_user_change", "POST", staff(*change), on=on, args=args, body=FROM_FORM),
            Row("admin:auth_user_password_change", "GET", staff(*change), on=on, args=args),
            Row("admin:auth_user_password_change", "POST", staff(*change), on=on, args=args, body=password)]


REASON = lambda w: {"reason": "matrix"}  # noqa: E731
NOTHING = lambda w: {}  # noqa: E731

ADMIN_ROWS = [
    *admin_model("auth.group", lambda w: w.group, view=ADMIN_ONLY, add=ADMIN_ONLY, change=ADMIN_ONLY,
                 delete=ADMIN_ONLY, add_body=lambda w: {"name": "matrix-group"}),
    # Making someone's token is impersonating them: tokens are only listed and revoked, and only of
    # users one may manage (the admin's player here).
    *admin_model("authtoken.tokenproxy", lambda w: w.token, view=ADMIN_ONLY, add=NOBODY, change=NOBODY,
                 delete=ADMIN_ONLY, add_body=lambda w: {"user": w.superuser.pk}),
    *admin_model("audit.auditlog", lambda w: w.audit_row, view=READERS, add=NOBODY, change=NOBODY, delete=NOBODY),
    *admin_model("audit.notification", lambda w: w.notification, view=READERS, add=NOBODY, change=NOBODY,
                 delete=NOBODY),
    *admin_model("ledger.account", lambda w: w.wallet, view=ALL_STAFF, add=NOBODY, change=NOBODY, delete=NOBODY),
    *admin_model("ledger.transfer", lambda w: w.transfer, view=ALL_STAFF, add=NOBODY, change=NOBODY,
                 delete=NOBODY),
    *admin_model("ledger.checkpoint", lambda w: w.checkpoint, view=ALL_STAFF, add=NOBODY, change=NOBODY,
                 delete=NOBODY),
    *admin_model("events.sport", lambda w: w.sport, view=ALL_STAFF, add=ADMIN_ONLY, change=TRADERS,
                 delete=ADMIN_ONLY, add_body=lambda w: {"key": "chess", "name": "Chess", "inplay_delay_seconds": 5}),
    *simple_history("events.sport", lambda w: w.sport, view=ALL_STAFF, revert=NOBODY),
    *admin_model("events.competition", lambda w: w.competition, view=ALL_STAFF, add=TRADERS, change=ADMIN_ONLY,
                 delete=ADMIN_ONLY, add_body=lambda w: {"sport": w.sport.pk, "name": "Matrix Cup"}),
    *admin_model("events.event", lambda w: w.event, view=ALL_STAFF, add=TRADERS, change=NOBODY, delete=NOBODY,
                 add_body=lambda w: {"home_team": "Matrix Home", "away_team": "Matrix Away", "sport": "football",
                                     "competition": "Matrix League",
                                     "start_time": (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
                                     "match_result__home": "2.50", "match_result__draw": "3.20",
                                     "match_result__away": "2.80"}),
    *object_actions("events.event", lambda w: w.event, who=TRADERS,
                    bodies={"start": NOTHING, "finish": NOTHING,
                            "result": lambda w: {"home_score": 2, "away_score": 1}, "cancel": REASON}),
    *admin_model("events.market", lambda w: w.market, view=ALL_STAFF, add=NOBODY, change=NOBODY, delete=NOBODY),
    *simple_history("events.market", lambda w: w.market, view=ALL_STAFF, revert=NOBODY),
    *object_actions("events.market", lambda w: w.market, who=TRADERS,
                    bodies={"suspend": REASON, "resume": REASON, "close": REASON, "cancel": REASON},
                    objects={"resume": lambda w: w.suspended_market}),
    *admin_model("events.outcome", lambda w: w.home, view=ALL_STAFF, add=NOBODY, change=NOBODY, delete=NOBODY),
    *simple_history("events.outcome", lambda w: w.home, view=ALL_STAFF, revert=NOBODY),
    *object_actions("events.outcome", lambda w: w.home, who=TRADERS,
                    bodies={"price": lambda w: {"price": "2.40", "reason": "matrix"}, "release": NOTHING},
                    objects={"release": lambda w: w.pinned}),
    *admin_model("events.oddstick", lambda w: w.tick, view=ALL_STAFF, add=NOBODY, change=NOBODY, delete=NOBODY),
    *admin_model("risk.limitprofile", lambda w: w.limit_profile, view=ALL_STAFF, add=COMPLIANCE, change=COMPLIANCE,
                 delete=COMPLIANCE, add_body=lambda w: {"scope": "player", "player": w.other_player.pk,
                                                        "max_stake": "50.00"}),
    *simple_history("risk.limitprofile", lambda w: w.limit_profile, view=ALL_STAFF, revert=NOBODY),
    *admin_model("risk.exposurecap", lambda w: w.exposure_cap, view=ALL_STAFF, add=COMPLIANCE, change=COMPLIANCE,
                 delete=COMPLIANCE, add_body=lambda w: {"market_kind": "over_under", "cap": "5000.00"}),
    *simple_history("risk.exposurecap", lambda w: w.exposure_cap, view=ALL_STAFF, revert=NOBODY),
    *admin_model("risk.geofence", lambda w: w.geofence, view=ALL_STAFF, add=NOBODY, change=COMPLIANCE,
                 delete=NOBODY),
    *simple_history("risk.geofence", lambda w: w.geofence, view=ALL_STAFF, revert=NOBODY),
    # Read-only: the player sets their own limits (the cooling-off), nobody shortens an exclusion.
    *admin_model("risk.playerrestriction", lambda w: w.restriction, view=ALL_STAFF, add=NOBODY, change=NOBODY,
                 delete=NOBODY),
    *simple_history("risk.playerrestriction", lambda w: w.restriction, view=ALL_STAFF, revert=NOBODY),
    *admin_model("risk.outcomeexposure", lambda w: w.exposure, view=ALL_STAFF, add=NOBODY, change=NOBODY,
                 delete=NOBODY),
    # Raised by the monitoring, moved on only by its workflow (compliance, admin)
    *admin_model("risk.amlalert", lambda w: w.aml_alert, view=READERS, add=NOBODY, change=NOBODY, delete=NOBODY),
    *object_actions("risk.amlalert", lambda w: w.aml_alert, who=COMPLIANCE,
                    bodies={"investigate": REASON, "close": REASON},
                    objects={"close": lambda w: w.investigating_alert}),
    # Decided only through risk.kyc (compliance, admin); regulators read them, numbers masked
    *admin_model("risk.kycdocument", lambda w: w.kyc_document, view=READERS, add=NOBODY, change=NOBODY,
                 delete=NOBODY),
    *object_actions("risk.kycdocument", lambda w: w.kyc_document, who=COMPLIANCE,
                    bodies={"verify": REASON, "reject": REASON}),
    # the world's document has no scan (tests/risk/test_kyc.py downloads one)
    Row("admin:risk_kycdocument_file", "GET", staff(FORBIDDEN, NOT_FOUND, FORBIDDEN, NOT_FOUND),
        args=lambda w: [w.kyc_document.pk]),
    *admin_model("accounts.user", lambda w: w.player, view=READERS, add=ADMIN_ONLY, change=None,
                 delete=ADMIN_ONLY,
                 add_body=lambda w: {"username": "matrix-user", "password1": "another-long-pass-9",
                                     "password2": "another-long-pass-9", "usable_password": "true"}),
    # Changing a user: compliance may change a player, never anyone whose privileges are its own or more
    # (a staff member, a superuser); the admin may change players and staff, not another superuser.
    *user_pages("a player", lambda w: w.player, change=COMPLIANCE),
    *user_pages("a trader", lambda w: w.trader, change=ADMIN_ONLY),
    *user_pages("another superuser", lambda w: w.superuser, change=NOBODY),
    # The cashier: the admin role credits or debits a player's wallet with a reason (staff have no wallet)
    Row("admin:accounts_user_cashier", "GET", staff(*ADMIN_ONLY), on="a player", args=lambda w: [w.player.pk]),
    Row("admin:accounts_user_cashier", "POST", staff(*ADMIN_ONLY), on="a player", args=lambda w: [w.player.pk],
        body=lambda w: {"direction": "credit", "amount": "10.00", "reason": "matrix"}),
    # Tenants are created by POST /api/v1/tenants (with their plan and limits); the console reads and rebrands them
    *admin_model("accounts.tenant", lambda w: w.tenant, view=(FORBIDDEN, FORBIDDEN, OK, OK), add=NOBODY,
                 change=ADMIN_ONLY, delete=NOBODY),
    Row("admin:accounts_user_cashier", "GET", staff(FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND), on="a trader",
        args=lambda w: [w.trader.pk]),
    *admin_model("betting.bet", lambda w: w.bet, view=ALL_STAFF, add=NOBODY, change=NOBODY, delete=NOBODY),
    *object_actions("betting.bet", lambda w: w.bet, who=TRADERS,
                    bodies={"settle": lambda w: {"result": "won", "reason": "matrix"}}),
    *admin_model("betting.challenge", lambda w: w.challenge, view=ALL_STAFF, add=NOBODY, change=NOBODY,
                 delete=NOBODY),
    *object_actions("betting.challenge", lambda w: w.challenge, who=TRADERS,
                    bodies={"void": REASON, "retry_payout": NOTHING},
                    objects={"retry_payout": lambda w: w.matched_challenge}),
    *admin_model("betting.escrowaudit", lambda w: w.escrow_audit, view=READERS, add=NOBODY, change=NOBODY,
                 delete=NOBODY),
    *admin_model("wallet.gatewaytransfer", lambda w: w.gateway_transfer, view=ALL_STAFF, add=NOBODY,
                 change=NOBODY, delete=NOBODY),
    *admin_model("wallet.externaltransaction", lambda w: w.external_transaction, view=ALL_STAFF, add=NOBODY,
                 change=NOBODY, delete=NOBODY),
    # Statements are written by the commission run and decided only through agents.services; the admin
    # edits a tenant's plan (made with the tenant), compliance and regulators read it
    *admin_model("agents.commissionstatement", lambda w: w.statement, view=READERS, add=NOBODY, change=NOBODY,
                 delete=NOBODY),
    *object_actions("agents.commissionstatement", lambda w: w.statement, who=COMPLIANCE,
                    bodies={"approve": REASON, "reject": REASON}),
    *admin_model("agents.commissionplan", lambda w: w.plan, view=READERS, add=NOBODY, change=ADMIN_ONLY,
                 delete=NOBODY),
    # Casino rows change only through casino.services: staff who may view them read them (a seed pair's
    # server seed only once revealed)
    *admin_model("casino.seedpair", lambda w: w.casino_round.seed_pair, view=ALL_STAFF, add=NOBODY, change=NOBODY,
                 delete=NOBODY),
    *admin_model("casino.round", lambda w: w.casino_round, view=ALL_STAFF, add=NOBODY, change=NOBODY,
                 delete=NOBODY),
]

ROWS: list[Row] = [*API_ROWS, *PAGE_ROWS, *CONSOLE_ROWS, *ADMIN_SITE_ROWS, *ADMIN_ROWS]

SOCKET_ROWS: list[Row] = [
    Row("ws/v1/odds", "CONNECT", everyone(ACCEPTED)),
    Row("ws/v1/challenges", "CONNECT", everyone(ACCEPTED)),
    Row("ws/v1/me", "CONNECT", roles(REFUSED, *[ACCEPTED] * (len(ROLES) - 1))),
    Row("ws/pages/odds", "CONNECT", everyone(ACCEPTED)),
    Row("ws/pages/me", "CONNECT", roles(REFUSED, *[ACCEPTED] * (len(ROLES) - 1))),
    Row("ws/pages/challenges", "CONNECT", everyone(ACCEPTED)),
]

# --- The shared fixtures --------------------------------------------------------------------------

def _world_build() -> SimpleNamespace:
    system = Actor.system("matrix")

    def user(role: str, name: str, balance: str | None = None) -> User:
        made, _ = user_with_role(username=name, password=PASSWORD, role=role, email=f"{name}@example.test")
        if balance:
            wallet_deposit(user=made, amount=Decimal(balance), actor=system)
        return made

    w = SimpleNamespace(
        player=user("player", "m-player", "1000.00"), other_player=user("player", "m-other", "1000.00"),
        agent=user("agent", "m-agent"), trader=user("trader", "m-trader"),
        compliance=user("compliance", "m-compliance"), regulator=user("regulator", "m-regulator"),
        admin=user("admin", "m-admin"), superuser=user("admin", "m-root"))
    w.event = event_create(
        home_team="Matrix United", away_team="Matrix City", sport="football", competition="Matrix League",
        start_time=timezone.now() + timedelta(days=1), actor=system,
        markets=[MarketSpec(kind="match_result", prices={"home": "2.50", "draw": "3.20", "away": "2.80"}),
                 MarketSpec(kind="over_under", line="2.5", prices={"over": "1.85", "under": "1.95"})])
    w.market = w.event.markets.get(kind="match_result")
    w.home = w.market.outcomes.get(key="home")
    w.pinned = outcome_price_set(outcome_id=w.market.outcomes.get(key="away").pk, price="2.90", reason="matrix",
                                 actor=system)
    w.suspended_market = market_suspend(market_id=w.event.markets.get(kind="over_under").pk, actor=system)
    w.bet = bet_place(player=w.player, selections=[{"outcome_id": w.home.pk, "price": str(w.home.price)}],
                      stake="5.00", bet_type="single", actor=Actor.of(w.player))
    w.wallet = Account.objects.get(owner=w.player)
    w.casino_round = casino_round_play(player=w.player, game="dice", stake="1.00", target="50.00",
                                       direction="under", actor=Actor.of(w.player)).round
    casino_seed_rotate(player=w.player, actor=Actor.of(w.player))
    for made in (w.player, w.other_player):
        external_wallet_open(user=made, actor=Actor.of(made))
    w.challenge = challenge_create(creator=w.player, event_id=w.event.pk, outcome_id=w.home.pk, stake="5.00",
                                   funding="internal", actor=Actor.of(w.player))
    w.matched_challenge = challenge_create(creator=w.player, event_id=w.event.pk, outcome_id=w.home.pk,
                                           stake="5.00", funding="internal", actor=Actor.of(w.player))
    third = user("player", "m-third", "100.00")
    challenge_accept(challenge_id=w.matched_challenge.pk, acceptor=third, funding="internal", actor=Actor.of(third))
    # as a challenge whose transfers out failed every retry is left (the operator's retry is offered)
    Challenge.objects.filter(pk=w.matched_challenge.pk).update(money_waiting=Challenge.Waiting.OPERATOR)
    w.gateway_transfer = GatewayTransfer.objects.get(reference_id=str(w.challenge.pk), purpose="stake")
    w.external_transaction = external_wallet_top_up(user=w.player, amount="20.00", actor=system).transaction
    w.escrow_audit = escrow_audit_run()
    w.transfer = Transfer.objects.filter(credit_account=w.wallet).earliest("entry_number")
    checkpoint_create()
    w.checkpoint = Checkpoint.objects.first()
    w.sport = Sport.objects.get(key="football")
    w.competition = Competition.objects.get(name="Matrix League")
    w.tick = OddsTick.objects.filter(outcome=w.pinned).first()
    w.exposure = OutcomeExposure.objects.get(outcome=w.home)
    w.limit_profile = LimitProfile.objects.create(scope=LimitProfile.Scope.PLAYER, player=w.player,
                                                  max_stake="100.00")
    w.exposure_cap = ExposureCap.objects.create(market_kind="match_result", cap="900000.00")
    w.geofence = Geofence.objects.first() or Geofence.objects.create()
    w.restriction, _ = PlayerRestriction.objects.get_or_create(player=w.player)
    w.player_session = UserSession.objects.create(user=w.player, kind=UserSession.Kind.SESSION,
                                                  key="matrix-browser-elsewhere", started_at=timezone.now(),
                                                  last_seen_at=timezone.now())
    w.kyc_document = kyc_submit(player=w.player, document_type="passport", document_number="MATRIX-123456",
                                actor=Actor.of(w.player))
    alerted = user("player", "m-alerted")
    w.aml_alert, w.investigating_alert = [
        aml_check_deposit(wallet_deposit(user=alerted, amount=Decimal("10000.00"), actor=system).transfer.pk)[0]
        for _ in range(2)]
    aml_alert_update(alert_id=w.investigating_alert.pk, status="investigating", reason="matrix", actor=system)
    w.notification = notification_create(kind="matrix", message="Hello.", user=w.player)
    w.audit_row = AuditLog.objects.latest("pk")
    w.group = Group.objects.get(name="player")
    # the agent's player deposited today: the agent's pending statement of today (deposits line 2.00)
    agented = user("player", "m-agented", "100.00")
    User.objects.filter(pk=agented.pk).update(agent=w.agent)
    today = timezone.now().date()
    w.statement = next(s for s in commissions_run(start=today, end=today + timedelta(days=1), actor=system)
                       if s.agent_id == w.agent.pk)
    w.plan = CommissionPlan.objects.get(tenant__slug=settings.PLATFORM_TENANT)
    w.tenant = Tenant.objects.get(slug=settings.PLATFORM_TENANT)
    Token.objects.get_or_create(user=w.player)
    w.token = TokenProxy.objects.get(user=w.player)
    # A version for the history pages to open: event_create bulk-inserts outcomes (no history signal) and
    # the geofence and sport rows come from migrations.
    for obj in (w.home, w.geofence, w.sport):
        obj.save()
    return w


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module in a transaction rolled back at its end (as Django's setUpTestData).

    Passwords are hashed with a fast hasher here: the matrix logs in, registers and changes passwords
    a few dozen times, and Argon2 (100 MB a hash) made that half of its run time."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]), \
            django_db_blocker.unblock(), transaction.atomic():
        built = _world_build()
        yield built
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def clients(world, django_db_blocker):
    """Per role: a page client logged in with a session, and an API client with a token."""
    with django_db_blocker.unblock():
        made = {"anonymous": (Client(raise_request_exception=False), APIClient(raise_request_exception=False))}
        for role in ROLES[1:]:
            user = getattr(world, role)
            page, api = Client(raise_request_exception=False), APIClient(raise_request_exception=False)
            page.force_login(user)
            api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
            made[role] = (page, api)
    return made


# --- Running a row --------------------------------------------------------------------------------

class _FormReader(HTMLParser):
    """The fields a browser would submit from each POST form of a page."""

    def __init__(self):
        super().__init__()
        self.forms: list[list[tuple[str, str]]] = []
        self.inside = False
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("method", "").lower() == "post"
            if self.inside:
                self.forms.append([])
        if not self.inside:
            return
        fields, name = self.forms[-1], a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                fields.append((name, a.get("value") or ("on" if a.get("type") == "checkbox" else "")))
        elif tag == "select" and name:
            self.select = name
        elif tag == "option" and self.select and "selected" in a:
            fields.append((self.select, a.get("value", "")))
        elif tag == "textarea" and name:
            self.textarea = name
            fields.append((name, ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            name, value = self.forms[-1][-1]
            self.forms[-1][-1] = (name, value + data)


def _form_of(client: Client, url: str) -> dict[str, list[str]]:
    """The page's main form (its largest: the admin's header also holds a log-out form)."""
    reader = _FormReader()
    reader.feed(client.get(url).content.decode())
    data: dict[str, list[str]] = {}
    for name, value in max(reader.forms, key=len, default=[]):
        if name != "csrfmiddlewaretoken":
            data.setdefault(name, []).append(value)
    return data


def _login_urls() -> tuple[str, ...]:
    return settings.LOGIN_URL, reverse("admin:login")


def _outcome(response, row: Row, client, audit_before: int) -> str:
    status = response.status_code
    code = ""
    if row.kind == "api" and response.get("Content-Type", "").startswith("application/json"):
        try:
            code = response.json().get("error", "")
        except (ValueError, AttributeError):
            code = ""
    if status in (301, 302, 303) and response["Location"].startswith(_login_urls()):
        return LOGIN
    if status == 401:
        return LOGIN
    if status == 403:
        return f"{FORBIDDEN} {code}".strip()
    if status == 404:
        return NOT_FOUND
    if status == 405:
        return "NOT_ALLOWED"
    if row.kind == "page" and status < 500:
        refused = _page_refusal(client, audit_before) if row.method == "POST" else ""
        if refused == "login_required":
            return LOGIN
        if refused:
            return f"REFUSED_ON_PAGE {refused}"
    if 200 <= status < 400:
        context = response.context
        if row.method == "POST" and context is not None and "adminform" in context \
                and context["adminform"].form.errors:
            return f"INVALID {dict(context['adminform'].form.errors)}"
        return OK
    return f"{status} {code}".strip()


def _page_refusal(client, audit_before: int) -> str:
    """The refusal a page showed: the slip's error, or a refusal the services audited."""
    slip = client.session.get("slip") or {}
    if slip.get("error"):
        return slip["error"]["code"]
    refused = AuditLog.objects.filter(pk__gt=audit_before, outcome=AuditLog.Outcome.REFUSED).first()
    return refused.details.get("error", "refused") if refused else ""


def _request(row: Row, role: str, world, clients, forms: dict) -> str:
    page, api = clients[role]
    client = api if row.kind == "api" else page
    cookies = {name: morsel.value for name, morsel in page.cookies.items()}
    sid = transaction.savepoint()
    try:
        url = row.url(world)
        body: Any = {}
        if row.body is FROM_FORM:
            if url not in forms:
                forms[url] = _form_of(clients["admin"][0], url)
            body = forms[url]
        elif row.body:
            body = row.body(world)
        if row.before:
            row.before(client, world)
        audit_before = AuditLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        extra = {"HTTP_HX_REQUEST": "true"} if row.htmx else {}
        if row.kind == "api":
            response = client.generic(row.method, url, data=json.dumps(body), content_type="application/json", **extra)
        elif row.method == "GET":
            response = client.get(url, **extra)
        else:
            response = getattr(client, row.method.lower())(url, data=body, **extra)
        return _outcome(response, row, client, audit_before)
    except Exception as exc:  # a failure is a cell of the report, not the end of the run
        return f"ERROR {type(exc).__name__}: {exc}"
    finally:
        transaction.savepoint_rollback(sid)
        page.cookies.clear()
        for name, value in cookies.items():
            page.cookies[name] = value


def matches(expected: str, got: str) -> bool:
    return got == expected or got.startswith(expected + " ")


def describe(row: Row, role: str, expected: str, got: str) -> str:
    on = f" [{row.on}]" if row.on else ""
    return f"{row.method} {row.name}{on} as {role}: expected {expected}, got {got}"


# --- The tests ------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_its_outcome_on_every_url(db, world, clients, role):
    # given: the shared fixtures and the role's clients
    forms: dict = {}
    # when: the role sends every request of the table
    wrong = [describe(row, role, row.expect[role], got) for row in ROWS
             if not matches(row.expect[role], got := _request(row, role, world, clients, forms))]
    # then: each outcome is the table's
    assert not wrong, f"{len(wrong)} outcome(s) differ from the table:\n" + "\n".join(wrong)


# --- Every URL has a row --------------------------------------------------------------------------

def _patterns(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace or ""]))
            yield from _patterns(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield name or route, _methods(entry.callback)


def _methods(callback) -> set[str] | None:
    """The methods an API view (DRF) answers; None for the others, whose rows name the methods that
    matter (Django's generic views answer every method, a redirect with a redirect)."""
    view = getattr(callback, "cls", None)
    if view is None:
        return None
    return {m.upper() for m in view.http_method_names if m not in ("options", "head") and hasattr(view, m)}


def test_every_url_and_socket_has_a_row():
    # given: every pattern of the URL conf (the admin's included) and of the socket routing
    patterns: dict[str, set[str] | None] = {}
    for name, methods in _patterns(get_resolver()):
        patterns[name] = (patterns.get(name) or set()) | (methods or set()) if methods else patterns.get(name)
    sockets = {str(p.pattern) for p in [*routing.public_websocket_urlpatterns, *routing.websocket_urlpatterns]}
    rows = {row.key for row in ROWS}
    # then: each has a row (a class-based view, one per method it answers), and each row a pattern
    named = {name for name, _, _ in rows}
    missing = sorted(name for name in patterns if name not in named)
    missing += sorted(f"{method} {name}" for name, methods in patterns.items() for method in methods or ()
                      if name in named and not any(r[:2] == (name, method) for r in rows))
    missing += sorted(f"socket {route}" for route in sockets - {row.name for row in SOCKET_ROWS})
    stale = sorted(f"{method} {name}" for name, method, on in rows
                   if name not in patterns or (patterns[name] and method not in patterns[name]))
    stale += sorted(f"socket {row.name}" for row in SOCKET_ROWS if row.name not in sockets)
    assert not missing and not stale, (f"URLs without a row: {missing}\n" if missing else "") + \
        (f"rows without a URL: {stale}" if stale else "")


def test_every_row_names_every_role():
    assert set(ROLES) == {*PERMISSIONS, "anonymous", "other_player"}, "a role of roles.py has no column"
    assert all(set(row.expect) == set(ROLES) for row in [*ROWS, *SOCKET_ROWS])
    assert len({row.key for row in ROWS}) == len(ROWS), "two rows for one URL, method and object"
