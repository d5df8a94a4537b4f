"""The account lock order and one transfer as SQL functions (ledger/sql.py), for the one-call
services that move money inside the database. A change to their text ships as a new migration that
runs it again (tests/test_sql_functions.py checks the installed text)."""

from django.db import migrations

from ledger.sql import LEDGER_FUNCTIONS_DROP, ledger_functions


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_escrow_shards")]

    operations = [migrations.RunSQL(ledger_functions(), LEDGER_FUNCTIONS_DROP)]
