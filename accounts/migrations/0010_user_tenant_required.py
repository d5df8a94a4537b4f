import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Every user belongs to a tenant (0009 put today's users in the default one)."""

    dependencies = [("accounts", "0009_users_in_platform_tenant")]
    operations = [
        migrations.AlterField(
            model_name="user", name="tenant",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="users",
                                    to="accounts.tenant"),
        ),
    ]
