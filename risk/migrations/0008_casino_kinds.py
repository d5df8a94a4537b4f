from django.db import migrations

from risk.sql import risk_functions


class Migration(migrations.Migration):
    """The loss limit counts casino rounds: risk_wallet_totals sums casino stakes (out) and payouts (in)."""

    dependencies = [("risk", "0007_tenants"), ("ledger", "0009_casino")]
    operations = [migrations.RunSQL(risk_functions(), migrations.RunSQL.noop)]
