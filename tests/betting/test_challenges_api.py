"""/api/v1/challenges: the shape of a challenge, who sees which, and the writes over HTTP."""

from decimal import Decimal

import pytest
from django.test import override_settings

from audit.context import Actor
from betting.challenge_api import ChallengeSerializer, ChallengeTransferSerializer
from betting.challenges import challenge_accept, challenge_create
from events.models import Player
from tests.conftest import outcome_of
from wallet.external import external_wallet_open, external_wallet_top_up

FIELDS = {"id", "event_id", "creator_id", "acceptor_id", "selection", "stake", "pot", "fee", "status", "result",
          "winner_id", "payout", "transfers", "created_at", "matched_at", "settled_at", "money_waiting"}


def test_the_schema_documents_the_shape_answered():
    # challenge_out builds the answer by hand (faster than a serializer); the schema's serializer must agree
    assert set(ChallengeSerializer().fields) == FIELDS
    assert set(ChallengeTransferSerializer().fields) == {"direction", "party", "gateway", "amount", "network_fee",
                                                         "status", "tx_id"}


@pytest.fixture
def event(make_event):
    return make_event()


@pytest.fixture
def alice(make_user):
    return make_user(balance="100.00")


@pytest.fixture
def bob(make_user):
    user = make_user(balance="100.00")
    external_wallet_open(user=user, actor=Actor.of(user))
    external_wallet_top_up(user=user, amount="100.00", actor=Actor.of(user))
    return user


def body(event, **more):
    return {"event_id": event.pk, "outcome_id": outcome_of(event).pk, "stake": "10.00", "funding": "internal",
            **more}


def test_create_answers_with_the_challenge_in_its_documented_shape(api, event, alice):
    # when
    response = api(alice).post("/api/v1/challenges", body(event), format="json")
    # then
    assert response.status_code == 201, response.json()
    challenge = response.json()
    assert set(challenge) == FIELDS
    outcome = outcome_of(event)
    assert challenge["selection"] == {"outcome_id": outcome.pk, "market_id": outcome.market_id,
                                      "name": f"{outcome.market.name}: {outcome.name}", "price": "2.500"}
    assert (challenge["stake"], challenge["pot"], challenge["fee"], challenge["payout"]) == (
        "10.00", "20.00", "1.00", None)
    assert (challenge["status"], challenge["creator_id"], challenge["acceptor_id"]) == ("open", alice.pk, None)
    [moved] = challenge["transfers"]
    assert moved == {"direction": "in", "party": "creator", "gateway": "internal", "amount": "10.00",
                     "network_fee": "0.00", "status": "confirmed", "tx_id": moved["tx_id"]}
    assert moved["tx_id"].startswith("LDG-")


