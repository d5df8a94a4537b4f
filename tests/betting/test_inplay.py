"""In-play bets wait the sport's delay; then they are accepted or rejected with a refund."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.context import Actor
from audit.models import Notification
from betting.models import Bet
from betting.services import bet_decide, bet_place, bets_pending_sweep
from events.services import event_start, market_suspend, outcome_price_set
from ledger.models import Transfer
from ledger.selectors import ledger_verify
from risk.models import OutcomeExposure
from tests.conftest import audit_rows, selection, wallet_of


@pytest.fixture
def live_bet(player, make_event, django_capture_on_commit_callbacks):
    """A 100.00 single at 2.50 on a live football event (delay 5 s), placed but not yet decided."""
    event = make_event(home="2.50")
    event_start(event_id=event.pk, actor=Actor.system("test"))
    with django_capture_on_commit_callbacks() as callbacks:
        bet = bet_place(player=player, selections=[selection(event)], stake="100.00", bet_type="single",
                        actor=Actor.of(player))
    bet.callbacks = callbacks
    bet.event = event
    return bet


def _after_delay(bet):
    Bet.objects.filter(pk=bet.pk).update(accept_after=timezone.now() - timedelta(seconds=1))


def test_an_in_play_bet_waits_with_its_stake_held(live_bet, player):
    assert (live_bet.status, live_bet.in_play) == ("placed", True)
    assert timedelta(seconds=4) < live_bet.accept_after - timezone.now() <= timedelta(seconds=5)
    assert wallet_of(player).balance == Decimal("900.00")
    # the decision task is queued on commit (beside the socket news)
    assert [c.__qualname__ for c in live_bet.callbacks].count("bet_place.<locals>.<lambda>") == 1
    assert bet_decide(bet_id=live_bet.pk) is None  # too early: nothing happens
    assert Bet.objects.get(pk=live_bet.pk).status == "placed"


def test_accepted_after_the_delay_when_nothing_changed(live_bet, player):
    _after_delay(live_bet)
    decided = bet_decide(bet_id=live_bet.pk)
    assert decided.status == "accepted" and decided.accepted_at
    assert bet_decide(bet_id=live_bet.pk) is None  # a second delivery changes nothing
    assert wallet_of(player).balance == Decimal("900.00")
    assert audit_rows("bet.accept").get().resource_id == str(live_bet.pk)
    assert Notification.objects.get(user=player).kind == "bet_accepted"


@pytest.mark.parametrize("change", ["suspend", "reprice"])
def test_rejected_with_a_refund_when_the_market_moved_during_the_delay(live_bet, player, change):
    # given the market is suspended, or the price drops, during the delay
    market = live_bet.event.markets.get()
    if change == "suspend":
        market_suspend(market_id=market.pk, actor=Actor.system("test"))
    else:
        outcome_price_set(outcome_id=selection(live_bet.event)["outcome_id"], price="2.30", reason="goal",
                          actor=Actor.system("test"))
    _after_delay(live_bet)
    # when
    decided = bet_decide(bet_id=live_bet.pk)
    # then
    assert decided.status == "rejected" and decided.rejection_reason
    assert wallet_of(player).balance == Decimal("1000.00")
    refund = Transfer.objects.get(kind="bet_refund")
    assert (refund.amount, refund.reference_id) == (Decimal("100.00"), str(live_bet.pk))
    assert OutcomeExposure.objects.get(outcome_id=selection(live_bet.event)["outcome_id"]).worst_case_payout == 0
    assert audit_rows("bet.reject").get().details["reason"] == decided.rejection_reason
    assert Notification.objects.get(user=player).kind == "bet_rejected"
    assert bet_decide(bet_id=live_bet.pk) is None
    assert Transfer.objects.filter(kind="bet_refund").count() == 1
    assert ledger_verify().ok


def test_a_better_price_is_fine_for_policy_higher(player, make_event):
    event = make_event(home="2.50")
    event_start(event_id=event.pk, actor=Actor.system("test"))
    bet = bet_place(player=player, selections=[selection(event)], stake="10.00", bet_type="single",
                    odds_change="higher", actor=Actor.of(player))
    outcome_price_set(outcome_id=selection(event)["outcome_id"], price="2.70", reason="x", actor=Actor.system("t"))
    _after_delay(bet)
    assert bet_decide(bet_id=bet.pk).status == "accepted"


def test_the_sweep_decides_bets_whose_task_was_lost(live_bet):
    assert bets_pending_sweep() == 0  # not due yet
    Bet.objects.filter(pk=live_bet.pk).update(accept_after=timezone.now() - timedelta(seconds=10))
    assert bets_pending_sweep() == 1
    assert Bet.objects.get(pk=live_bet.pk).status == "accepted"


def test_pre_match_bets_skip_the_delay(player, make_event):
    bet = bet_place(player=player, selections=[selection(make_event())], stake="10.00", bet_type="single",
                    actor=Actor.of(player))
    assert (bet.status, bet.in_play, bet.accept_after) == ("accepted", False, None)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_accepts_the_bet_after_the_delay(celery_worker_process, make_user, make_event):
    # given a sport with a 1 s delay and a live event
    player = make_user(balance="100.00")
    event = make_event(home="2.50")
    event.sport.inplay_delay_seconds = 1
    event.sport.save()
    event_start(event_id=event.pk, actor=Actor.system("test"))
    # when the bet is placed, the worker receives its task on commit
    bet = bet_place(player=player, selections=[selection(event)], stake="10.00", bet_type="single",
                    actor=Actor.of(player))
    assert bet.status == "placed"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Bet.objects.get(pk=bet.pk).status == "placed":
        time.sleep(0.2)
    # then it was accepted no earlier than its delay
    decided = Bet.objects.get(pk=bet.pk)
    assert decided.status == "accepted"
    assert decided.accepted_at >= decided.accept_after
