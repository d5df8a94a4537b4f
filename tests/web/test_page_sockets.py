"""The page sockets: the live messages as HTML fragments swapped out of band by the htmx ws extension."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore

from audit.context import Actor
from betting.services import bet_place
from events.services import (
    MarketSpec,
    event_cancel,
    event_start,
    market_create,
    market_suspend,
    outcome_price_set,
)
from oddslab.web.consumers import PageChallengesConsumer, PageMeConsumer, PageOddsConsumer
from tests.conftest import outcome_of, selection

live = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def _next_html(communicator, contains: str, timeout: float = 3) -> str:
    while True:
        text = await communicator.receive_from(timeout=timeout)
        if contains in text:
            return text


def _communicator(consumer, path, *, user=None, session=None):
    communicator = WebsocketCommunicator(consumer.as_asgi(), path)
    communicator.scope["user"] = user or AnonymousUser()
    communicator.scope["session"] = session or SessionStore()
    return communicator


@live
def test_price_buttons_update_in_place_and_a_suspension_locks_them(make_event):
    # given
    event = make_event(home="2.50")
    home = outcome_of(event)
    session = SessionStore()
    session["slip"] = {"selections": [{"outcome_id": home.pk, "price": "2.500"}]}
    session.save()

    async def scenario():
        client = _communicator(PageOddsConsumer, f"/ws/pages/odds?events={event.pk}",
                               session=SessionStore(session_key=session.session_key))
        assert (await client.connect())[0]
        await sync_to_async(outcome_price_set)(outcome_id=home.pk, price="2.70", reason="t", actor=Actor.system("t"))
        price = await _next_html(client, f'id="outcome-{home.pk}"')
        await sync_to_async(market_suspend)(market_id=home.market_id, actor=Actor.system("t"))
        market = await _next_html(client, f'id="market-{home.market_id}"')
        await client.disconnect()
        return price, market

    # when
    price, market = async_to_sync(scenario)()
    # then
    assert 'hx-swap-oob="true"' in price and ">2.70<" in price and "flash-up" in price and "selected" in price
    assert "Suspended" in market and 'hx-swap-oob="true"' in market and market.count(" disabled") == 3


@live
def test_the_me_socket_needs_a_login_and_sends_balance_toasts_and_bet_updates(make_user, make_event):
    # given
    player = make_user(balance="100.00")
    event = make_event(home="2.00")
    slip = [selection(event)]
    session = SessionStore()
    session.save()

    async def scenario():
        anonymous = _communicator(PageMeConsumer, "/ws/pages/me")
        refused = (await anonymous.connect())[0]
        client = _communicator(PageMeConsumer, "/ws/pages/me", user=player,
                               session=SessionStore(session_key=session.session_key))
        assert (await client.connect())[0]
        bet = await sync_to_async(bet_place)(player=player, selections=slip, stake="10",
                                             bet_type="single", actor=Actor.of(player))
        frames = [await _next_html(client, 'id="header-balance"'), await _next_html(client, f'id="bet-{bet.pk}"')]
        await client.disconnect()
        return refused, bet, frames

    # when
    refused, bet, (balance, bet_row) = async_to_sync(scenario)()
    # then
    assert not refused
    assert ">90.00<" in balance and 'hx-swap-oob="true"' in balance
    assert bet.ticket_number in bet_row and "Accepted" in bet_row


@live
def test_a_notification_arrives_as_a_toast(make_user):
    from audit.services import notification_create

    player = make_user()

    async def scenario():
        client = _communicator(PageMeConsumer, "/ws/pages/me", user=player)
        assert (await client.connect())[0]
        await sync_to_async(notification_create)(user=player, kind="test", message="Welcome & good luck")
        toast = await _next_html(client, "toast")
        await client.disconnect()
        return toast

    toast = async_to_sync(scenario)()
    assert 'id="toasts" hx-swap-oob="beforeend"' in toast and "Welcome &amp; good luck" in toast


def _list_groups(client, **query) -> dict[str, str]:
    """The live list fragment htmx refetches, split into its groups: {"live": html, "scheduled": html}."""
    response = client.get("/", query, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    sections = response.content.decode().split('<section class="group" data-group="')[1:]
    return {section[:section.index('"')]: section for section in sections}


@live
def test_an_event_changing_status_tells_the_list_its_new_group_and_the_refetched_list_moves_it(client,
                                                                                               make_event):
    # given: an upcoming game on the list, and the list page's all-events socket
    event = make_event()
    card = f'id="event-{event.pk}"'
    assert card in _list_groups(client)["scheduled"] and card not in _list_groups(client)["live"]

    async def scenario():
        socket = _communicator(PageOddsConsumer, "/ws/pages/odds")
        assert (await socket.connect())[0]
        await sync_to_async(event_start)(event_id=event.pk, actor=Actor.system("t"))
        started = await _next_html(socket, f'id="event-{event.pk}-state"')
        live_groups = await sync_to_async(_list_groups)(client)
        await sync_to_async(event_cancel)(event_id=event.pk, actor=Actor.system("t"), reason="floodlights")
        cancelled = await _next_html(socket, f'id="event-{event.pk}-state"')
        await socket.disconnect()
        return started, live_groups, cancelled

    # when
    started, live_groups, cancelled = async_to_sync(scenario)()
    # then: the state says which group the event now belongs to (the page compares it with its card's)
    assert 'data-status="live"' in started and 'hx-swap-oob="true"' in started and 'data-sport="football"' in started
    assert 'data-status="cancelled"' in cancelled
    # and the list the page refetches has it under Live, then no more
    assert card in live_groups["live"] and card not in live_groups["scheduled"]
    assert all(card not in html for html in _list_groups(client).values())
    assert card not in _list_groups(client, status="scheduled").get("scheduled", "")


@live
def test_a_market_opened_while_the_event_page_is_open_arrives_with_its_chart_as_the_page_draws_it(client,
                                                                                                  make_event):
    # given: the event page's socket (named events) and the list's (all events)
    event = make_event()

    async def scenario():
        event_page = _communicator(PageOddsConsumer, f"/ws/pages/odds?events={event.pk}")
        live_list = _communicator(PageOddsConsumer, "/ws/pages/odds")
        assert (await event_page.connect())[0] and (await live_list.connect())[0]
        market = await sync_to_async(market_create)(
            event_id=event.pk, actor=Actor.system("feed"),
            spec=MarketSpec(kind="over_under", line="2.5", prices={"over": "1.90", "under": "1.86"}))
        whole = await _next_html(event_page, f'id="market-{market.pk}')
        alone = await _next_html(live_list, f'id="market-{market.pk}')
        await event_page.disconnect()
        await live_list.disconnect()
        return market, whole, alone

    # when
    market, whole, alone = async_to_sync(scenario)()
    # then: the event page gets the market block with its (opening-price) chart, exactly as on load
    assert whole.startswith(f'<div id="market-{market.pk}-block"') and 'hx-swap-oob="true"' in whole
    assert whole.count("<polyline") == 2 and "1 prices from 1.90 to 1.90" in whole
    page = client.get(f"/events/{event.pk}").content.decode()
    assert whole.replace(' hx-swap-oob="true"', "").strip() in page
    # the list, whose cards draw no charts, gets the market alone
    assert alone.startswith(f'<section id="market-{market.pk}"') and "<polyline" not in alone


@live
def test_a_page_socket_drawing_its_fragment_holds_up_no_other_socket(make_event, monkeypatch):
    """A page renders in a task of its own: the JSON socket in the same group is not kept waiting."""
    import asyncio
    import json

    from oddslab.asgi import websocket_application
    from oddslab.web import consumers

    event = make_event(home="2.50")
    home = outcome_of(event, "home")
    drawn = consumers.odds_fragment
    release: list[asyncio.Event] = []

    async def slow_fragment(payload, scope, **kwargs):
        await release[0].wait()  # as a slow database would
        return await drawn(payload, scope, **kwargs)

    monkeypatch.setattr(consumers, "odds_fragment", slow_fragment)

    async def scenario():
        release.append(asyncio.Event())
        page = _communicator(PageOddsConsumer, f"/ws/pages/odds?events={event.pk}")
        api = WebsocketCommunicator(websocket_application, f"/ws/v1/odds?events={event.pk}")
        assert (await page.connect())[0] and (await api.connect())[0]
        await sync_to_async(outcome_price_set)(outcome_id=home.pk, price="2.60", reason="t", actor=Actor.system("t"))
        while (message := json.loads(await api.receive_from(timeout=3)))["type"] != "prices":
            pass
        page_silent = await page.receive_nothing(timeout=0.3)
        release[0].set()
        fragment = await _next_html(page, f"outcome-{home.pk}")
        await page.disconnect()
        await api.disconnect()
        return message, page_silent, fragment

    message, page_silent, fragment = async_to_sync(scenario)()
    assert message["prices"][0]["price"] == "2.600"
    assert page_silent
    assert "2.60" in fragment


@live
def test_the_event_page_shows_the_running_clock_and_box_score_and_updates_them_without_reload(client):
    from django.utils import timezone

    from events.services import event_clock_set, event_create, player_stats_set

    # given a live basketball game with a roster, its clock already running
    actor = Actor.system("feed:test")
    event = event_create(
        home_team="Harbour Hawks", away_team="Valley Comets", sport="basketball", competition="Page Hoops",
        start_time=timezone.now(), actor=actor,
        markets=[MarketSpec(kind="match_winner", prices={"home": "1.80", "away": "2.00"})],
        players=[{"name": "Jay Brooks", "team": "home"}, {"name": "Luis Moreno", "team": "away"}])
    event_start(event_id=event.pk, actor=actor)
    event_clock_set(event_id=event.pk, clock="Q1 11:32", live_score="2-0")
    jay = event.players.get(name="Jay Brooks")
    page = client.get(f"/events/{event.pk}").content.decode()

    async def scenario():
        socket = _communicator(PageOddsConsumer, f"/ws/pages/odds?events={event.pk}")
        assert (await socket.connect())[0]
        await sync_to_async(player_stats_set)(event_id=event.pk, stats=[{"player_id": jay.pk, "points": 5}],
                                              actor=actor)
        await sync_to_async(event_clock_set)(event_id=event.pk, clock="Q3 07:12", live_score="71-66")
        ticked = await _next_html(socket, "Q3 07:12")
        await socket.disconnect()
        return ticked

    # when the feed moves the clock on
    ticked = async_to_sync(scenario)()
    # then the page showed the clock and score on load, and the fragment swaps in the new ones
    assert '<span class="clock">Q1 11:32</span>' in page and '<span class="score">2-0</span>' in page
    assert f'id="player-{jay.pk}"' in page and "Luis Moreno" in page
    assert f'id="event-{event.pk}-state"' in ticked and 'hx-swap-oob="true"' in ticked
    assert '<span class="clock">Q3 07:12</span>' in ticked and '<span class="score">71-66</span>' in ticked
    assert f'id="event-{event.pk}-players"' in ticked
    assert f'<tr id="player-{jay.pk}"><td>Jay Brooks</td><td class="num">5</td>' in ticked


@live
def test_a_football_clock_from_the_feed_reaches_the_live_list():
    from feed.ingest import Ingestor
    from tests.feed.test_ingest import CREATED, msg

    # given a football game the feed runs, and the live list's socket
    ingestor = Ingestor()
    ingestor.ingest([CREATED, msg("event_started", 2)])

    async def scenario():
        socket = _communicator(PageOddsConsumer, "/ws/pages/odds")
        assert (await socket.connect())[0]
        await sync_to_async(ingestor.line)(msg("clock", 3, clock="63'", score="1-0"))
        ticked = await _next_html(socket, '<span class="score">1-0</span>')
        await socket.disconnect()
        return ticked

    # when the feed's clock message comes
    ticked = async_to_sync(scenario)()
    # then its card's state shows the running clock and score (and no box score: no roster)
    assert '<span class="clock">63&#x27;</span>' in ticked and "players" not in ticked


def _challenge(user, event, *, funding="internal"):
    from betting.challenges import challenge_create

    return challenge_create(creator=user, event_id=event.pk, outcome_id=outcome_of(event).pk, stake="10.00",
                            funding=funding, actor=Actor.of(user))


@live
def test_the_challenges_socket_draws_a_new_challenge_for_each_viewer_and_removes_it_once_taken(make_user, make_event):
    from betting.challenges import challenge_accept

    # given: the creator, the taker, a third player, a trader and a visitor on the Challenges page
    cora, theo, pia = make_user(balance="100.00"), make_user(balance="100.00"), make_user(balance="100.00")
    viewers = {"cora": cora, "theo": theo, "pia": pia, "trader": make_user("trader"), "visitor": None}
    event = make_event()

    async def scenario():
        sockets = {name: _communicator(PageChallengesConsumer, "/ws/pages/challenges", user=user)
                   for name, user in viewers.items()}
        for socket in sockets.values():
            assert (await socket.connect())[0]
        made = await sync_to_async(_challenge)(cora, event)
        opened = {name: await _next_html(socket, f'id="challenge-{made.pk}"')
                  for name, socket in sockets.items() if name != "cora"}
        await sync_to_async(challenge_accept)(challenge_id=made.pk, acceptor=theo, funding="internal",
                                              actor=Actor.of(theo))
        closed = {name: await _next_html(socket, f'id="challenge-{made.pk}"')
                  for name, socket in sockets.items() if name not in ("cora", "theo")}
        quiet = {name: await sockets[name].receive_nothing(timeout=0.5) for name in ("cora", "theo")}
        for socket in sockets.values():
            await socket.disconnect()
        return made, opened, closed, quiet

    # when
    made, opened, closed, quiet = async_to_sync(scenario)()
    # then: the card the page is built from, for its viewer, headed for the open list
    for html in opened.values():
        assert 'hx-swap-oob="true"' in html and 'data-board="open"' in html and f'data-event="{event.pk}"' in html
    assert f'id="accept-{made.pk}"' in opened["theo"] and f'id="accept-{made.pk}"' in opened["pia"]
    assert f'id="accept-{made.pk}"' not in opened["trader"] and "Only player accounts" in opened["trader"]
    assert "Log in</a> to accept" in opened["visitor"] and "<form" not in opened["visitor"]
    # and once taken, it goes from the others' pages; the parties' own cards are their me socket's
    gone = f'<article id="challenge-{made.pk}" class="challenge-gone" hx-swap-oob="delete"></article>'
    assert {html.strip() for html in closed.values()} == {gone}
    assert quiet == {"cora": True, "theo": True}


@live
def test_the_challenges_socket_of_one_game_hears_only_that_games_challenges(make_user, make_event):
    cora, pia = make_user(balance="100.00"), make_user()
    mine, other = make_event(), make_event()

    async def scenario():
        socket = _communicator(PageChallengesConsumer, f"/ws/pages/challenges?events={mine.pk}", user=pia)
        assert (await socket.connect())[0]
        await sync_to_async(_challenge)(cora, other)
        made = await sync_to_async(_challenge)(cora, mine)
        html = await socket.receive_from(timeout=3)
        await socket.disconnect()
        return made, html

    made, html = async_to_sync(scenario)()
    assert f'id="challenge-{made.pk}"' in html


@live
def test_the_wallet_pages_external_balance_follows_a_confirmed_stake(make_user, make_event):
    from tests.betting.test_challenges import confirm_pending
    from wallet.external import external_wallet_open, external_wallet_top_up

    # given: a player on the wallet page with an external wallet of 50.00
    ella = make_user()
    external_wallet_open(user=ella, actor=Actor.of(ella))
    external_wallet_top_up(user=ella, amount="50.00", actor=Actor.of(ella))
    event = make_event()

    async def scenario():
        socket = _communicator(PageMeConsumer, "/ws/pages/me", user=ella)
        assert (await socket.connect())[0]
        await sync_to_async(_challenge)(ella, event, funding="external")
        await sync_to_async(confirm_pending)()
        html = await _next_html(socket, 'id="external-balance"')
        await socket.disconnect()
        return html

    # when: her external stake of 10.00 confirms
    html = async_to_sync(scenario)()
    # then
    assert html == '<span id="external-balance" class="money" hx-swap-oob="true">40.00</span>'
