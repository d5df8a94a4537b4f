from django.conf import settings
from django.db import migrations


def platform_tenant(apps, schema_editor):
    """Today's players and staff belong to the default tenant."""
    Tenant = apps.get_model("accounts", "Tenant")
    User = apps.get_model("accounts", "User")
    tenant, _ = Tenant.objects.get_or_create(slug=settings.PLATFORM_TENANT, defaults={"name": "Odds Lab"})
    User.objects.filter(tenant__isnull=True).update(tenant=tenant)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_tenants_agents")]
    operations = [migrations.RunPython(platform_tenant, migrations.RunPython.noop)]
