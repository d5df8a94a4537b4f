from django.db import migrations

# The platform's addresses at the simulated external wallet: the escrow vault never goes negative;
# the treasury pays every network fee and may; the network's fee sink only receives.
ADDRESSES = [("ext:platform:escrow", "escrow", False), ("ext:platform:treasury", "treasury", True),
             ("ext:network:fees", "network", True)]


def create_addresses(apps, schema_editor):
    ExternalAccount = apps.get_model("wallet", "ExternalAccount")
    for address, kind, may_go_negative in ADDRESSES:
        ExternalAccount.objects.get_or_create(address=address,
                                              defaults={"kind": kind, "may_go_negative": may_go_negative})


class Migration(migrations.Migration):
    dependencies = [("wallet", "0002_gateway_transfer_platform")]
    operations = [migrations.RunPython(create_addresses, migrations.RunPython.noop)]
