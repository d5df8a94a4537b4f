"""Two players in two browsers against Daphne: one makes a challenge on a game, the other sees it
and accepts it, and both watch it become matched, then settled, without a reload; an external
wallet opened and topped up on the wallet page funds a challenge that is pending until it confirms."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from audit.context import Actor
from betting.challenge_settlement import challenges_settle
from betting.challenges import challenge_accept, challenge_cancel, challenge_create
from betting.models import Challenge
from events.services import event_result_set
from tests.conftest import outcome_of, wallet_of
from tests.e2e.conftest import log_in, operator, shot, wait_for_sockets

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
TRADER = Actor.system("e2e-trader")


@pytest.fixture
def new_browser_page(browser):
    """Another player's browser, each call: a context of its own, so its own cookies and session."""
    contexts = []

    def make():
        contexts.append(browser.new_context(viewport={"width": 1280, "height": 900}))
        other = contexts[-1].new_page()
        other.set_default_timeout(15_000)
        return other

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def second_page(new_browser_page):
    return new_browser_page()


def status_of(page, challenge_id: int):
    return page.locator(f"#challenge-{challenge_id} .status")


def test_one_player_challenges_another_accepts_and_both_see_it_matched_then_settled_live(
        page, second_page, site, make_user, make_event):
    # given: two players and an upcoming game
    cora = operator(make_user, role="player", username="cora", balance="100.00")
    theo = operator(make_user, role="player", username="theo", balance="100.00")
    event = operator(make_event, home="2.00")
    log_in(page, site, "cora", then=f"/events/{event.pk}")
    # when: Cora challenges on the home side from the event page
    page.select_option("#outcome-outcome_id", str(outcome_of(event).pk))
    page.fill("#outcome-stake", "10")
    page.click("#challenge-outcome-submit")
    expect(page.locator("#challenge-done")).to_contain_text("Your challenge is open")
    expect(page.locator("#header-balance")).to_have_text("90.00")
    challenge = Challenge.objects.get(creator=cora)
    page.goto(f"{site}/challenges")
    wait_for_sockets(page)
    expect(status_of(page, challenge.pk)).to_have_text("Open")
    page.evaluate("window.__marker = 1")  # gone if the page reloads
    # and Theo finds it among the open challenges and accepts it from his platform wallet
    log_in(second_page, site, "theo", then="/challenges")
    offer = second_page.locator(f"#open-challenges-{event.pk} #challenge-{challenge.pk}")
    expect(offer).to_contain_text("Match result: Home")
    shot(second_page, "challenges-open")
    second_page.select_option(f"#funding-{challenge.pk}", "internal")
    second_page.click(f"#accept-{challenge.pk}")
    # then: both see it matched, Theo at once and Cora over her socket, without a reload
    expect(second_page.locator("#challenge-notice")).to_contain_text("You are matched")
    expect(status_of(second_page, challenge.pk)).to_have_text("Matched")
    expect(second_page.locator("#header-balance")).to_have_text("90.00")
    expect(status_of(page, challenge.pk)).to_have_text("Matched")
    expect(page.locator(f"#challenge-{challenge.pk} #cancel-{challenge.pk}")).to_have_count(0)
    assert page.evaluate("window.__marker") == 1
    shot(page, "challenges-matched")
    assert wallet_of(cora).balance == wallet_of(theo).balance == Decimal("90.00")
    # when: the home side wins and the operator's result settles the challenge
    operator(event_result_set, event_id=event.pk, home_score=2, away_score=1, actor=TRADER)
    assert operator(challenges_settle, event_ids=[event.pk]) == 1
    # then: both see it settled, the pot less the fee paid to Cora, without a reload
    expect(status_of(page, challenge.pk)).to_have_text("You won")
    expect(page.locator(f"#challenge-{challenge.pk} .payout")).to_have_text("19.00")
    expect(page.locator("#header-balance")).to_have_text("109.00")
    expect(status_of(second_page, challenge.pk)).to_have_text("You lost")
    expect(second_page.locator(f"#challenge-{challenge.pk} .payout")).to_have_text("0.00")
    expect(second_page.locator("#header-balance")).to_have_text("90.00")
    assert page.evaluate("window.__marker") == 1
    shot(page, "challenges-settled")
    assert wallet_of(cora).balance == Decimal("109.00") and wallet_of(theo).balance == Decimal("90.00")


