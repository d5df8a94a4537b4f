from django.db import migrations

from accounts.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps)


class Migration(migrations.Migration):
    """Staff read challenges, gateway transfers and external transactions; compliance, regulators and
    admins read the liquidity audit."""

    dependencies = [("accounts", "0004_roles_settlement"), ("betting", "0007_escrow_audit"),
                    ("wallet", "0001_initial")]
    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
