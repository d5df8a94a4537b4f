"""The lean write path (core.api.LeanPost: placement, validation, challenge create and accept): the
same authentication, CSRF check, parsing, error shape and answer as DRF's generic path gave, and the
schema's serializers in step with the answers built by hand."""

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from audit.context import Actor
from betting.api import BetSerializer, bet_out
from betting.challenge_api import ChallengeSerializer, challenge_out
from betting.challenges import challenge_create
from betting.models import Bet
from betting.services import bet_place
from tests.conftest import bets_snapshot, outcome_of, selection


@pytest.fixture
def event(make_event):
    return make_event()


@pytest.fixture
def player(make_user):
    return make_user(balance="100.00")


def slip(event) -> dict:
    return {"selections": [selection(event)], "stake": "1.00", "bet_type": "single"}


def test_the_hand_built_answers_are_what_the_documenting_serializers_give(player, event):
    # given a bet and a challenge as the services leave them
    bet = bet_place(player=player, actor=Actor.of(player), **slip(event))
    challenge = challenge_create(creator=player, event_id=event.pk, outcome_id=outcome_of(event).pk, stake="2.00",
                                 funding="internal", actor=Actor.of(player))
    # then the answers are the serializers' to the byte (the schema documents them)
    assert json.dumps(bet_out(bet)) == json.dumps(BetSerializer(bet).data)
    stored = Bet.objects.get(pk=bet.pk)
    stored.leg_list = list(stored.legs.order_by("position"))
    assert bet_out(stored) == BetSerializer(stored).data
    # (the challenge's serializer only documents: its fee and transfers are computed by challenge_out)
    assert set(challenge_out(challenge)) == set(ChallengeSerializer().fields)


@pytest.mark.parametrize("path", ["/api/v1/bets", "/api/v1/bets/validate", "/api/v1/challenges"])
def test_no_credentials_is_a_401_that_names_the_token_scheme(db, path):
    response = APIClient().post(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_an_unknown_token_is_a_401(db, event):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = client.post("/api/v1/bets", slip(event), format="json")
    assert (response.status_code, response.json()["error"]) == (401, "not_authenticated")


def test_a_session_must_send_its_csrf_token_and_then_places(player, event):
    # given a logged-in browser that enforces CSRF, as a real one is checked
    client = Client(enforce_csrf_checks=True)
    client.force_login(player)
    before = bets_snapshot()
    # when it posts without the token: refused, nothing placed
    refused = client.post("/api/v1/bets", slip(event), content_type="application/json")
    assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    assert bets_snapshot() == before
    # when it sends the token it was given
    client.get("/")
    token = client.cookies["csrftoken"].value
    placed = client.post("/api/v1/bets", slip(event), content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert placed.status_code == 201, placed.json()
    assert placed.json()["status"] == "accepted"


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    ("selections=1&stake=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ('{"stake": ', "application/json", 400, "invalid_request"),
    ('{"stake": "1\\u0000"}', "application/json", 400, "invalid_request"),
    ("", "application/json", 400, "invalid_request"),
    ("[1, 2]", "application/json", 400, "invalid_request"),
])
def test_bad_bodies_are_refused_with_the_error_shape_and_change_nothing(api, player, body, content_type, status,
                                                                        code):
    before = bets_snapshot()
    response = api(player).generic("POST", "/api/v1/bets", body, content_type=content_type)
    assert response.status_code == status, response.content
    assert set(response.json()) == {"error", "message", "details"}
    assert response.json()["error"] == code
    assert bets_snapshot() == before


def test_a_refusal_keeps_its_status_details_and_retry_header(api, player, event, settings):
    # given a slip over the balance
    response = api(player).post("/api/v1/bets", {**slip(event), "stake": "500.00"}, format="json")
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "insufficient_funds" and body["details"]["violations"]


def test_a_token_request_reads_the_role_with_the_token(api, player, event):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client, body = api(player), slip(event)
    client.post("/api/v1/bets", body, format="json")  # prepared statements warm
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/bets", body, format="json")
    assert response.status_code == 201
    sent = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # the token with its user and groups, then the placement: no separate read of the groups
    assert len(sent) == 2, sent
    assert "auth_group" in sent[0] and "betting_slip_place" in sent[1]
