"""The challenge pages: open challenges and the player's own (state, payout, escrow transfers), accept
and cancel, the event page's challenge forms, the live card of the page socket, and each refusal in
words with nothing changed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.test import override_settings
from django.utils import timezone

from audit.context import Actor
from betting.challenge_settlement import challenges_settle
from betting.challenges import challenge_accept, challenge_create, challenges_expire
from betting.models import Challenge
from events.models import Event, Player
from events.services import event_result_set
from oddslab.web.consumers import me_fragment
from tests.betting.test_challenges import confirm_pending, snapshot
from tests.betting.test_escrow_audit import escrow_shift
from tests.conftest import outcome_of, wallet_of
from wallet.external import external_wallet_open, external_wallet_top_up

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def creator(make_user):
    return make_user("player", "cora", balance="100.00")


@pytest.fixture
def taker(make_user):
    return make_user("player", "theo", balance="100.00")


def with_external(user, amount="50.00"):
    external_wallet_open(user=user, actor=Actor.of(user))
    external_wallet_top_up(user=user, amount=amount, actor=Actor.of(user))
    return user


def make_challenge(user, event, *, funding="internal", stake="10.00", **selection):
    if "proposition" not in selection:
        selection.setdefault("outcome_id", outcome_of(event).pk)
    return challenge_create(creator=user, event_id=event.pk, stake=stake, funding=funding, actor=Actor.of(user),
                            **selection)


def card(html: str, challenge) -> str:
    """The one challenge's card out of a page or fragment."""
    start = html.index(f'<article id="challenge-{challenge.pk}"')
    return html[start:html.index("</article>", start)]


def text_of(response) -> str:
    return response.content.decode()


# --- the page ----------------------------------------------------------------------------------------

def test_empty_states_for_a_player_and_a_visitor(client, creator):
    # given: no challenges at all
    # when
    visitor = text_of(client.get("/challenges"))
    client.force_login(creator)
    player = text_of(client.get("/challenges"))
    # then
    assert 'id="no-challenges-open"' in visitor and "Your challenges" not in visitor
    assert 'id="no-challenges-open"' in player and 'id="no-challenges-mine"' in player
    assert 'href="/challenges"' in player  # the side navigation links it


def test_open_challenges_by_event_with_accept_and_mine_with_state_and_escrow_transfers(client, creator, taker,
                                                                                       make_event):
    # given
    event = make_event()
    challenge = make_challenge(creator, event, stake="10.00")
    # when
    visitor = card(text_of(client.get("/challenges")), challenge)
    client.force_login(taker)
    other = text_of(client.get("/challenges"))
    client.force_login(creator)
    mine = text_of(client.get("/challenges"))
    htmx = text_of(client.get(f"/challenges?event={event.pk}", **HTMX))
    # then: a visitor reads it and is asked to log in; another player can accept it from either wallet
    assert "Log in</a> to accept" in visitor and "Match result: Home" in visitor
    assert f'id="open-challenges-{event.pk}"' in other
    accept = card(other, challenge)
    assert f'id="accept-{challenge.pk}"' in accept and 'value="external"' in accept
    assert "Stake each" in accept and "10.00" in accept and "19.00" in accept  # the pot less 5%
    # the creator's own is under "Your challenges", open, with Cancel and its transfer into escrow
    own = card(mine, challenge)
    assert f'id="open-challenges-{event.pk}"' not in mine  # not listed again among the others' open ones
    assert f'id="cancel-{challenge.pk}"' in own and "You back" in own and ">Open<" in own
    assert "Into escrow: your stake" in own and "Platform wallet" in own and "Confirmed" in own
    assert "<html" not in htmx and 'id="challenge-lists"' in htmx


def test_an_unreadable_event_filter_is_a_400_in_words(client, db):
    response = client.get("/challenges?event=abc")
    assert response.status_code == 400 and "whole number" in text_of(response)


