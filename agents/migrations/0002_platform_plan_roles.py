from django.db import migrations

from accounts.roles import roles_sync


def plans_and_roles(apps, schema_editor):
    """Every tenant has a commission plan (API.md's default plan); compliance, regulators and admins
    get the commission permissions."""
    Tenant = apps.get_model("accounts", "Tenant")
    CommissionPlan = apps.get_model("agents", "CommissionPlan")
    for tenant in Tenant.objects.filter(commission_plan__isnull=True):
        CommissionPlan.objects.create(tenant=tenant)
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [("agents", "0001_initial"), ("accounts", "0010_user_tenant_required")]
    operations = [migrations.RunPython(plans_and_roles, migrations.RunPython.noop)]
