"""The live layer with Channels' communicator and the real Redis channel layer."""

import asyncio
import json
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from audit.context import Actor
from betting.services import bet_place
from core import live as live_messages
from events.services import market_resume, market_suspend, outcome_price_feed, outcome_price_set
from oddslab.asgi import websocket_application
from tests.conftest import selection

live = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def _next(communicator, kind, timeout=3):
    """The next message of ``kind``, skipping others (heartbeats)."""
    while True:
        message = json.loads(await communicator.receive_from(timeout=timeout))
        if message["type"] == kind:
            return message


async def _next_live(communicator, timeout=3):
    """The next message that is not a heartbeat."""
    while (message := json.loads(await communicator.receive_from(timeout=timeout)))["type"] == "heartbeat":
        pass
    return message


def run(scenario):
    return async_to_sync(scenario)()


@pytest.fixture
def match(make_event):
    """A match priced home 2.50, draw 3.20: the event, its home and draw outcome ids, its market id."""
    event = make_event(home="2.50", draw="3.20")
    return (event, selection(event, "home")["outcome_id"], selection(event, "draw")["outcome_id"],
            event.markets.get().pk)


@live
def test_an_override_goes_at_once_then_ticks_in_its_window_arrive_conflated_then_the_suspension(match):
    event, home, draw, market_id = match

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
def test_a_suspension_sends_the_pending_prices_of_the_window_first(match, settings):
    settings.LIVE_CONFLATION_MS = 5_000  # the window would not end during the test
    _, home, draw, market_id = match

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


def _ours(messages, event_id):
    return [m for m in messages if m.get("event_id") == event_id]


@live
def test_the_batched_stream_carries_the_plain_messages_in_order_a_window_in_one_frame(match, settings):
    settings.LIVE_BATCH_MS = 1_000  # the changes after the first fall in one window
    settings.LIVE_CONFLATION_MS = 5_000  # the event's window ends with the suspension
    event, home, draw, market_id = match

    async def frames(client, done):
        """Frames (a plain message is a frame of one) until ``done(messages of the frame)``."""
        received = []
        while not received or not done(received[-1]):
            message = json.loads(await client.receive_from(timeout=5))
            if message["type"] != "heartbeat":
                received.append(message["messages"] if message["type"] == "batch" else [message])
        return received

    async def scenario():
        plain = WebsocketCommunicator(websocket_application, "/ws/v1/odds")
        batched = WebsocketCommunicator(websocket_application, "/ws/v1/odds?batch=1")
        assert (await plain.connect())[0] and (await batched.connect())[0]
        while await sync_to_async(live_messages._redis().exists)(live_messages._batch_keys("all")[1]):
            await asyncio.sleep(0.05)  # until the window opened by creating the event has closed
        await sync_to_async(outcome_price_set)(outcome_id=home, price="2.41", reason="trader", actor=Actor.system("t"))
        started = time.monotonic()
        first = json.loads(await batched.receive_from(timeout=3))
        waited = time.monotonic() - started
        await sync_to_async(outcome_price_feed)(outcome_id=draw, price="3.31")
        await sync_to_async(outcome_price_feed)(outcome_id=draw, price="3.43")
        await sync_to_async(market_suspend)(market_id=market_id, actor=Actor.system("t"))
        batch_frames = [first["messages"], *await frames(batched, lambda f: any(
            m["type"] == "market" for m in _ours(f, event.pk)))]
        suspension = _ours(batch_frames[-1], event.pk)[-1]
        # the shared Redis carries other test runs' plain messages too: read until ours has come
        plain_frames = await frames(plain, lambda f: suspension in f)
        await plain.disconnect()
        await batched.disconnect()
        return first, waited, plain_frames, batch_frames

    first, waited, plain_frames, batch_frames = run(scenario)
    assert waited < 0.5  # a quiet stream waits for nothing
    assert first["type"] == "batch" and _ours(first["messages"], event.pk)[0]["prices"][0]["price"] == "2.410"
    batch_messages = _ours([m for f in batch_frames for m in f], event.pk)
    assert [(m["type"], m.get("status") or m["prices"][0]["price"]) for m in batch_messages] == [
        ("prices", "2.410"), ("prices", "3.430"), ("market", "suspended")]
    assert [m["seq"] for m in batch_messages] == [batch_messages[0]["seq"] + i for i in range(3)]
    # the default stream is unchanged: one message per frame, no batch frames; and it carried the
    # same messages, byte for byte (seq and ts too), in the same order
    assert all(len(f) == 1 and f[0]["type"] in ("prices", "market", "event") for f in plain_frames)
    assert [m for f in plain_frames for m in f if m in batch_messages] == batch_messages
    # the two changes within the window came in one frame
    assert [len(_ours(f, event.pk)) for f in batch_frames if _ours(f, event.pk)] == [1, 2]


