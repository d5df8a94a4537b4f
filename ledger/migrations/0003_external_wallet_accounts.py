from django.db import migrations

# The ledger's mirror of the simulated external wallet: the vault stores its balance (it can never
# go negative, like the vault itself); the clearing and network-fee accounts may go negative.
HOUSE = [
    ("escrow_external", "Escrow at the external wallet", False),
    ("external_clearing", "External wallet clearing", True),
    ("network_fees", "External network fees", True),
]


def create_house_accounts(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    for code, name, may_go_negative in HOUSE:
        Account.objects.get_or_create(
            code=f"house:{code}",
            defaults={"kind": "house", "name": name, "may_go_negative": may_go_negative,
                      "balance": None if may_go_negative else 0},
        )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_house_accounts")]
    operations = [migrations.RunPython(create_house_accounts, migrations.RunPython.noop)]
