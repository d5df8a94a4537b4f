"""Run in a child process (spawned) by tests/test_sockets.py: one event's messages, as fast as it can."""

import os
import time


def send_event_messages(event_id: int, count: int, batch_ms: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oddslab.settings")
    django.setup()
    from django.conf import settings

    from core import live

    settings.LIVE_BATCH_MS = batch_ms
    for i in range(count):
        live._send_event_message(event_id, {"type": "market", "market_id": i, "status": "open"})
    time.sleep(5 * batch_ms / 1000)  # the batch windows' timers send what they gathered
