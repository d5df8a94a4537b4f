"""The periodic reconciliation runs in a real Celery worker process and raises the alarm on drift."""

import time

import pytest
from django.conf import settings
from django.db import connection

from audit.models import AuditLog, Notification
from ledger.tasks import ledger_reconcile_task


def test_beat_schedules_the_checkpoint_and_the_reconciliation():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"ledger.tasks.ledger_reconcile_task", "ledger.tasks.ledger_checkpoint_task"} <= tasks


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_reconciliation_alarms_on_drift(celery_worker_process, make_user):
    # given a wallet whose stored balance was tampered with
    player = make_user(balance="100.00")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET balance = 0 WHERE owner_id = %s", [player.pk])
    # when the worker runs the periodic task
    ledger_reconcile_task.delay()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not AuditLog.objects.filter(
            action="ledger.drift_detected").exists():
        time.sleep(0.2)
    # then it wrote a critical audit record and a staff notification
    alarm = AuditLog.objects.get(action="ledger.drift_detected")
    assert alarm.severity == "critical" and alarm.actor_label == "system:ledger_reconcile"
    assert Notification.objects.get(kind="ledger_drift").audience == "staff"
