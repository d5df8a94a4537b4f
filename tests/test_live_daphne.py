"""End to end through a real Daphne and Redis: what a connected client actually receives."""

import asyncio
import json
import urllib.request

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connections
from rest_framework.authtoken.models import Token

from audit.context import Actor
from betting.settlement import markets_pending_settlement, markets_settle
from events.services import event_result_set, outcome_price_feed
from tests.conftest import selection

live = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def http(url, path, token, body):
    request = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


async def collect(socket, until, timeout=5.0):
    """Messages (heartbeats aside) until ``until(messages)`` holds or the time runs out."""
    messages = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not until(messages) and loop.time() < deadline:
        try:
            message = json.loads(await asyncio.wait_for(socket.recv(), deadline - loop.time()))
        except TimeoutError:
            break
        if message["type"] != "heartbeat":
            messages.append(message)
    return messages


@pytest.fixture
def traded(daphne_server, make_user, make_event):
    """An event priced home 2.50, its home outcome id, a trader's API token and the server's ws:// URL."""
    event = make_event(home="2.50")
    return (event, selection(event)["outcome_id"], Token.objects.create(user=make_user("trader")).key,
            daphne_server.replace("http", "ws"))


@live
def test_override_then_feed_tick_reach_a_client_in_order(daphne_server, traded):
    event, home, trader, ws_url = traded

    async def scenario():
        async with websockets.connect(f"{ws_url}/ws/v1/odds?events={event.pk}") as socket:
            status, _ = await sync_to_async(http)(daphne_server, f"/api/v1/outcomes/{home}/price", trader,
                                                 {"price": "2.40", "reason": "override"})
            first = await collect(socket, lambda m: len(m) >= 1)
            await sync_to_async(outcome_price_feed)(outcome_id=home, price="2.60")  # recorded, pinned
            await sync_to_async(http)(daphne_server, f"/api/v1/outcomes/{home}/release", trader, {})
            second = await collect(socket, lambda m: len(m) >= 1)
        await sync_to_async(connections.close_all)()  # the helper thread's pooled connection
        return status, first + second

    status, messages = asyncio.run(scenario())
    assert status == 200
    assert [(m["type"], m["prices"][0]["price"]) for m in messages] == [("prices", "2.400"), ("prices", "2.600")]
    assert messages[1]["seq"] == messages[0]["seq"] + 1


@live
def test_the_batched_stream_carries_the_same_messages_through_daphne(daphne_server, traded):
    event, home, trader, ws_url = traded

    def unpacked(frames):
        return [m for f in frames for m in f["messages"]]

    async def scenario():
        async with websockets.connect(f"{ws_url}/ws/v1/odds?events={event.pk}") as plain, \
                websockets.connect(f"{ws_url}/ws/v1/odds?events={event.pk}&batch=1") as batched:
            await sync_to_async(http)(daphne_server, f"/api/v1/outcomes/{home}/price", trader,
                                      {"price": "2.40", "reason": "override"})
            await sync_to_async(http)(daphne_server, f"/api/v1/outcomes/{home}/price", trader,
                                      {"price": "2.30", "reason": "override"})
            messages = await collect(plain, lambda m: len(m) >= 2)
            frames = await collect(batched, lambda f: len(unpacked(f)) >= 2)
        await sync_to_async(connections.close_all)()
        return messages, frames

    messages, frames = asyncio.run(scenario())
    assert [(m["type"], m["prices"][0]["price"]) for m in messages] == [("prices", "2.400"), ("prices", "2.300")]
    assert {f["type"] for f in frames} == {"batch"}
    assert unpacked(frames) == messages  # the same messages, seq and ts included, in the same order


@live
def test_a_players_bet_news_reach_only_that_player(daphne_server, make_user, make_event):
    alice, bob = make_user(balance="100.00"), make_user(balance="100.00")
    alice_token, bob_token = Token.objects.create(user=alice).key, Token.objects.create(user=bob).key
    event = make_event(home="3.00")
    slip = {"selections": [selection(event)], "stake": "10.00", "bet_type": "single"}
    ws_url = daphne_server.replace("http", "ws")

    def settle():
        event_result_set(event_id=event.pk, home_score=1, away_score=0, actor=Actor.system("test"))
        return markets_settle(market_ids=markets_pending_settlement())

    async def scenario():
        headers = {"Authorization": f"Token {alice_token}"}
        async with websockets.connect(f"{ws_url}/ws/v1/me", additional_headers=headers) as mine, \
                websockets.connect(f"{ws_url}/ws/v1/me",
                                   additional_headers={"Authorization": f"Token {bob_token}"}) as theirs:
            status, bet = await sync_to_async(http)(daphne_server, "/api/v1/bets", alice_token, slip)
            placed = await collect(mine, lambda m: len(m) >= 2)
            await sync_to_async(settle)()
            settled = await collect(mine, lambda m: len(m) >= 3)
            leaked = await collect(theirs, lambda m: False, timeout=1.0)
        await sync_to_async(connections.close_all)()
        return status, bet, placed, settled, leaked

    status, bet, placed, settled, leaked = asyncio.run(scenario())
    assert status == 201
    assert {"type": "bet", "bet_id": bet["id"], "status": "accepted", "result": None} in placed
    assert {"type": "wallet", "balance": "90.00"} in placed
    assert {"type": "bet", "bet_id": bet["id"], "status": "settled", "result": "won"} in settled
    assert {"type": "wallet", "balance": "120.00"} in settled
    assert any(m["type"] == "notification" and m["kind"] == "bet_settled" for m in settled)
    assert leaked == []


@live
def test_the_server_serves_static_files(daphne_server):
    """WhiteNoise sits last in the middleware; a stylesheet still comes from the real server."""
    with urllib.request.urlopen(f"{daphne_server}/static/css/oddslab.css", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/css")
        assert b"tabular-nums" in response.read()


@live
def test_a_challenge_made_and_taken_over_http_reaches_a_visitor_watching_challenges(daphne_server, make_user,
                                                                                   make_event):
    # given: two players with tokens, and a visitor on /ws/v1/challenges of one game
    cora, theo = make_user(balance="100.00"), make_user(balance="100.00")
    cora_token, theo_token = Token.objects.create(user=cora).key, Token.objects.create(user=theo).key
    event = make_event()
    body = {"event_id": event.pk, "outcome_id": selection(event)["outcome_id"], "stake": "10.00", "funding": "internal"}
    ws_url = daphne_server.replace("http", "ws")

    async def scenario():
        async with websockets.connect(f"{ws_url}/ws/v1/challenges?events={event.pk}") as visitor:
            made = await sync_to_async(http)(daphne_server, "/api/v1/challenges", cora_token, body)
            opened = await collect(visitor, lambda m: len(m) >= 1)
            taken = await sync_to_async(http)(daphne_server, f"/api/v1/challenges/{made[1]['id']}/accept",
                                              theo_token, {"funding": "internal"})
            closed = await collect(visitor, lambda m: len(m) >= 1)
        await sync_to_async(connections.close_all)()
        return made, opened, taken, closed

    # when
    (status, challenge), opened, (accepted, _), closed = asyncio.run(scenario())
    # then
    assert (status, accepted) == (201, 200)
    assert [(m["type"], m["challenge_id"], m["event_id"], m["stake"]) for m in opened + closed] == [
        ("challenge_open", challenge["id"], event.pk, "10.00"),
        ("challenge_closed", challenge["id"], event.pk, "10.00")]
    assert opened[0]["selection"] == challenge["selection"]