def test_accept_on_the_platform_wallet_matches_at_once(client, creator, taker, make_event):
    # given
    challenge = make_challenge(creator, make_event())
    client.force_login(taker)
    # when
    response = client.post(f"/challenges/{challenge.pk}/accept", {"funding": "internal"}, **HTMX)
    # then
    html = text_of(response)
    assert response.status_code == 200 and 'id="challenge-notice"' in html and "You are matched" in html
    taken = card(html, challenge)
    assert "Matched" in taken and "You take the other side" in taken and "Cancel" not in taken
    assert 'id="header-balance"' in html and "90.00" in html
    assert Challenge.objects.get(pk=challenge.pk).status == Challenge.Status.MATCHED
    assert wallet_of(taker).balance == Decimal("90.00")


def test_accept_without_htmx_goes_back_to_the_page(client, creator, taker, make_event):
    challenge = make_challenge(creator, make_event())
    client.force_login(taker)
    response = client.post(f"/challenges/{challenge.pk}/accept", {"funding": "internal"})
    assert response.status_code == 302 and response.url == "/challenges"


def test_external_stakes_are_visibly_pending_until_the_wallet_confirms(client, creator, taker, make_event):
    # given: both stakes from the external wallet
    with_external(creator), with_external(taker)
    challenge = make_challenge(creator, make_event(), funding="external")
    client.force_login(creator)
    # then: the creator's stake is on its way
    pending = card(text_of(client.get("/challenges")), challenge)
    assert ">Pending<" in pending and "on its way to escrow" in pending and 'class="spinner"' in pending
    assert "External wallet" in pending and "Cancel" not in pending
    # when it confirms, it opens; the taker's stake is then pending in turn
    confirm_pending()
    client.force_login(taker)
    client.post(f"/challenges/{challenge.pk}/accept", {"funding": "external"}, **HTMX)
    matching = card(text_of(client.get("/challenges")), challenge)
    assert ">Matching<" in matching and "taker&#x27;s stake is on its way" in matching
    confirm_pending()
    matched = card(text_of(client.get("/challenges")), challenge)
    assert "Matched" in matched and 'class="spinner"' not in matched and "0.50" in matched  # its network fee


def test_cancel_while_open_gives_the_stake_back(client, creator, make_event):
    # given
    challenge = make_challenge(creator, make_event())
    client.force_login(creator)
    # when
    html = text_of(client.post(f"/challenges/{challenge.pk}/cancel", **HTMX))
    # then
    assert "Challenge cancelled: your stake is back in your wallet." in html and "Cancelled" in card(html, challenge)
    assert "Out of escrow: your refund" in card(html, challenge)
    assert wallet_of(creator).balance == Decimal("100.00")


def test_a_pending_refund_is_shown_on_its_way_until_the_wallet_confirms_it(client, creator, make_event):
    # given: an external challenge, open, then cancelled
    with_external(creator)
    challenge = make_challenge(creator, make_event(), funding="external")
    confirm_pending()
    client.force_login(creator)
    # when
    html = text_of(client.post(f"/challenges/{challenge.pk}/cancel", **HTMX))
    assert "your stake is on its way back" in html
    cancelled = card(html, challenge)
    # then
    assert "Cancelled" in cancelled and "The refund is on its way." in cancelled and 'class="spinner"' in cancelled
    confirm_pending()
    refunded = card(text_of(client.get("/challenges")), challenge)
    assert "on its way" not in refunded and "Out of escrow: your refund" in refunded


def test_a_failed_external_stake_says_why(client, creator, make_event):
    with_external(creator)
    challenge = make_challenge(creator, make_event(), funding="external")
    with override_settings(EXTERNAL_WALLET_FAILURE_RATE="0.5"):
        confirm_pending(draw=lambda: 0.0)  # the network fails it
    client.force_login(creator)
    failed = card(text_of(client.get("/challenges")), challenge)
    assert "Failed" in failed and "The stake did not reach escrow." in failed and "Failed</span>" in failed


