"""The internal escrow vault becomes 16 stored-balance shards (``Account.escrow_shard``): ``escrow``
stays shard 0 and ``escrow.1`` … ``escrow.15`` are created. Money already in escrow moves to the
shard of its challenge with one correction transfer per shard, so every later release finds it
there. The reverse moves it back into ``escrow`` (the shard accounts stay: transfers name them)."""

from decimal import Decimal

from django.db import migrations

SHARDS = 16  # Account.ESCROW_SHARDS when this migration was written
REASON = "the internal escrow vault was split into shards"


def _shard(reference_id: str) -> int:
    return int(reference_id) % SHARDS if reference_id.isdigit() else 0


def _move(Account, Transfer, source, destination, amount: Decimal) -> None:
    source.refresh_from_db()
    destination.refresh_from_db()
    Transfer.objects.create(
        debit_account=source, credit_account=destination, amount=amount, kind="correction",
        reference_type="ledger", reference_id="escrow_shards", metadata={"reason": REASON},
        debit_balance_before=source.balance, debit_balance_after=source.balance - amount,
        credit_balance_before=destination.balance, credit_balance_after=destination.balance + amount)
    Account.objects.filter(pk=source.pk).update(balance=source.balance - amount)
    Account.objects.filter(pk=destination.pk).update(balance=destination.balance + amount)


def split(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    Transfer = apps.get_model("ledger", "Transfer")
    shards = {0: Account.objects.get(code="house:escrow")}
    for n in range(1, SHARDS):
        shards[n], _ = Account.objects.get_or_create(
            code=f"house:escrow.{n}",
            defaults={"kind": "house", "name": f"Escrow (shard {n})", "may_go_negative": False, "balance": 0})
    held: dict[int, Decimal] = {}
    for side, sign in (("credit_account", 1), ("debit_account", -1)):
        for transfer in Transfer.objects.filter(**{side: shards[0]}).only("amount", "reference_id"):
            shard = _shard(transfer.reference_id)
            held[shard] = held.get(shard, Decimal("0.00")) + sign * transfer.amount
    for n, amount in sorted(held.items()):
        if n and amount > 0:
            _move(Account, Transfer, shards[0], shards[n], amount)


def join(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    Transfer = apps.get_model("ledger", "Transfer")
    escrow = Account.objects.get(code="house:escrow")
    for n in range(1, SHARDS):
        shard = Account.objects.filter(code=f"house:escrow.{n}").first()
        if shard is not None and shard.balance > 0:
            _move(Account, Transfer, shard, escrow, shard.balance)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_transfer_kinds_p2p")]
    operations = [migrations.RunPython(split, join)]
