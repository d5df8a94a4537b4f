"""The internal wallet gateway: movements are ledger transfers to and from the house escrow."""

from decimal import Decimal

import pytest
from django.db import transaction

from audit.context import Actor
from core.errors import IdempotencyConflict, InsufficientFunds, InvalidInput, NotFound
from ledger.models import Account, Transfer
from ledger.services import house_account
from tests.conftest import ledger_snapshot, wallet_of
from wallet.gateways import Movement, wallet_gateway
from wallet.models import GatewayTransfer

ACTOR = Actor.system("test")


def stake(user, amount="10.00", key="challenge:1:stake:creator", direction="in", purpose="stake", **more):
    return Movement(user_id=user.pk if user else None, direction=direction, amount=Decimal(amount), purpose=purpose,
                    reference_type="challenge", reference_id=1, idempotency_key=key, **more)


def test_a_stake_moves_from_the_wallet_to_escrow_confirmed_at_once(player):
    # given
    gateway = wallet_gateway("internal")
    # when
    with transaction.atomic():
        [moved] = gateway.transfer([stake(player, "10.00")], actor=ACTOR)
    # then
    assert (moved.status, moved.gateway, moved.direction, moved.amount, moved.network_fee) == (
        "confirmed", "internal", "in", Decimal("10.00"), Decimal("0.00"))
    assert gateway.balance(user=player) == Decimal("990.00")
    assert gateway.escrow_balance() == Decimal("10.00")
    ledger = Transfer.objects.get(idempotency_key="gateway:challenge:1:stake:creator")
    assert (ledger.kind, ledger.debit_account, ledger.credit_account) == (
        "escrow_hold", wallet_of(player), house_account(Account.escrow_shard(1)))
    assert moved.tx_id == ledger.reference
    assert gateway.status(tx_id=moved.tx_id) == moved


def test_a_batch_pays_out_and_takes_the_fee_to_a_house_account(player, make_user):
    # given: two stakes held
    rival = make_user(balance="100.00")
    gateway = wallet_gateway("internal")
    with transaction.atomic():
        gateway.transfer([stake(player), stake(rival, key="challenge:1:stake:acceptor")], actor=ACTOR)
    fees_before = Transfer.objects.filter(kind="p2p_fee").count()
    # when: the winner's payout and the platform's fee, in one call
    with transaction.atomic():
        moved = gateway.transfer([
            stake(rival, "19.00", key="challenge:1:payout", direction="out", purpose="payout"),
            stake(None, "1.00", key="challenge:1:fee", direction="out", purpose="fee", platform_account="fees"),
        ], actor=ACTOR)
    # then
    assert [m.status for m in moved] == ["confirmed", "confirmed"]
    assert gateway.balance(user=rival) == Decimal("109.00")
    assert gateway.escrow_balance() == Decimal("0.00")
    fee = Transfer.objects.get(idempotency_key="gateway:challenge:1:fee")
    assert (fee.kind, fee.credit_account.code) == ("p2p_fee", "house:fees")
    assert Transfer.objects.filter(kind="p2p_fee").count() == fees_before + 1
    assert moved[1].user is None and moved[1].platform_account == "fees"


def test_the_same_key_again_returns_the_first_transfer_and_moves_nothing(player):
    gateway = wallet_gateway("internal")
    with transaction.atomic():
        [first] = gateway.transfer([stake(player)], actor=ACTOR)
    before = ledger_snapshot()
    with transaction.atomic():
        [again] = gateway.transfer([stake(player)], actor=ACTOR)
    assert again.pk == first.pk
    assert ledger_snapshot() == before


def test_the_same_key_for_another_amount_is_a_conflict(player):
    gateway = wallet_gateway("internal")
    with transaction.atomic():
        gateway.transfer([stake(player)], actor=ACTOR)
    before = ledger_snapshot()
    with pytest.raises(IdempotencyConflict), transaction.atomic():
        gateway.transfer([stake(player, "11.00")], actor=ACTOR)
    assert ledger_snapshot() == before


def test_insufficient_funds_writes_nothing_of_the_batch(player, make_user):
    # given
    broke = make_user(balance="5.00")
    before = ledger_snapshot()
    gateways_before = GatewayTransfer.objects.count()
    # when: the first movement could go, the second cannot
    with pytest.raises(InsufficientFunds), transaction.atomic():
        wallet_gateway("internal").transfer([stake(player), stake(broke, key="k2")], actor=ACTOR)
    # then
    assert ledger_snapshot() == before
    assert GatewayTransfer.objects.count() == gateways_before


def test_an_unknown_gateway_is_invalid_funding():
    with pytest.raises(InvalidInput) as refused:
        wallet_gateway("bank")
    assert refused.value.code == "invalid_funding"
    assert refused.value.status == 400


@pytest.mark.django_db
def test_status_of_an_unknown_tx_is_not_found():
    with pytest.raises(NotFound):
        wallet_gateway("internal").status(tx_id="LDG-000000000")
