"""Peer-to-peer challenges: every transition on both gateways, and every refusal leaving balances
(both sides), escrow, the ledger and the challenges exactly as they were."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from audit.context import Actor
from betting.challenge_money import challenge_payout, refund_amount
from betting.challenges import challenge_accept, challenge_cancel, challenge_create, challenges_expire
from betting.models import Challenge
from core.errors import DomainError
from events.models import Event, Player
from ledger.models import Account
from ledger.services import escrow_vault_balance, house_account
from risk.models import PlayerRestriction
from tests.conftest import audit_rows, ledger_snapshot, outcome_of
from wallet.external import (
    ESCROW_ADDRESS,
    TREASURY_ADDRESS,
    external_wallet_open,
    external_wallet_top_up,
    platform_address,
)
from wallet.gateways import external_transfer_confirm
from wallet.models import ExternalAccount, GatewayTransfer

SUCCEED, FAIL = (lambda: 0.999), (lambda: 0.0)


def snapshot() -> dict:
    """Both sides' balances, the ledger, the gateway transfers and every challenge."""
    return {**ledger_snapshot(), "external": dict(ExternalAccount.objects.values_list("address", "balance")),
            "gateway_transfers": list(GatewayTransfer.objects.values_list("pk", "status")),
            "challenges": list(Challenge.objects.values_list("pk", "status", "acceptor_id"))}


def escrow() -> Decimal:
    return escrow_vault_balance()


def vault() -> Decimal:
    return platform_address(ESCROW_ADDRESS).balance


@pytest.fixture
def event(make_event):
    return make_event()


@pytest.fixture
def players(make_user):
    """Two players with 100.00 on each side."""
    made = []
    for _ in range(2):
        user = make_user(balance="100.00")
        external_wallet_open(user=user, actor=Actor.of(user))
        external_wallet_top_up(user=user, amount="100.00", actor=Actor.of(user))
        made.append(user)
    return made


def create(user, event, *, funding="internal", stake="10.00", **selection):
    if "proposition" not in selection:
        selection.setdefault("outcome_id", outcome_of(event).pk)
    return challenge_create(creator=user, event_id=event.pk, stake=stake, funding=funding, actor=Actor.of(user),
                            **selection)


def accept(challenge, user, funding="internal"):
    return challenge_accept(challenge_id=challenge.pk, acceptor=user, funding=funding, actor=Actor.of(user))


def confirm_pending(draw=SUCCEED):
    for moved in GatewayTransfer.objects.filter(status="pending").order_by("id"):
        external_transfer_confirm(tx_id=moved.tx_id, draw=draw)


def external_balance(user) -> Decimal:
    return ExternalAccount.objects.get(owner=user).balance


def wallet(user) -> Decimal:
    return Account.objects.get(owner=user).balance


# --- the money arithmetic --------------------------------------------------------------------------

def test_the_pot_is_paid_out_to_the_cent():
    assert challenge_payout(Decimal("10.00")) == (Decimal("20.00"), Decimal("19.00"), Decimal("1.00"))
    # 2 × 10.01 × 0.95 = 19.019 → 19.01, and the fee takes the rest
    assert challenge_payout(Decimal("10.01")) == (Decimal("20.02"), Decimal("19.01"), Decimal("1.01"))
    assert refund_amount(Decimal("10.00"), fee_in=Decimal("0.50"), fee_out=Decimal("0.50")) == Decimal("9.00")
    assert refund_amount(Decimal("0.60"), fee_in=Decimal("0.50"), fee_out=Decimal("0.50")) == Decimal("0.00")


# --- transitions -----------------------------------------------------------------------------------

def test_internal_create_holds_the_stake_and_opens_and_accept_matches(event, players):
    creator, acceptor = players
    # when
    challenge = create(creator, event)
    # then
    assert challenge.status == "open"
    assert wallet(creator) == Decimal("90.00") and escrow() == Decimal("10.00")
    record = audit_rows("challenge.create", "success").get()
    assert (record.category, record.details["before"], record.details["after"]) == ("betting", None, "open")
    # when
    matched = accept(challenge, acceptor)
    # then
    assert (matched.status, matched.acceptor_id) == ("matched", acceptor.pk)
    assert matched.matched_at is not None
    assert wallet(acceptor) == Decimal("90.00") and escrow() == Decimal("20.00")
    assert audit_rows("challenge.accept", "success").get().details["after"] == "matched"


