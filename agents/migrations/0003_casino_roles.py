from django.db import migrations

from accounts.roles import roles_sync


def casino_roles(apps, schema_editor):
    """Traders, compliance, regulators and admins read casino rounds and seed pairs (accounts/roles.py).
    Here, not in the casino app: casino sits beside accounts and imports neither way; agents sits above both."""
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [("agents", "0002_platform_plan_roles"), ("casino", "0001_initial")]
    operations = [migrations.RunPython(casino_roles, migrations.RunPython.noop)]