def test_money_held_back_in_escrow_is_shown_waiting_with_the_reason(client, creator, make_event):
    # given: an open challenge expires while escrow does not balance, so its refund waits for the audit
    event = make_event()
    challenge = make_challenge(creator, event)
    escrow_shift("5.00")
    challenges_expire(now=event.start_time + timedelta(minutes=1))
    client.force_login(creator)
    # then
    waiting = card(text_of(client.get("/challenges")), challenge)
    assert "Expired" in waiting and "follows once the platform&#x27;s escrow check balances again" in waiting
    # when: escrow balances again, the refund goes out and the words go
    escrow_shift("-5.00")
    challenges_expire(now=event.start_time + timedelta(minutes=1))
    refunded = card(text_of(client.get("/challenges")), challenge)
    assert "escrow check" not in refunded and "Out of escrow: your refund" in refunded
    # a payout that failed every retry waits for an operator (the service is tested in test_challenge_money_paths)
    Challenge.objects.filter(pk=challenge.pk).update(money_waiting=Challenge.Waiting.OPERATOR)
    assert "staff have been asked to send it again" in card(text_of(client.get("/challenges")), challenge)


def test_a_settled_challenge_shows_each_party_its_result_and_payout(client, creator, taker, make_event):
    # given: a matched challenge on the home side, and the home side wins
    event = make_event()
    challenge = make_challenge(creator, event)
    challenge_accept(challenge_id=challenge.pk, acceptor=taker, funding="internal", actor=Actor.of(taker))
    event_result_set(event_id=event.pk, home_score=2, away_score=0, actor=Actor.system("test"))
    assert challenges_settle(event_ids=[event.pk]) == 1
    # when
    client.force_login(creator)
    won = card(text_of(client.get("/challenges")), challenge)
    client.force_login(taker)
    lost = card(text_of(client.get("/challenges")), challenge)
    # then
    assert "challenge settled won" in won and "You won" in won and 'class="money payout">19.00' in won
    assert "challenge settled lost" in lost and "You lost" in lost and 'class="money payout">0.00' in lost
    assert "Out of escrow: the other player's payout" in lost


# --- refusals: the reason in words, nothing changed --------------------------------------------------

def refused_in_words(client, url: str, data: dict, words: str) -> str:
    before = snapshot()
    response = client.post(url, data, **HTMX)
    html = text_of(response)
    assert response.status_code == 200 and 'id="challenge-refused"' in html and words in html, html[:2000]
    assert snapshot() == before
    whole = client.post(url, data)  # without htmx: the page again, with the reason
    assert whole.status_code in (404, 422) and words in text_of(whole)
    assert snapshot() == before
    return html


def test_accepting_ones_own_challenge_is_refused(client, creator, make_event):
    challenge = make_challenge(creator, make_event())
    client.force_login(creator)
    refused_in_words(client, f"/challenges/{challenge.pk}/accept", {"funding": "internal"},
                     "You cannot accept your own challenge.")


def test_accepting_without_the_funds_is_refused(client, creator, make_user, make_event):
    challenge = make_challenge(creator, make_event())
    client.force_login(make_user("player", "penny"))
    refused_in_words(client, f"/challenges/{challenge.pk}/accept", {"funding": "internal"}, "too low")


def test_accepting_from_an_external_wallet_never_opened_is_refused(client, creator, taker, make_event):
    challenge = make_challenge(creator, make_event())
    client.force_login(taker)
    refused_in_words(client, f"/challenges/{challenge.pk}/accept", {"funding": "external"},
                     "You have no external wallet yet")


