from django.db import migrations

# Escrow holds players' stakes and may never go negative, so it stores a locked balance;
# the others may go negative and derive their balance from transfers (DESIGN.md "Money").
HOUSE = [
    ("cashier", "Cashier (play-credit deposits and withdrawals)", True),
    ("stakes_held", "Stakes held", True),
    ("revenue", "Revenue", True),
    ("escrow", "Escrow", False),
    ("fees", "Fees", True),
    ("commission", "Commission", True),
    ("bonus", "Bonus", True),
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
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(create_house_accounts, migrations.RunPython.noop)]
