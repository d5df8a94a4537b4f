"""The live layer with Channels' communicator and the real Redis channel layer."""

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from audit.context import Actor
from betting.services import bet_place
from oddslab.asgi import websocket_application
from oddslab.events.services import market_suspend, outcome_price_feed, outcome_price_set
from tests.conftest import selection

live = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def _next(communicator, kind, timeout=3):
    """The next message of ``kind``, skipping others (heartbeats)."""
    while True:
        message = json.loads(await communicator.receive_from(timeout=timeout))
        if message["type"] == kind:
            return message


def run(scenario):
    return async_to_sync(scenario)()


@live
def test_an_override_goes_at_once_then_ticks_in_its_window_arrive_conflated_then_the_suspension(make_event):
    event = make_event(home="2.50", draw="3.20")
    home, draw = selection(event, "home")["outcome_id"], selection(event, "draw")["outcome_id"]
    market_id = event.markets.get().pk

    async def scenario():
        client = WebsocketCommunicator(websocket_application, "/ws/v1/odds")
        assert (await client.connect())[0]
        await sync_to_async(outcome_price_set)(outcome_id=home, price="2.40", reason="trader", actor=Actor.system("t"))
        await sync_to_async(outcome_price_feed)(outcome_id=draw, price="3.30")
        await sync_to_async(outcome_price_feed)(outcome_id=draw, price="3.40")  # the latest price wins
        first = await _next(client, "prices")
        window = await _next(client, "prices")
        await sync_to_async(market_suspend)(market_id=market_id, actor=Actor.system("t"))
        suspended = await _next(client, "market")
        await client.disconnect()
        return first, window, suspended

    first, window, suspended = run(scenario)
    assert first["event_id"] == window["event_id"] == event.pk
    # a quiet event waits for nothing
    assert first["prices"] == [{"market_id": market_id, "outcome_id": home, "price": "2.400"}]
    assert window["prices"] == [{"market_id": market_id, "outcome_id": draw, "price": "3.400"}]
    assert (first["seq"], suspended["seq"]) == (window["seq"] - 1, window["seq"] + 1)
    assert (suspended["market_id"], suspended["status"]) == (market_id, "suspended")
    assert window["ts"].endswith("Z")


@live
def test_a_suspension_sends_the_pending_prices_of_the_window_first(make_event, settings):
    settings.LIVE_CONFLATION_MS = 5_000  # the window would not end during the test
    event = make_event(home="2.50", draw="3.20")
    home, draw = selection(event, "home")["outcome_id"], selection(event, "draw")["outcome_id"]
    market_id = event.markets.get().pk

    async def scenario():
        client = WebsocketCommunicator(websocket_application, "/ws/v1/odds")
        assert (await client.connect())[0]
        await sync_to_async(outcome_price_feed)(outcome_id=home, price="2.44")
        await sync_to_async(outcome_price_feed)(outcome_id=draw, price="3.30")
        await sync_to_async(outcome_price_feed)(outcome_id=home, price="2.46")
        await sync_to_async(market_suspend)(market_id=market_id, actor=Actor.system("t"))
        received = [json.loads(await client.receive_from(timeout=3)) for _ in range(3)]
        await client.disconnect()
        return received

    first, pending, suspended = run(scenario)
    assert [m["type"] for m in (first, pending, suspended)] == ["prices", "prices", "market"]
    assert first["prices"] == [{"market_id": market_id, "outcome_id": home, "price": "2.440"}]
    assert pending["prices"] == [{"market_id": market_id, "outcome_id": home, "price": "2.460"},
                                 {"market_id": market_id, "outcome_id": draw, "price": "3.300"}]
    assert [m["seq"] for m in (first, pending, suspended)] == [first["seq"], first["seq"] + 1, first["seq"] + 2]


@live
def test_a_client_gets_only_the_events_it_follows(make_event):
    followed, other = make_event(), make_event()
    followed_home, other_home = selection(followed)["outcome_id"], selection(other)["outcome_id"]

    async def scenario():
        client = WebsocketCommunicator(websocket_application, f"/ws/v1/odds?events={followed.pk}")
        assert (await client.connect())[0]
        await sync_to_async(outcome_price_feed)(outcome_id=other_home, price="2.22")
        await sync_to_async(outcome_price_feed)(outcome_id=followed_home, price="2.33")
        message = await _next(client, "prices")
        await client.send_to(text_data=json.dumps({"type": "subscribe", "events": [other.pk]}))
        assert (await _next(client, "subscribed"))["events"] == [other.pk]
        await sync_to_async(outcome_price_feed)(outcome_id=other_home, price="2.44")
        later = await _next(client, "prices")
        await client.send_to(text_data=json.dumps({"type": "ping"}))
        pong = await _next(client, "pong")
        await client.disconnect()
        return message, later, pong

    message, later, pong = run(scenario)
    assert message["event_id"] == followed.pk
    assert later["event_id"] == other.pk and later["prices"][0]["price"] == "2.440"
    assert pong == {"type": "pong"}


@live
def test_me_needs_a_login_and_carries_only_the_users_own_news(make_user, make_event):
    alice, bob = make_user(balance="100.00"), make_user(balance="100.00")
    alice_token = Token.objects.create(user=alice).key
    bob_token = Token.objects.create(user=bob).key
    slip = [selection(make_event())]

    async def scenario():
        anonymous = WebsocketCommunicator(websocket_application, "/ws/v1/me")
        refused = await anonymous.connect()
        mine = WebsocketCommunicator(websocket_application, "/ws/v1/me",
                                     headers=[(b"authorization", f"Token {alice_token}".encode())])
        theirs = WebsocketCommunicator(websocket_application, "/ws/v1/me",
                                       headers=[(b"authorization", f"Token {bob_token}".encode())])
        assert (await mine.connect())[0] and (await theirs.connect())[0]
        bet = await sync_to_async(bet_place)(player=alice, selections=slip, stake="10.00",
                                             bet_type="single", actor=Actor.of(alice))
        news = [json.loads(await mine.receive_from(timeout=3)) for _ in range(2)]
        assert await theirs.receive_nothing(timeout=0.5)
        await mine.disconnect()
        await theirs.disconnect()
        return refused, bet, news

    refused, bet, news = run(scenario)
    assert refused == (False, 4401)
    assert news == [{"type": "wallet", "balance": "90.00"},
                    {"type": "bet", "bet_id": bet.pk, "status": "accepted", "result": None}]
