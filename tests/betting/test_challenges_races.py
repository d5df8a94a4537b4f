"""Challenges under real concurrency: threads against PostgreSQL."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.context import Actor
from betting.challenges import challenge_accept, challenge_cancel, challenge_create, challenges_expire
from betting.models import Challenge
from core.errors import DomainError
from events.models import Event
from ledger.models import Account
from ledger.selectors import ledger_verify
from ledger.services import escrow_vault_balance, house_account
from tests.conftest import outcome_of, run_concurrently, wallet_of
from wallet.external import ESCROW_ADDRESS, external_wallet_open, external_wallet_top_up, platform_address
from wallet.gateways import external_transfer_confirm
from wallet.models import ExternalAccount, GatewayTransfer

concurrent = pytest.mark.django_db(transaction=True, serialized_rollback=True)
SUCCEED = lambda: 0.999  # noqa: E731


def create(user, event, funding="internal"):
    return challenge_create(creator=user, event_id=event.pk, outcome_id=outcome_of(event).pk, stake="10.00",
                            funding=funding, actor=Actor.of(user))


def external_player(make_user):
    user = make_user(balance="100.00")
    external_wallet_open(user=user, actor=Actor.of(user))
    external_wallet_top_up(user=user, amount="100.00", actor=Actor.of(user))
    return user


@concurrent
def test_of_20_acceptors_at_once_exactly_one_matches(make_user, make_event):
    # given
    event = make_event()
    challenge = create(make_user(balance="100.00"), event)
    acceptors = [make_user(balance="50.00") for _ in range(20)]
    # when
    results = run_concurrently(20, lambda i: challenge_accept(challenge_id=challenge.pk, acceptor=acceptors[i],
                                                              funding="internal", actor=Actor.of(acceptors[i])))
    # then
    won = [r for r in results if isinstance(r, Challenge)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 1, [r for r in results if not isinstance(r, Challenge | DomainError)]
    assert {(r.code, r.status) for r in lost} == {("challenge_unavailable", 409)} and len(lost) == 19
    winner = won[0].acceptor
    challenge.refresh_from_db()
    assert (challenge.status, challenge.acceptor_id) == ("matched", winner.pk)
    assert [wallet_of(a).balance for a in acceptors if a != winner] == [Decimal("50.00")] * 19
    assert wallet_of(winner).balance == Decimal("40.00")
    assert escrow_vault_balance() == Decimal("20.00")
    assert ledger_verify().ok


@concurrent
def test_accept_against_cancel_exactly_one_wins_and_the_money_agrees(make_user, make_event):
    event = make_event()
    creator, acceptor = make_user(balance="100.00"), make_user(balance="100.00")
    for _ in range(5):
        challenge = create(creator, event)
        results = run_concurrently(2, lambda i, c=challenge: (
            challenge_accept(challenge_id=c.pk, acceptor=acceptor, funding="internal", actor=Actor.of(acceptor))
            if i == 0 else challenge_cancel(challenge_id=c.pk, actor=Actor.of(creator))))
        assert sum(isinstance(r, Challenge) for r in results) == 1, results
        assert [r.code for r in results if isinstance(r, DomainError)] == ["challenge_unavailable"], results
    # then: every challenge is matched (both stakes held) or cancelled (the creator's back)
    statuses = list(Challenge.objects.values_list("status", flat=True))
    matched = statuses.count("matched")
    assert matched + statuses.count("cancelled") == 5
    assert wallet_of(creator).balance == Decimal("100.00") - 10 * matched
    assert wallet_of(acceptor).balance == Decimal("100.00") - 10 * matched
    assert escrow_vault_balance() == 20 * matched
    assert ledger_verify().ok


@concurrent
def test_a_confirmation_delivered_twice_at_once_moves_the_money_once(make_user, make_event):
    creator = external_player(make_user)
    challenge = create(creator, make_event(), funding="external")
    pending = GatewayTransfer.objects.get(reference_id=str(challenge.pk))
    # when
    results = run_concurrently(2, lambda i: external_transfer_confirm(tx_id=pending.tx_id, draw=SUCCEED))
    # then
    assert sorted(r is None for r in results) == [False, True], results
    challenge.refresh_from_db()
    assert challenge.status == "open"
    assert ExternalAccount.objects.get(owner=creator).balance == Decimal("90.00")
    assert platform_address(ESCROW_ADDRESS).balance == Decimal("10.00")
    assert house_account(Account.House.ESCROW_EXTERNAL).balance == Decimal("10.00")
    assert ledger_verify().ok


@concurrent
def test_a_confirmation_racing_the_expiry_never_loses_the_stake(make_user, make_event):
    # given: an external stake on its way when the event starts
    creator = external_player(make_user)
    event = make_event()
    challenge = create(creator, event, funding="external")
    pending = GatewayTransfer.objects.get(reference_id=str(challenge.pk))
    Event.objects.filter(pk=event.pk).update(start_time=timezone.now() - timedelta(seconds=1))
    # when: its confirmation and the expiry run at once
    run_concurrently(2, lambda i: external_transfer_confirm(tx_id=pending.tx_id, draw=SUCCEED) if i == 0
                     else challenges_expire())
    challenges_expire()  # whichever ran first, a second pass leaves nothing open
    for refund in GatewayTransfer.objects.filter(status="pending"):
        external_transfer_confirm(tx_id=refund.tx_id, draw=SUCCEED)
    # then: expired, and the stake came back less its two network fees
    challenge.refresh_from_db()
    assert challenge.status == "expired"
    assert ExternalAccount.objects.get(owner=creator).balance == Decimal("99.00")
    assert platform_address(ESCROW_ADDRESS).balance == Decimal("0.00")
    assert house_account(Account.House.ESCROW_EXTERNAL).balance == Decimal("0.00")
    assert ledger_verify().ok


@concurrent
def test_accept_against_expiry_at_kick_off_exactly_one_wins_and_the_money_agrees(make_user, make_event):
    creator, acceptor = make_user(balance="100.00"), make_user(balance="100.00")
    for _ in range(5):
        # given an open challenge on an event that kicks off in a moment
        event = make_event()
        challenge = create(creator, event)
        kick_off = timezone.now() + timedelta(milliseconds=50)
        Event.objects.filter(pk=event.pk).update(start_time=kick_off)

        def expire_at_kick_off(kick_off=kick_off):
            while timezone.now() < kick_off:
                pass
            return challenges_expire()

        # when the acceptor and the expiry meet at kick-off
        results = run_concurrently(2, lambda i, c=challenge: (
            challenge_accept(challenge_id=c.pk, acceptor=acceptor, funding="internal", actor=Actor.of(acceptor))
            if i == 0 else expire_at_kick_off()))
        # then the challenge is matched (the accept came first) or expired (and the accept refused)
        challenge.refresh_from_db()
        accepted = isinstance(results[0], Challenge)
        assert challenge.status == ("matched" if accepted else "expired"), results
        if not accepted:
            assert isinstance(results[0], DomainError) and results[0].code == "challenge_unavailable", results
    matched = Challenge.objects.filter(status="matched").count()
    assert wallet_of(creator).balance == Decimal("100.00") - 10 * matched
    assert wallet_of(acceptor).balance == Decimal("100.00") - 10 * matched
    assert escrow_vault_balance() == 20 * matched
    assert ledger_verify().ok


@concurrent
def test_a_stake_confirmation_racing_a_cancel_never_loses_or_doubles_the_stake(make_user, make_event):
    creator = external_player(make_user)
    event = make_event()
    for _ in range(4):
        # given the creator's external stake on its way into escrow
        challenge = create(creator, event, funding="external")
        pending = GatewayTransfer.objects.get(reference_id=str(challenge.pk), purpose="stake")
        # when its confirmation and the creator's cancel run at once
        results = run_concurrently(2, lambda i, c=challenge, p=pending: (
            external_transfer_confirm(tx_id=p.tx_id, draw=SUCCEED) if i == 0
            else challenge_cancel(challenge_id=c.pk, actor=Actor.of(creator))))
        # then the cancel went through after the stake landed, or was refused while it was on its way
        challenge.refresh_from_db()
        cancelled = isinstance(results[1], Challenge)
        assert challenge.status == ("cancelled" if cancelled else "open"), results
        if not cancelled:
            assert results[1].code == "challenge_unavailable", results
    for refund in GatewayTransfer.objects.filter(status="pending"):
        external_transfer_confirm(tx_id=refund.tx_id, draw=SUCCEED)
    # and every stake is either held (open) or back less its two network fees (cancelled)
    held = Challenge.objects.filter(status="open").count()
    cancelled = Challenge.objects.filter(status="cancelled").count()
    assert held + cancelled == 4
    assert ExternalAccount.objects.get(owner=creator).balance == Decimal("100.00") - 10 * held - 1 * cancelled
    assert platform_address(ESCROW_ADDRESS).balance == 10 * held
    assert house_account(Account.House.ESCROW_EXTERNAL).balance == 10 * held
    assert ledger_verify().ok