@live
def test_a_suspension_left_in_a_dead_processs_batch_window_goes_with_the_next_message(make_event, settings,
                                                                                      monkeypatch):
    settings.LIVE_BATCH_MS = 150
    event = make_event(home="2.50")
    home = selection(event, "home")["outcome_id"]
    market_id = event.markets.get().pk
    window = live_messages._window

    async def frame(client, timeout=2):
        while True:
            message = json.loads(await client.receive_from(timeout=timeout))
            if message["type"] != "heartbeat":
                return message

    async def scenario():
        client = WebsocketCommunicator(websocket_application, "/ws/v1/odds?batch=1&events=999999")
        assert (await client.connect())[0]
        await client.send_to(text_data=json.dumps({"type": "subscribe", "events": [event.pk]}))
        subscribed = await frame(client)
        # as if the process died with a window open: no timer sends what arrives during the window
        monkeypatch.setattr(live_messages, "_window", lambda ms, flush: None)
        await sync_to_async(outcome_price_set)(outcome_id=home, price="2.40", reason="trader", actor=Actor.system("t"))
        opened = await frame(client)
        await sync_to_async(market_suspend)(market_id=market_id, actor=Actor.system("t"))
        held = await client.receive_nothing(timeout=0.4)  # the window key expires after two windows
        monkeypatch.setattr(live_messages, "_window", window)
        await sync_to_async(outcome_price_set)(outcome_id=home, price="2.30", reason="trader", actor=Actor.system("t"))
        resent = await frame(client)
        await client.disconnect()
        return subscribed, opened, held, resent

    subscribed, opened, held, resent = run(scenario)
    assert subscribed == {"type": "subscribed", "events": [event.pk]}
    assert [m["type"] for m in opened["messages"]] == ["prices"]
    assert held
    # the stranded suspension goes with the next message of its stream, first, in seq order
    assert [(m["type"], m.get("status")) for m in resent["messages"]] == [("market", "suspended"), ("prices", None)]
    seqs = [opened["messages"][0]["seq"]] + [m["seq"] for m in resent["messages"]]
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]


