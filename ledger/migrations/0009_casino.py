from django.db import migrations, models

# The casino sandbox's house account (casino/services.py): it takes every round's stake and pays every
# payout, so it may go negative like the other derived house accounts; its balance is derived from
# transfers (DESIGN.md "Money"), never stored or locked.
HOUSE = [("casino", "Casino", True)]


def create_house_accounts(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    for code, name, may_go_negative in HOUSE:
        Account.objects.get_or_create(
            code=f"house:{code}",
            defaults={"kind": "house", "name": name, "may_go_negative": may_go_negative,
                      "balance": None if may_go_negative else 0},
        )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_wallet_time_indexes")]
    operations = [
        migrations.AlterField(
            model_name="transfer",
            name="kind",
            field=models.CharField(choices=[("deposit", "Deposit"), ("withdrawal", "Withdrawal"), ("bet_stake", "Bet stake"), ("bet_refund", "Bet refund"), ("bet_stake_revenue", "Stake to revenue"), ("bet_payout", "Bet payout"), ("escrow_hold", "Escrow hold"), ("escrow_release", "Escrow release"), ("p2p_payout", "Challenge payout"), ("p2p_refund", "Challenge refund"), ("p2p_fee", "Challenge fee"), ("network_fee", "External network fee"), ("commission", "Commission"), ("bonus", "Bonus"), ("correction", "Correction"), ("casino_stake", "Casino stake"), ("casino_payout", "Casino payout")], max_length=32),
        ),
        migrations.RunPython(create_house_accounts, migrations.RunPython.noop),
    ]
