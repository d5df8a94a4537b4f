from django.db import migrations

from accounts.roles import roles_sync


def sync(apps, schema_editor):
    roles_sync(apps)


class Migration(migrations.Migration):
    """Give the roles their permissions on events, bets and risk settings."""

    dependencies = [
        ("accounts", "0002_roles"),
        ("events", "0002_sports"),
        ("risk", "0002_geofence_row"),
        ("betting", "0001_initial"),
    ]
    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