def test_external_create_waits_for_the_confirmation_then_opens(event, players):
    creator, _ = players
    challenge = create(creator, event, funding="external")
    assert challenge.status == "escrow_pending"
    assert external_balance(creator) == Decimal("100.00") and vault() == Decimal("0.00")
    # when
    confirm_pending()
    # then
    challenge.refresh_from_db()
    assert challenge.status == "open"
    assert external_balance(creator) == Decimal("90.00") and vault() == Decimal("10.00")
    assert house_account(Account.House.ESCROW_EXTERNAL).balance == Decimal("10.00")
    assert audit_rows("challenge.confirm", "success").get().details["after"] == "open"


@override_settings(EXTERNAL_WALLET_FAILURE_RATE="0.5")
def test_a_failed_external_stake_fails_the_challenge_and_holds_nothing(event, players):
    creator, _ = players
    challenge = create(creator, event, funding="external")
    confirm_pending(draw=FAIL)
    challenge.refresh_from_db()
    assert challenge.status == "failed"
    assert external_balance(creator) == Decimal("100.00") and vault() == Decimal("0.00")


def test_external_accept_matches_on_confirmation(event, players):
    creator, acceptor = players
    challenge = create(creator, event)
    matching = accept(challenge, acceptor, funding="external")
    assert (matching.status, matching.acceptor_id) == ("matching", acceptor.pk)
    confirm_pending()
    matching.refresh_from_db()
    assert matching.status == "matched" and matching.matched_at is not None
    assert escrow() == Decimal("10.00") and vault() == Decimal("10.00")


@override_settings(EXTERNAL_WALLET_FAILURE_RATE="0.5")
def test_a_failed_external_accept_opens_the_challenge_again_for_anyone(event, players, make_user):
    creator, acceptor = players
    challenge = create(creator, event)
    accept(challenge, acceptor, funding="external")
    confirm_pending(draw=FAIL)
    challenge.refresh_from_db()
    assert (challenge.status, challenge.acceptor_id, challenge.acceptor_funding) == ("open", None, "")
    assert external_balance(acceptor) == Decimal("100.00")
    # the same player may try again
    assert accept(challenge, acceptor).status == "matched"


def test_cancel_refunds_the_whole_stake_on_the_internal_wallet(event, players):
    creator, _ = players
    challenge = create(creator, event)
    cancelled = challenge_cancel(challenge_id=challenge.pk, actor=Actor.of(creator))
    assert cancelled.status == "cancelled"
    assert wallet(creator) == Decimal("100.00") and escrow() == Decimal("0.00")
    assert audit_rows("challenge.cancel", "success").get().details["before"] == "open"


def test_cancel_on_the_external_wallet_refunds_the_stake_less_its_network_fees(event, players):
    # given: an open external challenge (its stake cost the platform a 0.50 fee)
    creator, _ = players
    challenge = create(creator, event, funding="external")
    confirm_pending()
    treasury = platform_address(TREASURY_ADDRESS).balance
    # when
    challenge_cancel(challenge_id=challenge.pk, actor=Actor.of(creator))
    confirm_pending()
    # then: 10.00 − 0.50 in − 0.50 out; the 1.00 left in the vault goes to the treasury
    assert external_balance(creator) == Decimal("99.00")
    assert vault() == Decimal("0.00") and house_account(Account.House.ESCROW_EXTERNAL).balance == Decimal("0.00")
    # the treasury got the 1.00 and paid the fees of the refund and the sweep
    assert platform_address(TREASURY_ADDRESS).balance == treasury + Decimal("1.00") - Decimal("1.00")
    refund = GatewayTransfer.objects.get(purpose="refund")
    assert (refund.amount, refund.status, refund.network_fee) == (Decimal("9.00"), "confirmed", Decimal("0.50"))


@override_settings(EXTERNAL_WALLET_FAILURE_RATE="0.5")
def test_a_failed_refund_is_asked_for_again_until_it_goes_through(event, players):
    creator, _ = players
    challenge = create(creator, event, funding="external")
    confirm_pending()
    challenge_cancel(challenge_id=challenge.pk, actor=Actor.of(creator))
    # when: the refund (and the sweep) fail once, then confirm
    confirm_pending(draw=FAIL)
    confirm_pending()
    # then
    refunds = list(GatewayTransfer.objects.filter(purpose="refund").order_by("id").values_list("status",
                                                                                             "idempotency_key"))
    assert refunds == [("failed", f"challenge:{challenge.pk}:creator:refund"),
                       ("confirmed", f"challenge:{challenge.pk}:creator:refund#2")]
    assert external_balance(creator) == Decimal("99.00") and vault() == Decimal("0.00")


