"""/ws/v1/challenges: a challenge entering or leaving ``open`` reaches everyone watching, with the real
Redis channel layer; and /ws/v1/me's ``external_wallet`` balance when an external transaction is decided."""

import json
import logging

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from audit.context import Actor
from betting.challenge_settlement import challenge_void, challenges_settle
from betting.challenges import challenge_accept, challenge_cancel, challenge_create, challenges_expire
from betting.models import Challenge
from core import live as live_messages
from events.models import Event
from events.services import event_cancel
from oddslab.asgi import websocket_application
from tests.betting.test_challenges import FAIL, confirm_pending
from tests.conftest import outcome_of
from tests.test_live_failures import _closed_port
from wallet.external import external_wallet_open, external_wallet_top_up

live = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def _board(communicator, enough, timeout=3):
    """Messages that are not heartbeats, until ``enough(messages)``."""
    got = []
    while not enough(got):
        message = json.loads(await communicator.receive_from(timeout=timeout))
        if message["type"] != "heartbeat":
            got.append(message)
    return got


def watch(path, *steps, count=None, until=None, headers=None):
    """Open ``path``, run each step (a service call), and return the first ``count`` messages (or those
    until ``until(messages)``), then whether nothing else arrived within half a second."""
    enough = until or (lambda got: len(got) >= count)

    async def scenario():
        communicator = WebsocketCommunicator(websocket_application, path, headers=headers or [])
        assert (await communicator.connect())[0]
        for step in steps:
            await sync_to_async(step)()
        got = await _board(communicator, enough)
        more = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return got, more

    return async_to_sync(scenario)()


def offer(user, event, *, funding="internal", stake="10.00"):
    return challenge_create(creator=user, event_id=event.pk, outcome_id=outcome_of(event).pk, stake=stake,
                            funding=funding, actor=Actor.of(user))


def take(challenge, user, funding="internal"):
    return challenge_accept(challenge_id=challenge.pk, acceptor=user, funding=funding, actor=Actor.of(user))


def with_external(user):
    external_wallet_open(user=user, actor=Actor.of(user))
    external_wallet_top_up(user=user, amount="50.00", actor=Actor.of(user))
    return user


@live
def test_a_challenge_made_then_taken_opens_and_closes_for_every_watcher(make_user, make_event):
    # given
    cora, theo = make_user(balance="100.00"), make_user(balance="100.00")
    event = make_event()
    made = []
    # when: Cora offers a challenge and Theo accepts it, with a visitor watching every game
    (opened, closed), more = watch("/ws/v1/challenges", lambda: made.append(offer(cora, event)),
                                   lambda: take(made[0], theo), count=2)
    # then
    outcome = outcome_of(event)
    assert opened == {"type": "challenge_open", "challenge_id": made[0].pk, "event_id": event.pk, "stake": "10.00",
                      "selection": {"outcome_id": outcome.pk, "market_id": outcome.market_id,
                                    "name": f"Match result: {outcome.name}", "price": str(outcome.price)},
                      "ts": opened["ts"]}
    assert opened["ts"].endswith("Z")
    assert {**closed, "ts": None} == {**opened, "type": "challenge_closed", "ts": None}
    assert more  # nothing else: the match is the parties' news, not the board's


@live
def test_a_watcher_of_named_events_hears_only_theirs_and_a_bad_list_follows_every_game(make_user, make_event):
    cora = make_user(balance="100.00")
    mine, other = make_event(), make_event()
    (only,), more = watch(f"/ws/v1/challenges?events={mine.pk}", lambda: offer(cora, other),
                          lambda: offer(cora, mine), count=1)
    assert (only["type"], only["event_id"]) == ("challenge_open", mine.pk) and more
    for bad in ("abc", "0", ",".join(["1"] * 501)):
        (heard,), _ = watch(f"/ws/v1/challenges?events={bad}", lambda: offer(cora, other), count=1)
        assert heard["event_id"] == other.pk


@live
def test_cancelled_expired_and_void_open_challenges_close_and_a_void_matched_one_says_nothing(make_user, make_event):
    # given: three open challenges and a matched one
    cora, theo = make_user(balance="200.00"), make_user(balance="100.00")
    soon, later = make_event(), make_event()
    cancelled, expiring, voided, matched = offer(cora, later), offer(cora, soon), offer(cora, later), offer(cora, later)
    take(matched, theo)

    def kick_off():
        Event.objects.filter(pk=soon.pk).update(start_time=timezone.now())
        challenges_expire()

    def void(challenge):
        return lambda: challenge_void(challenge_id=challenge.pk, reason="trader error", actor=Actor.system("t"))

    # when
    got, more = watch("/ws/v1/challenges", lambda: challenge_cancel(challenge_id=cancelled.pk, actor=Actor.of(cora)),
                      kick_off, void(voided), void(matched), count=3)
    # then
    assert [(m["type"], m["challenge_id"]) for m in got] == [
        ("challenge_closed", cancelled.pk), ("challenge_closed", expiring.pk), ("challenge_closed", voided.pk)]
    assert more


