from django.db import migrations

from accounts.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps)


class Migration(migrations.Migration):
    """Compliance and admins review KYC documents and work AML alerts; regulators read both."""

    dependencies = [("accounts", "0006_client_sessions"), ("risk", "0006_safer_gambling_kyc_aml")]
    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
