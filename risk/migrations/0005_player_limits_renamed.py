"""A player's limits take their names in the API (deposit_day, loss_day, ...), beside the weekly and
monthly ones that come next."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('risk', '0004_rule_functions'),
    ]

    operations = [
        migrations.RenameField('playerrestriction', 'daily_deposit_limit', 'deposit_day'),
        migrations.RenameField('playerrestriction', 'daily_loss_limit', 'loss_day'),
        migrations.RenameField('historicalplayerrestriction', 'daily_deposit_limit', 'deposit_day'),
        migrations.RenameField('historicalplayerrestriction', 'daily_loss_limit', 'loss_day'),
    ]
