"""The internal escrow vault is 16 stored-balance shards: a challenge's money enters and leaves through
the shard of its id, the vault's balance is their sum, and the migration that split the vault moved
the money already held to its challenge's shard."""

import importlib
from decimal import Decimal

from django.apps import apps
from django.db import transaction

from audit.context import Actor
from ledger.models import Account, Transfer
from ledger.selectors import ledger_verify
from ledger.services import TransferSpec, escrow_vault_balance, house_account, transfers_create
from tests.conftest import wallet_of
from wallet.gateways import Movement, wallet_gateway

ACTOR = Actor.system("test")
D = Decimal
shards_migration = importlib.import_module("ledger.migrations.0005_escrow_shards")


def movement(user, challenge_id: int, amount: str, direction: str = "in", purpose: str = "stake") -> Movement:
    return Movement(user_id=user.pk if user else None, direction=direction, amount=D(amount), purpose=purpose,
                    reference_type="challenge", reference_id=challenge_id,
                    idempotency_key=f"challenge:{challenge_id}:{purpose}")


def shard_balances() -> dict[str, Decimal]:
    return {code: house_account(code).balance
            for code in (Account.escrow_shard(n) for n in range(Account.ESCROW_SHARDS))}


def books_balanced() -> bool:
    """The ledger's own invariants (stored balances, the zero sum); the liquidity audit, which also
    runs in ledger_verify, is left out: these movements name challenges that do not exist."""
    return [p for p in ledger_verify().problems if not p.startswith("escrow internal:")] == []


def test_the_shard_of_a_challenge_is_its_id_modulo_16():
    assert [Account.escrow_shard(n) for n in (0, 1, 15, 16, 17, "33")] == [
        "escrow", "escrow.1", "escrow.15", "escrow", "escrow.1", "escrow.1"]
    assert len({Account.escrow_shard(n) for n in range(64)}) == Account.ESCROW_SHARDS


def test_each_challenge_money_stays_in_its_shard_and_the_vault_is_their_sum(player):
    # given: stakes of three challenges, two of them sharing a shard
    gateway = wallet_gateway("internal")
    with transaction.atomic():
        gateway.transfer([movement(player, 3, "10.00"), movement(player, 19, "5.00"), movement(player, 4, "2.50")],
                         actor=ACTOR)
    # then
    assert {code: balance for code, balance in shard_balances().items() if balance} == {
        "escrow.3": D("15.00"), "escrow.4": D("2.50")}
    assert gateway.escrow_balance() == escrow_vault_balance() == D("17.50")
    # when: challenge 19's money goes back out
    with transaction.atomic():
        gateway.transfer([movement(player, 19, "5.00", direction="out", purpose="refund")], actor=ACTOR)
    # then: from its own shard
    assert shard_balances()["escrow.3"] == D("10.00") and gateway.escrow_balance() == D("12.50")
    assert wallet_of(player).balance == D("987.50")
    assert books_balanced()


def test_the_split_moves_money_held_in_the_old_vault_to_each_challenge_shard(player):
    # given: stakes written into the one vault before the split (challenges 1, 17 and 5; 5 released)
    escrow = house_account(Account.House.ESCROW)
    wallet = wallet_of(player)
    with transaction.atomic():
        transfers_create([TransferSpec(debit=wallet, credit=escrow, amount=D(amount), kind="escrow_hold",
                                       reference_type="challenge", reference_id=ref)
                          for ref, amount in ((1, "10.00"), (17, "4.00"), (5, "3.00"), (32, "1.00"))])
        transfers_create([TransferSpec(debit=escrow, credit=wallet, amount=D("3.00"), kind="p2p_refund",
                                       reference_type="challenge", reference_id=5)])
    # when
    with transaction.atomic():
        shards_migration.split(apps, None)
    # then: 1 and 17 in shard 1, 32 in shard 0, nothing for 5
    assert {code: balance for code, balance in shard_balances().items() if balance} == {
        "escrow": D("1.00"), "escrow.1": D("14.00")}
    assert escrow_vault_balance() == D("15.00")
    moved = Transfer.objects.get(kind="correction")
    assert (moved.debit_account.code, moved.credit_account.code, moved.amount) == (
        "house:escrow", "house:escrow.1", D("14.00"))
    assert books_balanced()
    # the reverse puts it back in the one vault
    with transaction.atomic():
        shards_migration.join(apps, None)
    assert {code: balance for code, balance in shard_balances().items() if balance} == {"escrow": D("15.00")}
    assert books_balanced()