@live
def test_a_process_subscribes_to_a_group_once_and_every_socket_in_it_gets_each_broadcast_in_order(match):
    from core.sockets import Fanout

    event, home, _, market_id = match
    group = f"odds.event.{event.pk}"
    redis_channel = live_messages._channel(group)

    def subscribers():
        return live_messages._redis().pubsub_numsub(redis_channel)[0][1]

    async def scenario():
        clients = [WebsocketCommunicator(websocket_application, f"/ws/v1/odds?events={event.pk}") for _ in range(5)]
        for client in clients:
            assert (await client.connect())[0]
        fanouts = [f for key, f in Fanout._open.items() if key[2] == group]
        members = len(fanouts[0].members) if len(fanouts) == 1 else fanouts
        while_open = await sync_to_async(subscribers)()
        await sync_to_async(outcome_price_set)(outcome_id=home, price="2.41", reason="t", actor=Actor.system("t"))
        await sync_to_async(market_suspend)(market_id=market_id, actor=Actor.system("t"))
        await sync_to_async(market_resume)(market_id=market_id, actor=Actor.system("t"))
        received = [[await _next_live(c) for _ in range(3)] for c in clients]
        for client in clients:
            await client.disconnect()
        after = [key for key in Fanout._open if key[2] == group]
        return members, while_open, received, after, await sync_to_async(subscribers)()

    members, while_open, received, after, after_subscribers = run(scenario)
    assert members == 5 and while_open == 1
    assert all(messages == received[0] for messages in received)  # the same three messages, in order
    assert [m["type"] for m in received[0]] == ["prices", "market", "market"]
    assert [m["seq"] for m in received[0]] == [received[0][0]["seq"] + i for i in range(3)]
    assert after == [] and after_subscribers == 0  # the last socket out ends the subscription


@live
def test_a_socket_that_fails_to_send_does_not_stop_the_others(match, monkeypatch):
    from core.sockets import LiveConsumer

    event, home, _, _ = match
    send = LiveConsumer.live_message

    async def failing(self, message):
        if b"broken" in self.scope["query_string"]:
            raise ConnectionError("the client went away")
        await send(self, message)

    monkeypatch.setattr(LiveConsumer, "live_message", failing)

    async def scenario():
        broken = WebsocketCommunicator(websocket_application, f"/ws/v1/odds?events={event.pk}&broken=1")
        healthy = WebsocketCommunicator(websocket_application, f"/ws/v1/odds?events={event.pk}")
        assert (await broken.connect())[0] and (await healthy.connect())[0]
        await sync_to_async(outcome_price_set)(outcome_id=home, price="2.44", reason="t", actor=Actor.system("t"))
        await sync_to_async(outcome_price_set)(outcome_id=home, price="2.45", reason="t", actor=Actor.system("t"))
        prices = [(await _next(healthy, "prices"))["prices"][0]["price"] for _ in range(2)]
        for client in (broken, healthy):
            await client.disconnect()
        return prices

    assert run(scenario) == ["2.440", "2.450"]


def test_messages_of_one_event_sent_by_two_processes_go_out_in_the_order_of_their_seq(settings):
    """Numbering and publishing are one step in Redis, so no process can publish between them."""
    import multiprocessing
    import uuid

    import msgpack

    from tests.live_sender import send_event_messages

    settings.LIVE_BATCH_MS = 20
    event_id = uuid.uuid4().int % 10**9 + 10**9  # an event no other test or suite uses
    redis = live_messages._redis()
    plain, batched = (live_messages._channel(f"odds.{s}event.{event_id}") for s in ("", "batch."))
    pubsub = redis.pubsub()
    pubsub.subscribe(plain, batched)
    while pubsub.get_message(timeout=1) is not None:  # the two subscription confirmations
        pass
    context = multiprocessing.get_context("spawn")
    senders = [context.Process(target=send_event_messages, args=(event_id, 300, 20)) for _ in range(2)]
    try:
        for sender in senders:
            sender.start()
        received = []
        while (message := pubsub.get_message(timeout=3)) is not None or any(s.is_alive() for s in senders):
            if message and message["type"] == "message":
                received.append((message["channel"].decode(), json.loads(msgpack.unpackb(message["data"])["text"])))
    finally:
        for sender in senders:
            sender.join(30)
        pubsub.close()
        redis.delete(live_messages._key(f"seq:{event_id}"), *live_messages._batch_keys(f"event.{event_id}"))
    assert [s.exitcode for s in senders] == [0, 0]
    seqs = [m["seq"] for channel, m in received if channel == plain]
    in_frames = [m["seq"] for channel, frame in received if channel == batched for m in frame["messages"]]
    assert seqs == list(range(1, 601))
    assert in_frames == seqs