def test_open_challenges_expire_at_the_start_and_are_refunded(event, players):
    creator, _ = players
    internal = create(creator, event)
    pending = create(creator, event, funding="external")
    # when: the event starts
    Event.objects.filter(pk=event.pk).update(start_time=timezone.now() - timedelta(seconds=1))
    assert challenges_expire() == 2
    assert challenges_expire() == 0  # a second run finds nothing to do
    # then
    internal.refresh_from_db()
    pending.refresh_from_db()
    assert (internal.status, pending.status) == ("expired", "expired")
    assert wallet(creator) == Decimal("100.00") and escrow() == Decimal("0.00")
    # and the external stake, confirmed late, is refunded, never lost
    confirm_pending()
    confirm_pending()
    assert external_balance(creator) == Decimal("99.00") and vault() == Decimal("0.00")


def test_accepting_after_the_start_expires_the_challenge_and_refuses(event, players):
    creator, acceptor = players
    challenge = create(creator, event)
    Event.objects.filter(pk=event.pk).update(start_time=timezone.now() - timedelta(seconds=1))
    before = wallet(acceptor)
    with pytest.raises(DomainError) as refused:
        accept(challenge, acceptor)
    assert (refused.value.code, refused.value.status) == ("challenge_unavailable", 409)
    challenge.refresh_from_db()
    assert challenge.status == "expired"
    assert wallet(creator) == Decimal("100.00") and wallet(acceptor) == before


def test_a_proposition_on_a_rostered_player(event, players):
    creator, _ = players
    star = Player.objects.create(event=event, name="Star", team="home")
    challenge = create(creator, event, proposition={"player_id": star.pk, "stat": "points", "line": "24.5",
                                                    "side": "over"})
    assert (challenge.player_id, challenge.stat, challenge.line, challenge.side) == (
        star.pk, "points", Decimal("24.5"), "over")


def test_the_same_idempotency_key_answers_with_the_first_challenge(event, players):
    creator, _ = players
    outcome = outcome_of(event).pk
    first = challenge_create(creator=creator, event_id=event.pk, outcome_id=outcome, stake="10.00",
                             funding="internal", actor=Actor.of(creator), idempotency_key="k1")
    before = snapshot()
    again = challenge_create(creator=creator, event_id=event.pk, outcome_id=outcome, stake="10.00",
                             funding="internal", actor=Actor.of(creator), idempotency_key="k1")
    assert again.pk == first.pk and snapshot() == before
    with pytest.raises(DomainError) as refused:
        challenge_create(creator=creator, event_id=event.pk, outcome_id=outcome, stake="11.00",
                         funding="internal", actor=Actor.of(creator), idempotency_key="k1")
    assert refused.value.code == "idempotency_conflict"
    assert snapshot() == before


def test_the_acceptors_idempotency_key_answers_with_the_acceptance(event, players, make_user):
    creator, acceptor = players
    challenge = create(creator, event)
    first = challenge_accept(challenge_id=challenge.pk, acceptor=acceptor, funding="internal",
                             actor=Actor.of(acceptor), idempotency_key="a1")
    before = snapshot()
    # the same key and body: the acceptance again, nothing more moved
    again = challenge_accept(challenge_id=challenge.pk, acceptor=acceptor, funding="internal",
                             actor=Actor.of(acceptor), idempotency_key="a1")
    assert (again.pk, again.status, again.acceptor_id) == (first.pk, "matched", acceptor.pk)
    assert snapshot() == before
    # the same key, another body: a conflict; another key: the challenge is taken
    refused(lambda: challenge_accept(challenge_id=challenge.pk, acceptor=acceptor, funding="external",
                                     actor=Actor.of(acceptor), idempotency_key="a1"), "idempotency_conflict", 409)
    refused(lambda: challenge_accept(challenge_id=challenge.pk, acceptor=acceptor, funding="internal",
                                     actor=Actor.of(acceptor), idempotency_key="a2"), "challenge_unavailable", 409)