def test_accepting_a_challenge_someone_took_first_is_refused(client, creator, taker, make_user, make_event):
    challenge = make_challenge(creator, make_event())
    challenge_accept(challenge_id=challenge.pk, acceptor=taker, funding="internal", actor=Actor.of(taker))
    client.force_login(make_user("player", "late", balance="50.00"))
    html = refused_in_words(client, f"/challenges/{challenge.pk}/accept", {"funding": "internal"},
                            "This challenge is no longer open.")
    assert f'id="challenge-{challenge.pk}"' not in html  # gone from the open ones


def test_staff_see_open_challenges_without_an_accept_button_and_a_forged_accept_is_refused(client, creator,
                                                                                           make_user, make_event):
    challenge = make_challenge(creator, make_event())
    client.force_login(make_user("trader", "tess"))
    offer = card(text_of(client.get("/challenges")), challenge)
    assert f'id="accept-{challenge.pk}"' not in offer and "Only player accounts accept challenges." in offer
    assert "Log in</a>" not in offer
    refused_in_words(client, f"/challenges/{challenge.pk}/accept", {"funding": "internal"},
                     "only player accounts")


def test_a_visitor_sees_a_log_in_link_instead_of_the_forms(client, creator, make_event):
    event = make_event()
    challenge = make_challenge(creator, event)
    offer = card(text_of(client.get("/challenges")), challenge)
    assert "Log in</a> to accept" in offer and "<form" not in offer
    game = text_of(client.get(f"/events/{event.pk}"))
    assert "Log in</a> to challenge another player" in game and 'id="challenge-outcome-form"' not in game


def test_an_unknown_funding_is_refused_in_words(client, creator, taker, make_event):
    challenge = make_challenge(creator, make_event())
    client.force_login(taker)
    refused_in_words(client, f"/challenges/{challenge.pk}/accept", {"funding": "bank"},
                     "funding must be &quot;internal&quot; or &quot;external&quot;.")


def test_another_player_cannot_cancel_it(client, creator, taker, make_event):
    challenge = make_challenge(creator, make_event())
    client.force_login(taker)
    refused_in_words(client, f"/challenges/{challenge.pk}/cancel", {},
                     "Only the player who made a challenge can cancel it.")


def test_cancel_after_the_match_is_refused(client, creator, taker, make_event):
    challenge = make_challenge(creator, make_event())
    challenge_accept(challenge_id=challenge.pk, acceptor=taker, funding="internal", actor=Actor.of(taker))
    client.force_login(creator)
    refused_in_words(client, f"/challenges/{challenge.pk}/cancel", {}, "This challenge is no longer open.")


def test_an_unknown_challenge_is_a_404_in_words(client, taker):
    client.force_login(taker)
    refused_in_words(client, "/challenges/999999/accept", {"funding": "internal"}, "There is no such challenge.")


def test_anonymous_writes_go_to_the_login(client, creator, make_event):
    challenge = make_challenge(creator, make_event())
    for url in (f"/challenges/{challenge.pk}/accept", f"/challenges/{challenge.pk}/cancel", "/challenges/new"):
        response = client.post(url, {"funding": "internal"})
        assert response.status_code == 302 and response.url.startswith("/accounts/login/"), url


# --- the event page's challenge forms ----------------------------------------------------------------

def outcome_form(event, **fields) -> dict:
    return {"kind": "outcome", "event_id": event.pk, "outcome_id": outcome_of(event).pk, "stake": "10.00",
            "funding": "internal", **fields}


def test_the_event_page_offers_its_open_outcomes_and_a_roster_form_only_with_a_roster(client, creator, make_event):
    # given
    football, basketball = make_event(), make_event(sport="basketball")
    Player.objects.create(event=basketball, name="Dee Shooter", team="home")
    client.force_login(creator)
    # when
    plain = text_of(client.get(f"/events/{football.pk}"))
    roster = text_of(client.get(f"/events/{basketball.pk}"))
    # then
    assert 'id="challenge-outcome-form"' in plain and 'id="challenge-proposition-form"' not in plain
    assert f'<option value="{outcome_of(football).pk}">Home' in plain
    assert 'id="challenge-proposition-form"' in roster and "Dee Shooter" in roster and 'id="proposition-line"' in roster
    client.logout()
    assert "to challenge another player" in text_of(client.get(f"/events/{football.pk}"))


