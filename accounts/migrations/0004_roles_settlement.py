from django.db import migrations

from accounts.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps)


class Migration(migrations.Migration):
    """Manual settlement for traders; report exports for compliance, regulators and admins."""

    dependencies = [("accounts", "0003_roles_trading"), ("betting", "0003_report_permissions")]
    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