def test_an_external_wallet_opened_and_topped_up_funds_a_challenge_pending_until_it_confirms(page, site_with_worker,
                                                                                           make_user, make_event):
    # given: a player with no external wallet, and a worker to run the wallet's confirmations
    site = site_with_worker
    ella = operator(make_user, role="player", username="ella", balance="20.00")
    event = operator(make_event, home="2.00")
    log_in(page, site, "ella", then="/wallet")
    expect(page.locator("#external-wallet .empty")).to_have_text("You have no external wallet yet.")
    # when: she opens it and tops it up on the wallet page
    page.click("#open-external")
    expect(page.locator("#external-address")).to_contain_text("ext:")
    page.fill("#id_top_up-amount", "50")
    page.click("#top_up-form button[type=submit]")
    expect(page.locator("#external-balance")).to_have_text("50.00")
    expect(page.locator("#wallet-balance")).to_have_text("20.00")  # the platform wallet is another wallet
    shot(page, "wallet-external")
    wallet_tab = page.context.new_page()  # her wallet page stays open in another tab
    wallet_tab.goto(f"{site}/wallet")
    wait_for_sockets(wallet_tab)
    expect(wallet_tab.locator("#external-balance")).to_have_text("50.00")
    wallet_tab.evaluate("window.__marker = 1")
    # and challenges from it on the event page
    page.goto(f"{site}/events/{event.pk}")
    wait_for_sockets(page)
    page.fill("#outcome-stake", "10")
    page.select_option("#outcome-funding", "external")
    page.click("#challenge-outcome-submit")
    # then: the stake is visibly on its way, and the challenge opens when the wallet confirms it
    expect(page.locator("#challenge-done")).to_contain_text("on its way to escrow")
    challenge = Challenge.objects.get(creator=ella)
    expect(status_of(page, challenge.pk)).to_have_text("Pending")
    expect(page.locator(f"#challenge-{challenge.pk} p.pending .spinner")).to_be_visible()
    shot(page, "challenge-pending")
    expect(status_of(page, challenge.pk)).to_have_text("Open", timeout=30_000)
    # the wallet tab's external balance follows the confirmed stake, without a reload
    expect(wallet_tab.locator("#external-balance")).to_have_text("40.00")
    assert wallet_tab.evaluate("window.__marker") == 1
    expect(page.locator(f"#challenge-{challenge.pk} p.pending")).to_have_count(0)
    expect(page.locator(f"#challenge-{challenge.pk} .transfer-status")).to_have_text("Confirmed")
    expect(page.locator("#header-balance")).to_have_text("20.00")


def offer(user, event):
    return operator(challenge_create, creator=user, event_id=event.pk, outcome_id=outcome_of(event).pk,
                    stake="5.00", funding="internal", actor=Actor.of(user))


def test_open_challenges_appear_on_other_players_pages_and_go_once_matched_without_a_reload(
        page, new_browser_page, site, make_user, make_event):
    # given: Theo and Pia on the Challenges page, with nothing open yet; Cora is making challenges
    cora = operator(make_user, role="player", username="cora", balance="100.00")
    theo = operator(make_user, role="player", username="theo", balance="100.00")
    operator(make_user, role="player", username="pia", balance="100.00")
    event = operator(make_event, home="2.00")
    pia = new_browser_page()
    log_in(page, site, "theo", then="/challenges")
    log_in(pia, site, "pia", then="/challenges")
    expect(pia.locator("#no-challenges-open")).to_be_visible()
    for viewer in (page, pia):
        viewer.evaluate("window.__marker = 1")  # gone if the page reloads
    # when: Cora offers one on the game (its first: the page has no heading for it yet), then another
    first = offer(cora, event)
    expect(page.locator(f"#open-challenges-{event.pk} #challenge-{first.pk}")).to_contain_text("Match result: Home")
    expect(pia.locator("#no-challenges-open")).to_be_hidden()
    second = offer(cora, event)
    # then: both show up for both, each with an Accept button, without a reload
    for viewer in (page, pia):
        for challenge in (first, second):
            expect(viewer.locator(f"#open-challenges-{event.pk} #accept-{challenge.pk}")).to_be_visible()
    shot(pia, "challenges-live-open")
    # when: Theo accepts the first from another tab's request (the service, as the API would)
    operator(challenge_accept, challenge_id=first.pk, acceptor=theo, funding="internal", actor=Actor.of(theo))
    # then: it goes from Pia's open challenges, the other stays; Theo sees it as his, matched
    expect(pia.locator(f"#challenge-{first.pk}")).to_have_count(0)
    expect(pia.locator(f"#open-challenges-{event.pk} #challenge-{second.pk}")).to_be_visible()
    expect(page.locator(f"#my-challenges #challenge-{first.pk} .status")).to_have_text("Matched")
    # and when Cora withdraws the other, the game's heading goes with its last card
    operator(challenge_cancel, challenge_id=second.pk, actor=Actor.of(cora))
    expect(pia.locator(f"#open-challenges-{event.pk}")).to_have_count(0)
    expect(pia.locator("#no-challenges-open")).to_be_visible()  # the empty text is back with the last card gone
    for viewer in (page, pia):
        assert viewer.evaluate("window.__marker") == 1