def test_a_challenge_on_an_outcome_from_the_event_page(client, creator, make_event):
    # given
    event = make_event()
    client.force_login(creator)
    # when
    response = client.post("/challenges/new", outcome_form(event), **HTMX)
    # then
    html = text_of(response)
    challenge = Challenge.objects.get(creator=creator)
    assert response.status_code == 200 and "Your challenge is open" in html and 'id="challenge-panel"' in html
    assert f'id="challenge-{challenge.pk}"' in html and "<html" not in html and "90.00" in html
    assert (challenge.outcome_id, challenge.stake, challenge.status) == (
        outcome_of(event).pk, Decimal("10.00"), Challenge.Status.OPEN)
    # without htmx: on to the challenges page
    again = client.post("/challenges/new", outcome_form(event, stake="5.00"))
    assert again.status_code == 302 and again.url == "/challenges"


def test_a_second_click_on_challenge_or_accept_does_it_once(client, creator, taker, make_event):
    # given
    event = make_event()
    client.force_login(creator)
    form = text_of(client.get(f"/events/{event.pk}"))
    assert 'name="idempotency_key"' in form  # each drawn form carries its own key
    # when: the same form is sent twice
    for _ in range(2):
        html = text_of(client.post("/challenges/new", outcome_form(event, idempotency_key="click-1"), **HTMX))
    # then
    challenge = Challenge.objects.get(creator=creator)
    assert "Your challenge is open" in html and wallet_of(creator).balance == Decimal("90.00")
    assert 'value="click-1"' not in html  # the next form has a new key
    client.force_login(taker)
    for _ in range(2):
        html = text_of(client.post(f"/challenges/{challenge.pk}/accept",
                                   {"funding": "internal", "idempotency_key": "click-2"}, **HTMX))
    assert "You are matched" in html and 'id="challenge-refused"' not in html
    assert wallet_of(taker).balance == Decimal("90.00")


def test_a_challenge_on_a_players_stat_line(client, creator, make_event):
    # given
    event = make_event(sport="basketball")
    star = Player.objects.create(event=event, name="Dee Shooter", team="away")
    client.force_login(creator)
    # when
    html = text_of(client.post("/challenges/new", {
        "kind": "proposition", "event_id": event.pk, "player_id": star.pk, "stat": "rebounds", "line": "7.5",
        "side": "under", "stake": "4.00", "funding": "internal"}, **HTMX))
    # then
    challenge = Challenge.objects.get(creator=creator)
    assert (challenge.player_id, challenge.stat, challenge.line, challenge.side, challenge.stake) == (
        star.pk, "rebounds", Decimal("7.5"), "under", Decimal("4.00"))
    assert "Dee Shooter under 7.5 rebounds" in card(html, challenge)


def test_an_external_challenge_from_the_event_page_is_pending(client, creator, make_event):
    with_external(creator)
    client.force_login(creator)
    html = text_of(client.post("/challenges/new", outcome_form(make_event(), funding="external"), **HTMX))
    challenge = Challenge.objects.get(creator=creator)
    assert challenge.status == Challenge.Status.ESCROW_PENDING
    assert "opens once it arrives" in html and "on its way to escrow" in card(html, challenge)


def create_refused(client, data: dict, words: str, *, kind="outcome") -> None:
    before = snapshot()
    response = client.post("/challenges/new", data, **HTMX)
    html = text_of(response)
    form = html[html.index(f'id="challenge-{kind}-form"'):]
    assert response.status_code == 200 and words in form[:form.index("</form>")], html[:3000]
    assert snapshot() == before
    whole = client.post("/challenges/new", data)
    assert whole.status_code in (404, 422) and words in text_of(whole) and "<html" in text_of(whole)
    assert snapshot() == before


