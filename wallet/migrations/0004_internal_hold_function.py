"""A stake into the internal escrow vault as a SQL function (wallet/sql.py), for the one-call
challenge services. A change to its text ships as a new migration that runs it again
(tests/test_sql_functions.py checks the installed text)."""

from django.db import migrations

from wallet.sql import WALLET_FUNCTIONS_DROP, wallet_functions


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0003_external_platform_addresses"),
        ("ledger", "0006_ledger_functions"),
    ]

    operations = [migrations.RunSQL(wallet_functions(), WALLET_FUNCTIONS_DROP)]