@override_settings(EXTERNAL_WALLET_FAILURE_RATE="0.5")
def test_a_failed_external_acceptance_frees_its_key_with_the_challenge(event, players):
    creator, acceptor = players
    challenge = create(creator, event)
    challenge_accept(challenge_id=challenge.pk, acceptor=acceptor, funding="external", actor=Actor.of(acceptor),
                     idempotency_key="a1")
    confirm_pending(FAIL)
    reopened = Challenge.objects.get(pk=challenge.pk)
    assert (reopened.status, reopened.acceptor_idempotency_key, reopened.acceptor_fingerprint) == ("open", None, "")


# --- refusals --------------------------------------------------------------------------------------

def refused(call, code: str, status: int) -> None:
    """``call`` is refused with ``code``/``status`` and leaves everything as it was, but an audit row."""
    before = snapshot()
    with pytest.raises(DomainError) as refusal:
        call()
    assert (refusal.value.code, refusal.value.status) == (code, status), refusal.value.as_dict()
    assert snapshot() == before


def test_own_challenge_is_refused(event, players):
    creator, _ = players
    challenge = create(creator, event)
    refused(lambda: accept(challenge, creator), "own_challenge", 422)
    assert audit_rows("challenge.accept", "refused").get().details["error"] == "own_challenge"


@pytest.mark.parametrize("funding", ["internal", "external"])
def test_insufficient_funds_to_create_on_either_gateway(event, players, funding):
    creator, _ = players
    refused(lambda: create(creator, event, funding=funding, stake="100.01"), "insufficient_funds", 422)


@pytest.mark.parametrize("funding", ["internal", "external"])
def test_insufficient_funds_to_accept_on_either_gateway(event, players, make_user, funding):
    creator, acceptor = players
    challenge = create(creator, event, stake="60.00")
    # the acceptor has 50.00 left on each side, the external part of it still on its way out
    create(acceptor, event, stake="50.00")
    create(acceptor, event, stake="50.00", funding="external")
    refused(lambda: accept(challenge, acceptor, funding), "insufficient_funds", 422)


def test_accept_after_match_is_refused(event, players, make_user):
    creator, acceptor = players
    challenge = create(creator, event)
    accept(challenge, acceptor)
    late = make_user(balance="100.00")
    refused(lambda: accept(challenge, late), "challenge_unavailable", 409)


def test_accept_while_matching_is_refused(event, players, make_user):
    creator, acceptor = players
    challenge = create(creator, event)
    accept(challenge, acceptor, funding="external")
    late = make_user(balance="100.00")
    refused(lambda: accept(challenge, late), "challenge_unavailable", 409)


def test_cancel_after_match_is_refused(event, players):
    creator, acceptor = players
    challenge = create(creator, event)
    accept(challenge, acceptor)
    refused(lambda: challenge_cancel(challenge_id=challenge.pk, actor=Actor.of(creator)),
            "challenge_unavailable", 409)


def test_cancel_by_another_player_is_forbidden(event, players):
    creator, other = players
    challenge = create(creator, event)
    refused(lambda: challenge_cancel(challenge_id=challenge.pk, actor=Actor.of(other)), "forbidden", 403)


def test_a_challenge_on_a_started_event_is_refused(event, players):
    creator, _ = players
    Event.objects.filter(pk=event.pk).update(status=Event.Status.LIVE)
    refused(lambda: create(creator, event), "market_unavailable", 409)


def test_a_challenge_on_a_suspended_market_is_refused(event, players):
    creator, _ = players
    event.markets.update(status="suspended")
    refused(lambda: create(creator, event), "market_unavailable", 409)


@pytest.mark.parametrize("selection", [
    {"outcome_id": None},  # neither
    {"outcome_id": "x"},
    {"proposition": {"player_id": 0, "stat": "points", "line": "1.5", "side": "over"}},
    {"proposition": {"stat": "goals", "line": "1.5", "side": "over"}},
    {"proposition": {"stat": "points", "line": "24.25", "side": "over"}},
    {"proposition": {"stat": "points", "line": "-0.5", "side": "over"}},
    {"proposition": {"stat": "points", "line": 24.5, "side": "over"}},
    {"proposition": {"stat": "points", "line": "24.5", "side": "sideways"}},
    {"proposition": "points over 24.5"},
])
def test_a_bad_selection_is_refused(event, players, selection):
    creator, _ = players
    star = Player.objects.create(event=event, name="Star", team="home")
    if isinstance(selection.get("proposition"), dict):
        selection["proposition"] = {"player_id": star.pk, **selection["proposition"]}
    refused(lambda: create(creator, event, **selection), "invalid_selection", 400)