def test_creating_without_the_funds_is_refused(client, make_user, make_event):
    client.force_login(make_user("player", "penny", balance="5.00"))
    create_refused(client, outcome_form(make_event()), "too low")


def test_creating_below_the_minimum_stake_is_refused(client, creator, make_event):
    client.force_login(creator)
    create_refused(client, outcome_form(make_event(), stake="0.50"), "The minimum stake is 1.00.")


def test_an_unreadable_stake_is_refused(client, creator, make_event):
    client.force_login(creator)
    create_refused(client, outcome_form(make_event(), stake="ten"), "not a number")


def test_a_missing_stake_is_a_form_error(client, creator, make_event):
    client.force_login(creator)
    create_refused(client, outcome_form(make_event(), stake=""), "This field is required.")


def test_a_bad_line_is_refused_on_the_proposition_form(client, creator, make_event):
    event = make_event(sport="basketball")
    star = Player.objects.create(event=event, name="Dee Shooter", team="home")
    client.force_login(creator)
    create_refused(client, {"kind": "proposition", "event_id": event.pk, "player_id": star.pk, "stat": "points",
                            "line": "24.3", "side": "over", "stake": "4.00", "funding": "internal"},
                   "whole or half number", kind="proposition")


def test_staff_see_no_challenge_forms_and_a_forged_one_is_refused_in_words(client, make_user, make_event):
    # given: a compliance officer on an upcoming game's page
    event = make_event()
    client.force_login(make_user("compliance", "cleo"))
    page = text_of(client.get(f"/events/{event.pk}"))
    # then: no challenge form, but why not
    assert 'id="challenges-players-only"' in page and 'id="challenge-outcome-form"' not in page
    # when: a challenge is posted anyway, the service refuses it, in words, and nothing changes
    before = snapshot()
    response = client.post("/challenges/new", outcome_form(event), **HTMX)
    panel = text_of(response)
    assert response.status_code == 200 and "only player accounts" in panel
    assert 'id="challenge-outcome-form"' not in panel
    assert snapshot() == before


def test_a_started_event_takes_no_challenges(client, creator, make_event):
    event = make_event()
    Event.objects.filter(pk=event.pk).update(start_time=timezone.now() - timedelta(minutes=1))
    client.force_login(creator)
    assert 'id="challenges-closed"' in text_of(client.get(f"/events/{event.pk}"))
    before = snapshot()
    html = text_of(client.post("/challenges/new", outcome_form(event), **HTMX))
    assert "challenges close at the start" in html and snapshot() == before


def test_an_unknown_event_is_a_404(client, creator):
    client.force_login(creator)
    assert client.post("/challenges/new", {"event_id": "999999"}).status_code == 404
    assert client.post("/challenges/new", {"event_id": "x"}).status_code == 404


# --- the page socket ---------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the socket renders in a thread of its own
def test_the_page_socket_draws_a_partys_card_out_of_band_and_nothing_for_others(creator, taker, make_user,
                                                                               make_event):
    # given: a matched challenge
    challenge = make_challenge(creator, make_event())
    challenge_accept(challenge_id=challenge.pk, acceptor=taker, funding="internal", actor=Actor.of(taker))
    message = {"type": "challenge", "challenge_id": challenge.pk, "status": "matched", "result": None}
    # when
    for_creator = async_to_sync(me_fragment)(message, {"user": creator})
    for_stranger = async_to_sync(me_fragment)(message, {"user": make_user("player", "nosy")})
    # then
    assert for_creator.startswith(f'<article id="challenge-{challenge.pk}"') and 'hx-swap-oob="true"' in for_creator
    assert "Matched" in for_creator and "You back" in for_creator and "Into escrow" in for_creator
    assert for_stranger == ""
