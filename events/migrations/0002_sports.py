from django.db import migrations

SPORTS = [("football", "Football", 5), ("tennis", "Tennis", 3), ("basketball", "Basketball", 3)]


def create_sports(apps, schema_editor):
    Sport = apps.get_model("events", "Sport")
    for key, name, delay in SPORTS:
        Sport.objects.get_or_create(key=key, defaults={"name": name, "inplay_delay_seconds": delay})


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]
    operations = [migrations.RunPython(create_sports, migrations.RunPython.noop)]