def test_an_outcome_of_another_event_or_a_player_of_another_roster_is_refused(event, make_event, players):
    creator, _ = players
    other = make_event()
    stranger = Player.objects.create(event=other, name="Stranger", team="away")
    refused(lambda: create(creator, event, outcome_id=outcome_of(other).pk), "invalid_selection", 400)
    refused(lambda: create(creator, event, proposition={"player_id": stranger.pk, "stat": "points", "line": "1.5",
                                                        "side": "over"}), "invalid_selection", 400)


@pytest.mark.parametrize(("stake", "code", "status"), [
    ("0.99", "stake_below_min", 422), ("1.234", "invalid_amount", 400), ("0", "invalid_amount", 400),
    (10.5, "invalid_amount", 400), ("100000.01", "stake_above_max", 422)])
def test_a_bad_stake_is_refused(event, players, stake, code, status):
    creator, _ = players
    refused(lambda: create(creator, event, stake=stake), code, status)


def test_an_unknown_funding_is_refused(event, players):
    creator, _ = players
    refused(lambda: create(creator, event, funding="bank"), "invalid_funding", 400)


def test_staff_cannot_create_or_accept(event, players, make_user):
    creator, _ = players
    trader = make_user("trader")
    challenge = create(creator, event)
    refused(lambda: create(trader, event), "not_a_player", 403)
    refused(lambda: accept(challenge, trader), "not_a_player", 403)


def test_a_self_excluded_player_is_refused(event, players):
    creator, acceptor = players
    challenge = create(creator, event)
    PlayerRestriction.objects.create(player=acceptor, self_excluded_until=timezone.now() + timedelta(days=180))
    refused(lambda: accept(challenge, acceptor), "self_excluded", 403)
    refused(lambda: create(acceptor, event), "self_excluded", 403)


def test_an_external_challenge_without_an_external_wallet_is_refused(event, make_user):
    player = make_user(balance="100.00")
    refused(lambda: create(player, event, funding="external"), "external_wallet_not_open", 404)


@override_settings(EXTERNAL_WALLET_AVAILABLE=False)
def test_an_external_challenge_while_the_service_is_down_is_refused(event, players):
    creator, _ = players
    refused(lambda: create(creator, event, funding="external"), "external_wallet_unavailable", 503)


def test_an_event_going_live_asks_for_the_expiry_of_its_challenges(event, django_capture_on_commit_callbacks,
                                                                   monkeypatch):
    from celery import current_app

    from events.services import event_start

    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, *args, **kwargs: sent.append(name))
    with django_capture_on_commit_callbacks(execute=True):
        event_start(event_id=event.pk, actor=Actor.system("test"))
    assert "betting.tasks.challenges_expire_task" in sent


def test_a_stake_confirmation_delivered_again_after_cancel_changes_nothing(event, players):
    creator, _ = players
    challenge = create(creator, event, funding="external")
    stake = GatewayTransfer.objects.get(purpose="stake")
    external_transfer_confirm(tx_id=stake.tx_id, draw=SUCCEED)
    challenge_cancel(challenge_id=challenge.pk, actor=Actor.of(creator))
    confirm_pending()
    before = snapshot()
    # when: the stake's confirmation comes once more
    assert external_transfer_confirm(tx_id=stake.tx_id, draw=SUCCEED) is None
    # then
    assert snapshot() == before
    assert external_balance(creator) == Decimal("99.00")


def test_a_void_refunds_each_party_on_its_own_gateway(event, players):
    """What settlement does for a void: each party's stake back, less its own network fees."""
    from django.db import transaction

    from betting.challenges import challenge_refund

    creator, acceptor = players
    challenge = create(creator, event)
    accept(challenge, acceptor, funding="external")
    confirm_pending()
    challenge.refresh_from_db()
    assert challenge.status == "matched"
    # when
    with transaction.atomic():
        for party in ("creator", "acceptor"):
            challenge_refund(challenge=challenge, party=party, actor=Actor.system("test"))
        challenge_refund(challenge=challenge, party="creator", actor=Actor.system("test"))  # asked twice
    confirm_pending()
    # then
    assert wallet(creator) == Decimal("100.00") and escrow() == Decimal("0.00")
    assert external_balance(acceptor) == Decimal("99.00") and vault() == Decimal("0.00")
