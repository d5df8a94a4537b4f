"""The simulated external wallet and its gateway: pending transfers, confirmations (once, late,
twice, failed), the network fee, the ledger's mirror of the vault, and the service being down."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from audit.context import Actor
from core.decimals import decimal_seconds as seconds
from core.errors import InsufficientFunds, ServiceUnavailable
from ledger.models import Account, Transfer
from ledger.services import house_account
from tests.conftest import audit_rows, ledger_snapshot
from wallet.external import (
    ESCROW_ADDRESS,
    NETWORK_ADDRESS,
    TREASURY_ADDRESS,
    external_wallet_open,
    external_wallet_top_up,
    platform_address,
)
from wallet.gateways import (
    Movement,
    external_confirm_sweep,
    external_transfer_confirm,
    gateway_handler_register,
    retry_backoff,
    wallet_gateway,
)
from wallet.models import ExternalAccount, ExternalTransaction, GatewayTransfer

ACTOR = Actor.system("test")
SUCCEED, FAIL = (lambda: 0.999), (lambda: 0.0)


@pytest.fixture
def funded(player):
    """The player with an external wallet holding 100.00."""
    external_wallet_open(user=player, actor=ACTOR)
    external_wallet_top_up(user=player, amount="100.00", actor=ACTOR)
    return player


def movement(user, amount="10.00", key="challenge:1:stake:creator", direction="in", purpose="stake"):
    return Movement(user_id=user.pk if user else None, direction=direction, amount=Decimal(amount), purpose=purpose,
                    reference_type="test", reference_id=1, idempotency_key=key)


def books() -> dict:
    """Every balance on both sides and every transfer: what a refusal must leave as it was."""
    return {**ledger_snapshot(), "external": dict(ExternalAccount.objects.values_list("address", "balance")),
            "external_transactions": ExternalTransaction.objects.count(),
            "gateway_transfers": list(GatewayTransfer.objects.values_list("pk", "status"))}


def test_a_transfer_is_only_recorded_pending_until_it_is_confirmed(funded):
    # given
    gateway = wallet_gateway("external")
    ledger_before = ledger_snapshot()
    # when
    with transaction.atomic():
        [pending] = gateway.transfer([movement(funded)], actor=ACTOR)
    # then: nothing has moved yet on either side
    assert (pending.status, pending.gateway, pending.network_fee) == ("pending", "external", Decimal("0.00"))
    tx = ExternalTransaction.objects.get(tx_id=pending.tx_id)
    assert tx.status == "pending" and tx.confirm_after > timezone.now()
    assert gateway.balance(user=funded) == Decimal("100.00")
    assert gateway.escrow_balance() == Decimal("0.00")
    assert ledger_snapshot() == ledger_before


def test_a_confirmation_moves_the_money_charges_the_fee_and_mirrors_it_in_the_ledger(funded):
    # given
    gateway = wallet_gateway("external")
    with transaction.atomic():
        [pending] = gateway.transfer([movement(funded)], actor=ACTOR)
    treasury, network = platform_address(TREASURY_ADDRESS).balance, platform_address(NETWORK_ADDRESS).balance
    # when
    confirmed = external_transfer_confirm(tx_id=pending.tx_id, draw=SUCCEED)
    # then
    assert (confirmed.status, confirmed.network_fee) == ("confirmed", Decimal("0.50"))
    assert gateway.balance(user=funded) == Decimal("90.00")
    assert gateway.escrow_balance() == Decimal("10.00")
    assert platform_address(TREASURY_ADDRESS).balance == treasury - Decimal("0.50")
    assert platform_address(NETWORK_ADDRESS).balance == network + Decimal("0.50")
    assert house_account(Account.House.ESCROW_EXTERNAL).balance == Decimal("10.00")
    mirror = Transfer.objects.get(idempotency_key=f"external:{pending.tx_id}")
    assert (mirror.debit_account.code, mirror.credit_account.code, mirror.amount, mirror.kind) == (
        "house:external_clearing", "house:escrow_external", Decimal("10.00"), "escrow_hold")
    fee = Transfer.objects.get(idempotency_key=f"external:{pending.tx_id}:fee")
    assert (fee.debit_account.code, fee.credit_account.code, fee.kind) == (
        "house:external_clearing", "house:network_fees", "network_fee")
    assert gateway.status(tx_id=pending.tx_id).status == "confirmed"


def test_a_second_delivery_of_the_confirmation_changes_nothing(funded):
    with transaction.atomic():
        [pending] = wallet_gateway("external").transfer([movement(funded)], actor=ACTOR)
    external_transfer_confirm(tx_id=pending.tx_id, draw=SUCCEED)
    before = books()
    # when: delivered again, and again with a draw that would have failed it
    assert external_transfer_confirm(tx_id=pending.tx_id, draw=SUCCEED) is None
    assert external_transfer_confirm(tx_id=pending.tx_id, draw=FAIL) is None
    # then
    assert books() == before


@override_settings(EXTERNAL_WALLET_FAILURE_RATE="0.3")
def test_a_failed_transaction_moves_nothing_and_charges_no_fee(funded):
    with transaction.atomic():
        [pending] = wallet_gateway("external").transfer([movement(funded)], actor=ACTOR)
    before = books()
    # when
    failed = external_transfer_confirm(tx_id=pending.tx_id, draw=lambda: 0.29)
    # then
    assert (failed.status, failed.network_fee) == ("failed", Decimal("0.00"))
    assert failed.failure_reason
    after = books()
    assert after["external"] == before["external"] and after["transfers"] == before["transfers"]


def test_the_source_short_of_funds_at_confirmation_fails_it(funded):
    # given: the money leaves the address some other way between submission and confirmation
    with transaction.atomic():
        [pending] = wallet_gateway("external").transfer([movement(funded, "100.00")], actor=ACTOR)
    ExternalAccount.objects.filter(owner=funded).update(balance=Decimal("99.99"))
    # when
    failed = external_transfer_confirm(tx_id=pending.tx_id, draw=SUCCEED)
    # then
    assert failed.status == "failed"
    assert platform_address(ESCROW_ADDRESS).balance == Decimal("0.00")


def test_a_transfer_beyond_the_balance_and_what_is_already_on_its_way_is_refused(funded):
    # given: 60.00 already on its way out of a 100.00 address
    gateway = wallet_gateway("external")
    with transaction.atomic():
        gateway.transfer([movement(funded, "60.00", key="first")], actor=ACTOR)
    before = books()
    # when
    with pytest.raises(InsufficientFunds) as refused, transaction.atomic():
        gateway.transfer([movement(funded, "40.01", key="second")], actor=ACTOR)
    # then
    assert refused.value.details["balance"] == "40.00"
    assert books() == before


def test_the_handler_of_the_reference_runs_in_the_confirming_transaction(funded):
    seen = []
    gateway_handler_register("test", lambda moved: seen.append((moved.status, transaction.get_connection()
                                                                 .in_atomic_block)))
    with transaction.atomic():
        [pending] = wallet_gateway("external").transfer([movement(funded)], actor=ACTOR)
    external_transfer_confirm(tx_id=pending.tx_id, draw=SUCCEED)
    assert seen == [("confirmed", True)]


def test_the_sweep_confirms_what_is_overdue_only(funded):
    # given: two pending transfers, one of them long overdue
    gateway = wallet_gateway("external")
    with transaction.atomic():
        late, fresh = gateway.transfer([movement(funded, key="late"), movement(funded, key="fresh")], actor=ACTOR)
    ExternalTransaction.objects.filter(tx_id=late.tx_id).update(confirm_after=timezone.now() - timedelta(minutes=1))
    # when
    decided = external_confirm_sweep()
    # then
    assert decided == 1
    assert GatewayTransfer.objects.get(pk=late.pk).status == "confirmed"
    assert GatewayTransfer.objects.get(pk=fresh.pk).status == "pending"


def test_a_payout_out_of_the_vault_and_a_sweep_to_the_treasury(funded, make_user):
    # given: 10.00 in the vault
    gateway = wallet_gateway("external")
    with transaction.atomic():
        [stake] = gateway.transfer([movement(funded)], actor=ACTOR)
    external_transfer_confirm(tx_id=stake.tx_id, draw=SUCCEED)
    # when: 9.00 back to the player, 1.00 to the platform's treasury
    with transaction.atomic():
        out = gateway.transfer([movement(funded, "9.00", key="refund", direction="out", purpose="refund"),
                                movement(None, "1.00", key="sweep", direction="out", purpose="sweep")], actor=ACTOR)
    for moved in out:
        external_transfer_confirm(tx_id=moved.tx_id, draw=SUCCEED)
    # then
    assert gateway.balance(user=funded) == Decimal("99.00")
    assert gateway.escrow_balance() == Decimal("0.00")
    assert house_account(Account.House.ESCROW_EXTERNAL).balance == Decimal("0.00")
    assert Transfer.objects.get(idempotency_key=f"external:{out[0].tx_id}").kind == "p2p_refund"


def test_opening_and_topping_up_through_the_api(api, player):
    client = api(player)
    # before opening: a clear 404
    response = client.get("/api/v1/external-wallet")
    assert response.status_code == 404 and response.json()["error"] == "external_wallet_not_open"
    opened = client.post("/api/v1/external-wallet")
    assert opened.status_code == 201
    assert opened.json()["balance"] == "0.00" and opened.json()["currency"] == "PLAY"
    assert client.post("/api/v1/external-wallet").status_code == 200  # already open: the same one
    top_up = client.post("/api/v1/external-wallet/top-ups", {"amount": "250.00"}, format="json",
                         HTTP_IDEMPOTENCY_KEY="t1")
    assert top_up.status_code == 201 and top_up.json()["balance"] == "250.00"
    again = client.post("/api/v1/external-wallet/top-ups", {"amount": "250.00"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="t1")
    assert again.json()["tx_id"] == top_up.json()["tx_id"]
    other = client.post("/api/v1/external-wallet/top-ups", {"amount": "5.00"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="t1")
    assert other.status_code == 409 and other.json()["error"] == "idempotency_conflict"
    assert client.get("/api/v1/external-wallet").json() == {
        "address": opened.json()["address"], "balance": "250.00", "currency": "PLAY"}
    assert audit_rows("external_wallet.top_up", "success").count() == 1


@pytest.mark.parametrize("amount", ["0", "-1.00", "1.234", 10.5, "1000000.01"])
def test_a_bad_top_up_is_invalid_amount_and_changes_nothing(api, funded, amount):
    before = books()
    response = api(funded).post("/api/v1/external-wallet/top-ups", {"amount": amount}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_amount"
    assert books() == before


def test_staff_cannot_open_or_top_up_an_external_wallet(api, make_user):
    trader = make_user("trader")
    assert api(trader).post("/api/v1/external-wallet").json()["error"] == "not_a_player"
    assert not ExternalAccount.objects.filter(owner=trader).exists()


@override_settings(EXTERNAL_WALLET_AVAILABLE=False)
def test_while_the_service_is_down_requests_get_503_with_retry_after(api, player, funded):
    before = books()
    for response in (api(player).get("/api/v1/external-wallet"),
                     api(player).post("/api/v1/external-wallet/top-ups", {"amount": "5.00"}, format="json")):
        assert response.status_code == 503
        assert response.json()["error"] == "external_wallet_unavailable"
        assert response["Retry-After"] == "30"
    with pytest.raises(ServiceUnavailable), transaction.atomic():
        wallet_gateway("external").transfer([movement(funded)], actor=ACTOR)
    assert books() == before


def test_a_confirmation_while_the_service_is_down_waits_for_the_sweep(funded):
    with transaction.atomic():
        [pending] = wallet_gateway("external").transfer([movement(funded)], actor=ACTOR)
    with override_settings(EXTERNAL_WALLET_AVAILABLE=False):
        assert external_transfer_confirm(tx_id=pending.tx_id, draw=SUCCEED) is None
    assert GatewayTransfer.objects.get(pk=pending.pk).status == "pending"
    assert external_transfer_confirm(tx_id=pending.tx_id, draw=SUCCEED).status == "confirmed"


def test_the_waits_are_exact_durations_from_the_settings_decimal_seconds(settings):
    # a delay is read as a decimal and kept as a timedelta: no float on the way (0.1 + 0.2 stays 0.3)
    settings.EXTERNAL_WALLET_RETRY_BACKOFF_SECONDS = "0.05"
    assert seconds("0.1") + seconds("0.2") == seconds("0.3") == timedelta(milliseconds=300)
    assert [retry_backoff(tried) for tried in (1, 2, 3)] == [timedelta(milliseconds=ms) for ms in (50, 100, 200)]