@live
def test_the_open_challenges_of_a_cancelled_game_close_when_settlement_voids_them(make_user, make_event):
    # given: an open and a matched challenge on a game that is then cancelled
    cora, theo = make_user(balance="100.00"), make_user(balance="100.00")
    event = make_event()
    open_one, matched = offer(cora, event), offer(cora, event)
    take(matched, theo)

    def cancel_and_settle():
        event_cancel(event_id=event.pk, actor=Actor.system("t"), reason="floodlights failed")
        challenges_settle(event_ids=[event.pk])

    # when
    (closed,), more = watch(f"/ws/v1/challenges?events={event.pk}", cancel_and_settle, count=1)
    # then: only the open one was on the board
    assert (closed["type"], closed["challenge_id"]) == ("challenge_closed", open_one.pk) and more
    assert set(Challenge.objects.values_list("status", flat=True)) == {Challenge.Status.VOID}


@live
def test_external_stakes_open_on_confirmation_and_a_failed_acceptor_stake_opens_it_again(make_user, make_event,
                                                                                         settings):
    settings.EXTERNAL_WALLET_FAILURE_RATE = "0.5"  # FAIL draws below it, SUCCEED above
    # given: both players stake from the external wallet
    cora, theo = with_external(make_user()), with_external(make_user())
    event = make_event()
    made = []
    # when: the creator's stake confirms, the acceptor's fails
    got, more = watch("/ws/v1/challenges", lambda: made.append(offer(cora, event, funding="external")),
                      confirm_pending, lambda: take(Challenge.objects.get(), theo, funding="external"),
                      lambda: confirm_pending(draw=FAIL), count=3)
    # then: nothing while the stake was on its way; open, taken (matching), open again
    assert [m["type"] for m in got] == ["challenge_open", "challenge_closed", "challenge_open"]
    assert {m["challenge_id"] for m in got} == {made[0].pk} and more
    assert Challenge.objects.get().status == Challenge.Status.OPEN


@live
def test_the_external_wallet_balance_reaches_its_owner_on_top_up_confirmation_and_failure(make_user, make_event,
                                                                                         settings):
    settings.EXTERNAL_WALLET_FAILURE_RATE = "0.5"
    # given: a player logged in on /ws/v1/me, with an external wallet
    from rest_framework.authtoken.models import Token

    cora = make_user()
    external_wallet_open(user=cora, actor=Actor.of(cora))
    headers = [(b"authorization", f"Token {Token.objects.create(user=cora).key}".encode())]
    event = make_event()

    def stake_fails():
        offer(cora, event, funding="external", stake="5.00")
        confirm_pending(draw=FAIL)

    def stake_confirms():
        offer(cora, event, funding="external", stake="10.00")
        confirm_pending()

    # when
    got, _ = watch("/ws/v1/me", lambda: external_wallet_top_up(user=cora, amount="50.00", actor=Actor.of(cora)),
                   stake_fails, stake_confirms, headers=headers,
                   until=lambda got: sum(m["type"] == "external_wallet" for m in got) == 3)
    # then: the top-up, the failed stake (nothing moved), the confirmed one
    assert [m for m in got if m["type"] == "external_wallet"] == [
        {"type": "external_wallet", "balance": "50.00"}, {"type": "external_wallet", "balance": "50.00"},
        {"type": "external_wallet", "balance": "40.00"}]


@live
def test_a_challenge_made_while_redis_is_down_stands_and_the_lost_message_is_logged(make_user, make_event,
                                                                                    monkeypatch, caplog):
    # given: the live publisher's Redis is a port nobody listens on
    cora = make_user(balance="100.00")
    event = make_event()
    monkeypatch.setattr(live_messages, "_redis_client", live_messages._connect(f"redis://127.0.0.1:{_closed_port()}/0"))
    before = live_messages.failures.copy()
    # when
    with caplog.at_level(logging.ERROR, logger="core.live"):
        challenge = offer(cora, event)
    # then: made and open, the board's message counted and logged as lost
    assert Challenge.objects.get(pk=challenge.pk).status == Challenge.Status.OPEN
    assert (live_messages.failures - before)["challenges"] == 1
    assert any("live challenges message failed" in r.getMessage() and r.exc_info for r in caplog.records)
