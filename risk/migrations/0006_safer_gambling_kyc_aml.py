"""Safer gambling, KYC and AML (issue 16): the player's own limits per rolling period with their
pending loosenings, a time-out beside the self-exclusion (the database refuses shortening either),
KYC as a status with its documents (numbers encrypted at rest), AML alerts; the rule functions
(risk/sql.py) learn the time-out, the wallet's rolling totals and the player's own limits."""

import django.db.models.deletion
import encrypted_fields.fields
from django.conf import settings
from django.db import migrations, models

from risk.sql import risk_functions


def kyc_verified_carried(apps, schema_editor):
    apps.get_model('risk', 'PlayerRestriction').objects.filter(kyc_verified=True).update(kyc_status='verified')


class Migration(migrations.Migration):

    dependencies = [
        ('risk', '0005_player_limits_renamed'),
        ('ledger', '0008_wallet_time_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AmlAlert',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rule', models.CharField(choices=[('large_deposit', 'Large deposit'), ('deposit_velocity', 'Deposit velocity'), ('structuring', 'Structuring'), ('low_turnover_withdrawal', 'Withdrawal with low turnover'), ('shared_ip', 'Accounts sharing an address')], max_length=32)),
                ('severity', models.CharField(choices=[('medium', 'Medium'), ('high', 'High')], default='medium', max_length=16)),
                ('status', models.CharField(choices=[('open', 'Open'), ('investigating', 'Investigating'), ('closed', 'Closed')], default='open', max_length=16)),
                ('reference', models.CharField(max_length=100)),
                ('details', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField()),
                ('updated_at', models.DateTimeField()),
                ('closed_reason', models.CharField(blank=True, default='', max_length=500)),
            ],
        ),
        migrations.CreateModel(
            name='KycDocument',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('document_type', models.CharField(choices=[('passport', 'Passport'), ('id_card', 'Identity card'), ('driving_licence', 'Driving licence')], max_length=32)),
                ('document_number', encrypted_fields.fields.EncryptedCharField(max_length=64)),
                ('file', models.CharField(blank=True, default='', max_length=200)),
                ('file_size', models.PositiveIntegerField(blank=True, null=True)),
                ('file_content_type', models.CharField(blank=True, default='', max_length=100)),
                ('status', models.CharField(choices=[('unverified', 'Unverified'), ('pending', 'Pending review'), ('verified', 'Verified'), ('rejected', 'Rejected')], default='pending', max_length=16)),
                ('reason', models.CharField(blank=True, default='', max_length=200)),
                ('submitted_at', models.DateTimeField()),
                ('reviewed_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name='LimitChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('limit', models.CharField(choices=[('deposit_day', 'deposit_day'), ('deposit_week', 'deposit_week'), ('deposit_month', 'deposit_month'), ('loss_day', 'loss_day'), ('loss_week', 'loss_week'), ('loss_month', 'loss_month'), ('max_stake', 'max_stake'), ('session_minutes', 'session_minutes'), ('reality_check_minutes', 'reality_check_minutes')], max_length=32)),
                ('value', models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True)),
                ('requested_at', models.DateTimeField()),
                ('effective_at', models.DateTimeField()),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('applied', 'Applied'), ('withdrawn', 'Withdrawn')], default='pending', max_length=16)),
                ('resolved_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name='historicalplayerrestriction',
            name='deposit_month',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True),
        ),
        migrations.AddField(
            model_name='historicalplayerrestriction',
            name='deposit_week',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True),
        ),
        migrations.AddField(
            model_name='historicalplayerrestriction',
            name='kyc_reason',
            field=models.CharField(blank=True, default='', max_length=200),
        ),
        migrations.AddField(
            model_name='historicalplayerrestriction',
            name='kyc_status',
            field=models.CharField(choices=[('unverified', 'Unverified'), ('pending', 'Pending review'), ('verified', 'Verified'), ('rejected', 'Rejected')], default='unverified', max_length=16),
        ),
        migrations.AddField(
            model_name='historicalplayerrestriction',
            name='loss_month',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True),
        ),
        migrations.AddField(
            model_name='historicalplayerrestriction',
            name='loss_week',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True),
        ),
        migrations.AddField(
            model_name='historicalplayerrestriction',
            name='reality_check_minutes',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='historicalplayerrestriction',
            name='session_minutes',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='historicalplayerrestriction',
            name='timed_out_until',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='playerrestriction',
            name='deposit_month',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True),
        ),
        migrations.AddField(
            model_name='playerrestriction',
            name='deposit_week',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True),
        ),
        migrations.AddField(
            model_name='playerrestriction',
            name='kyc_reason',
            field=models.CharField(blank=True, default='', max_length=200),
        ),
        migrations.AddField(
            model_name='playerrestriction',
            name='kyc_status',
            field=models.CharField(choices=[('unverified', 'Unverified'), ('pending', 'Pending review'), ('verified', 'Verified'), ('rejected', 'Rejected')], default='unverified', max_length=16),
        ),
        migrations.AddField(
            model_name='playerrestriction',
            name='loss_month',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True),
        ),
        migrations.AddField(
            model_name='playerrestriction',
            name='loss_week',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True),
        ),
        migrations.AddField(
            model_name='playerrestriction',
            name='reality_check_minutes',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='playerrestriction',
            name='session_minutes',
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='playerrestriction',
            name='timed_out_until',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name='playerrestriction',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('max_stake__gt', 0), ('max_stake__isnull', True), _connector='OR'), models.Q(('deposit_day__gt', 0), ('deposit_day__isnull', True), _connector='OR'), models.Q(('deposit_week__gt', 0), ('deposit_week__isnull', True), _connector='OR'), models.Q(('deposit_month__gt', 0), ('deposit_month__isnull', True), _connector='OR'), models.Q(('loss_day__gt', 0), ('loss_day__isnull', True), _connector='OR'), models.Q(('loss_week__gt', 0), ('loss_week__isnull', True), _connector='OR'), models.Q(('loss_month__gt', 0), ('loss_month__isnull', True), _connector='OR')), name='restriction_limits_positive'),
        ),
        migrations.AddConstraint(
            model_name='playerrestriction',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('session_minutes__range', (1, 1440)), ('session_minutes__isnull', True), _connector='OR'), models.Q(('reality_check_minutes__range', (1, 1440)), ('reality_check_minutes__isnull', True), _connector='OR')), name='restriction_minutes_in_a_day'),
        ),
        migrations.AddField(
            model_name='amlalert',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='aml_alerts', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='kycdocument',
            name='player',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='kyc_documents', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='kycdocument',
            name='reviewed_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='limitchange',
            name='player',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='limit_changes', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='amlalert',
            index=models.Index(fields=['status', 'created_at'], name='amlalert_queue_idx'),
        ),
        migrations.AddConstraint(
            model_name='amlalert',
            constraint=models.UniqueConstraint(fields=('rule', 'reference'), name='amlalert_once_per_reference'),
        ),
        migrations.AddConstraint(
            model_name='amlalert',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'closed'), _negated=True), models.Q(('closed_reason', ''), _negated=True), _connector='OR'), name='amlalert_closed_with_reason'),
        ),
        migrations.AddIndex(
            model_name='kycdocument',
            index=models.Index(fields=['status', 'submitted_at'], name='kycdocument_queue_idx'),
        ),
        migrations.AddConstraint(
            model_name='kycdocument',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('player',), name='kycdocument_one_pending'),
        ),
        migrations.AddIndex(
            model_name='limitchange',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['effective_at'], name='limitchange_due_idx'),
        ),
        migrations.AddConstraint(
            model_name='limitchange',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('player', 'limit'), name='limitchange_one_pending'),
        ),
        migrations.RunPython(kyc_verified_carried, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='historicalplayerrestriction',
            name='kyc_verified',
        ),
        migrations.RemoveField(
            model_name='playerrestriction',
            name='kyc_verified',
        ),
        migrations.RunSQL(risk_functions(), migrations.RunSQL.noop),
    ]
