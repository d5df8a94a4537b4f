"""The whole OpenAPI schema, fuzzed in-process with schemathesis: no request may get a 5xx.

Every operation of ``/api/schema/`` gets ``FUZZ_EXAMPLES`` generated requests (schema-valid ones and
schema-breaking ones) from a fixed seed, as a funded player and as an admin (every operator
permission), against the Django
app through its WSGI handler in this test's transaction (each request in a savepoint rolled back after
it, so every request meets the same book). ``make fuzz`` runs it with a larger budget.

Asserted for every response: ``not_a_server_error``, and the conformance checks that hold for this
API (``CONFORMANCE``): bodies match their documented schema, and content types their documented ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from betting.models import Bet
from events.models import Market, Outcome
from ledger.models import Account

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
SEED = int(os.environ.get("FUZZ_SEED", "13"))
CONFORMANCE = [content_type_conformance, response_schema_conformance]
# Small generated path ids stand for these rows, so a share of the requests reach real objects.
ID_ROWS = {"events": "event", "markets": "market", "outcomes": "outcome", "bets": "bet", "accounts": "account",
           "challenges": "challenge"}


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """The app in this thread and this transaction: as Django's test client does, a finished request
    must not close the connection (that would end the test's transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def book(make_user, make_event) -> dict[str, list[int]]:
    """Events with markets, a funded player with a bet, and the ids a generated path may stand for."""
    from audit.context import Actor
    from betting.challenges import challenge_create
    from betting.services import bet_place
    from events.services import MarketSpec
    from tests.conftest import selection

    events = [make_event(extra_markets=[MarketSpec(kind="both_teams_to_score", prices={"yes": "1.80", "no": "2.00"})])
              for _ in range(3)]
    player = make_user("player", "fuzz-player", balance="10000.00")
    bet = bet_place(player=player, selections=[selection(events[0])], stake=Decimal("10.00"), bet_type="single",
                    actor=Actor.of(player))
    markets = list(Market.objects.filter(event__in=events).values_list("pk", flat=True))
    # open challenges: the player's own (to cancel) and a rival's (to accept)
    rival = make_user("player", "fuzz-rival", balance="100.00")
    home = selection(events[0])["outcome_id"]
    challenges = [challenge_create(creator=creator, event_id=events[0].pk, outcome_id=home, stake=Decimal("5.00"),
                                   funding="internal", actor=Actor.of(creator)).pk for creator in (player, rival)]
    return {"challenge": challenges, "event": [e.pk for e in events], "market": markets,
            "outcome": list(Outcome.objects.filter(market_id__in=markets).values_list("pk", flat=True)),
            "bet": [bet.pk], "account": list(Account.objects.filter(owner=player).values_list("pk", flat=True)),
            "player": [player.pk]}


def _real_ids(case: Any, ids: dict[str, list[int]]) -> None:
    """Map a small generated id (0..3) onto a real row: in the path, of the resource the path names;
    in a slip's selections, an outcome."""
    parts = case.operation.path.strip("/").split("/")
    for name, value in (case.path_parameters or {}).items():
        rows = ids.get(ID_ROWS.get(parts[parts.index("{" + name + "}") - 1], ""), [])
        if rows and isinstance(value, int) and 0 <= value < 4:
            case.path_parameters[name] = rows[value % len(rows)]
    selections = case.body.get("selections") if isinstance(case.body, dict) else None
    for leg in selections if isinstance(selections, list) else []:
        if isinstance(leg, dict) and isinstance(leg.get("outcome_id"), int) and 0 <= leg["outcome_id"] < 4:
            leg["outcome_id"] = ids["outcome"][leg["outcome_id"]]


def _fuzz(schema: Any, *, headers: dict[str, str], ids: dict[str, list[int]]) -> list[str]:
    """Every operation, both generation modes; returns one report per failing operation and mode."""
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        # an operation without parameters or body has nothing a negative case could break
        breakable = any(operation.iter_parameters()) or len(operation.body) > 0
        for mode in (GenerationMode.POSITIVE, *([GenerationMode.NEGATIVE] if breakable else [])):
            _fuzz_operation(operation, mode, headers=headers, ids=ids, failures=failures)
    return [f"{label}\n{report}" for label, report in failures.items()]


def _fuzz_operation(operation: Any, mode: GenerationMode, *, headers: dict[str, str], ids: dict[str, list[int]],
                    failures: dict[str, str]) -> None:
    # conformance only for schema-valid requests: a broken one may rightly get an undocumented refusal
    checks = [not_a_server_error, *(CONFORMANCE if mode is GenerationMode.POSITIVE else [])]

    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case: Any) -> None:
        _real_ids(case, ids)
        with transaction.atomic():
            response = case.call(headers=headers)
            transaction.set_rollback(True)
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as failure:  # keep the first per operation and mode
            failures.setdefault(f"{operation.label} ({mode})", str(failure)[:3000])

    try:
        call()
    except Unsatisfiable:  # only optional untyped parameters: no negative case to make
        assert mode is GenerationMode.NEGATIVE


@pytest.mark.parametrize("role", ["player", "admin"])
def test_no_request_gets_a_server_error(wsgi_app, book, make_user, role):
    # given the app's own schema and a caller of this role (the player funded, with a bet)
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    user = (Account.objects.get(pk=book["account"][0]).owner if role == "player" else make_user(role))
    token, _ = Token.objects.get_or_create(user=user)
    # when every operation is called with generated requests
    failures = _fuzz(schema, headers={"Authorization": f"Token {token.key}"}, ids=book)
    # then none got a 5xx, and the responses of schema-valid requests match the schema
    assert not failures, "\n\n".join(failures)
    assert Bet.objects.filter(pk=book["bet"][0]).exists()  # the savepoints undid every request's writes
