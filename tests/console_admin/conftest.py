"""The console is the Django admin: these tests drive it with Django's test client, as staff would."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditLog
from events.models import Market, OddsTick, Outcome
from tests.conftest import ledger_snapshot


@pytest.fixture
def console(make_user):
    """``console(role)`` → a Client logged into the admin as a fresh user holding that role."""

    def login(role: str) -> Client:
        client = Client()
        client.force_login(make_user(role))
        return client

    return login


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def state_snapshot() -> dict[str, Any]:
    """Everything a refused console action must leave exactly as it was."""
    from betting.models import Bet

    return {
        **ledger_snapshot(),
        "markets": list(Market.objects.order_by("pk").values_list("pk", "status", "status_reason")),
        "outcomes": list(Outcome.objects.order_by("pk").values_list("pk", "price", "pinned", "status")),
        "ticks": OddsTick.objects.count(),
        "bets": list(Bet.objects.order_by("pk").values_list("pk", "status", "result", "payout")),
        # A refusal writes its own audit record (refused_with checks it); nothing else may be recorded.
        "audit": AuditLog.objects.exclude(outcome=AuditLog.Outcome.REFUSED).count(),
    }


def refused_with(response, code: str) -> bool:
    """The console showed ``code: message`` and wrote the refusal's audit record, with its staff actor."""
    shown = any(m.startswith(f"{code}:") for m in messages_of(response))
    record = AuditLog.objects.filter(outcome=AuditLog.Outcome.REFUSED).order_by("-id").first()
    return shown and record is not None and record.details.get("error") == code and record.actor_id is not None