def test_a_proposition_is_described_by_its_player_stat_line_and_side(api, event, alice):
    star = Player.objects.create(event=event, name="Star", team="home")
    response = api(alice).post("/api/v1/challenges", {
        "event_id": event.pk, "proposition": {"player_id": star.pk, "stat": "rebounds", "line": "7.5",
                                              "side": "under"}, "stake": "5.00", "funding": "internal"},
        format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["selection"] == {"player_id": star.pk, "player": "Star", "stat": "rebounds",
                                            "line": "7.5", "side": "under"}


def test_the_idempotency_key_replays_the_first_answer(api, event, alice):
    client = api(alice)
    first = client.post("/api/v1/challenges", body(event), format="json", HTTP_IDEMPOTENCY_KEY="c1")
    again = client.post("/api/v1/challenges", body(event), format="json", HTTP_IDEMPOTENCY_KEY="c1")
    other = client.post("/api/v1/challenges", body(event, stake="11.00"), format="json", HTTP_IDEMPOTENCY_KEY="c1")
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409 and other.json()["error"] == "idempotency_conflict"


def test_accept_and_cancel_over_http(api, event, alice, bob):
    made = api(alice).post("/api/v1/challenges", body(event), format="json").json()
    cancelled = api(alice).post("/api/v1/challenges", body(event), format="json").json()
    # when
    accepted = api(bob).post(f"/api/v1/challenges/{made['id']}/accept", {"funding": "external"}, format="json")
    cancel = api(alice).post(f"/api/v1/challenges/{cancelled['id']}/cancel")
    # then
    assert accepted.status_code == 200, accepted.json()
    assert (accepted.json()["status"], accepted.json()["acceptor_id"]) == ("matching", bob.pk)
    assert [(t["party"], t["gateway"], t["status"]) for t in accepted.json()["transfers"]] == [
        ("creator", "internal", "confirmed"), ("acceptor", "external", "pending")]
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    assert [(t["direction"], t["party"], t["amount"]) for t in cancel.json()["transfers"]] == [
        ("in", "creator", "10.00"), ("out", "creator", "10.00")]
    again = api(alice).post(f"/api/v1/challenges/{cancelled['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"] == "challenge_unavailable"


def test_the_list_shows_open_ones_to_anyone_and_its_own_to_a_party(api, event, alice, bob, make_user):
    # given: an open challenge and one matched between alice and bob
    outcome = outcome_of(event).pk
    open_one = challenge_create(creator=alice, event_id=event.pk, outcome_id=outcome, stake="5.00",
                                funding="internal", actor=Actor.of(alice))
    matched = challenge_create(creator=alice, event_id=event.pk, outcome_id=outcome, stake="5.00",
                               funding="internal", actor=Actor.of(alice))
    challenge_accept(challenge_id=matched.pk, acceptor=bob, funding="internal", actor=Actor.of(bob))

    def ids(user, query=""):
        response = api(user).get(f"/api/v1/challenges{query}")
        assert response.status_code == 200, response.json()
        return {c["id"] for c in response.json()["results"]}

    # then
    assert ids(None) == {open_one.pk} == ids(make_user())
    assert ids(bob) == ids(alice) == {open_one.pk, matched.pk} == ids(make_user("trader"))
    assert ids(alice, "?status=matched") == {matched.pk}
    assert ids(alice, f"?event_id={event.pk + 1}") == set()
    assert api(None).get(f"/api/v1/challenges/{open_one.pk}").status_code == 200
    assert api(None).get(f"/api/v1/challenges/{matched.pk}").status_code == 404
    assert api(make_user()).get(f"/api/v1/challenges/{matched.pk}").status_code == 404
    assert api(bob).get(f"/api/v1/challenges/{matched.pk}").json()["matched_at"] is not None
    bad = api(alice).get("/api/v1/challenges?status=pending")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"


@pytest.mark.parametrize(("sent", "code"), [
    ({"funding": "bank"}, "invalid_funding"), ({"stake": 10.0}, "invalid_amount"),
    ({"outcome_id": "1"}, "invalid_selection"), ({"event_id": "one"}, "invalid_request")])
def test_bad_input_is_a_400_with_its_code(api, event, alice, sent, code):
    response = api(alice).post("/api/v1/challenges", body(event, **sent), format="json")
    assert response.status_code == 400 and response.json()["error"] == code


def test_an_unknown_event_or_challenge_is_a_404(api, alice):
    assert api(alice).post("/api/v1/challenges", {"event_id": 999999, "outcome_id": 1, "stake": "5.00",
                                                  "funding": "internal"}, format="json").status_code == 404
    assert api(alice).post("/api/v1/challenges/999999/accept", {"funding": "internal"},
                           format="json").status_code == 404


@override_settings(EXTERNAL_WALLET_AVAILABLE=False)
def test_an_external_challenge_while_the_service_is_down_is_a_503_with_retry_after(api, event, bob):
    response = api(bob).post("/api/v1/challenges", body(event, funding="external"), format="json")
    assert response.status_code == 503
    assert response.json()["error"] == "external_wallet_unavailable"
    assert response["Retry-After"] == "30"
    assert Decimal(api(bob).get("/api/v1/wallet").json()["balance"]) == Decimal("100.00")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_each_party_hears_of_the_challenge_on_its_socket_after_commit(make_user, make_event):
    import json

    from asgiref.sync import async_to_sync, sync_to_async
    from channels.testing import WebsocketCommunicator
    from rest_framework.authtoken.models import Token

    from oddslab.asgi import websocket_application

    creator, acceptor = make_user(balance="100.00"), make_user(balance="100.00")
    event = make_event()
    outcome = outcome_of(event).pk

    async def challenge_messages(communicator, count):
        found = []
        while len(found) < count:
            message = json.loads(await communicator.receive_from(timeout=3))
            if message["type"] == "challenge":
                found.append(message)
        return found

    async def scenario():
        sockets = []
        for user in (creator, acceptor):
            token = await sync_to_async(lambda u=user: Token.objects.create(user=u).key)()
            socket = WebsocketCommunicator(websocket_application, "/ws/v1/me",
                                           headers=[(b"authorization", f"Token {token}".encode())])
            assert (await socket.connect())[0]
            sockets.append(socket)
        made = await sync_to_async(challenge_create)(
            creator=creator, event_id=event.pk, outcome_id=outcome, stake="10.00",
            funding="internal", actor=Actor.of(creator))
        await sync_to_async(challenge_accept)(challenge_id=made.pk, acceptor=acceptor, funding="internal",
                                              actor=Actor.of(acceptor))
        heard = [await challenge_messages(sockets[0], 2), await challenge_messages(sockets[1], 1)]
        for socket in sockets:
            await socket.disconnect()
        return made, heard

    made, (creators, acceptors) = async_to_sync(scenario)()
    assert creators == [{"type": "challenge", "challenge_id": made.pk, "status": "open", "result": None},
                        {"type": "challenge", "challenge_id": made.pk, "status": "matched", "result": None}]
    assert acceptors == [{"type": "challenge", "challenge_id": made.pk, "status": "matched", "result": None}]
