"""The rules: each takes facts (passed in by its caller) and returns the violations it finds."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from audit.context import role_of
from core.errors import refusal
from risk.limits import restriction_of
from risk.models import KycStatus
from risk.sql import PLAYER_GATE, PLAYER_LIMITS_CHECK


@dataclass(frozen=True)
class Violation:
    error: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, **({"details": self.details}
                                                                  if self.details else {})}


def _max_winning(d: dict[str, Any]) -> str:
    return (f"This bet could return {d['potential_return']}, over the {d['max_winning']} maximum; "
            f"stake at most {d['max_allowed_stake']}.")


def _velocity(d: dict[str, Any]) -> str:
    if "max_bets" in d:
        return f"You can place at most {d['max_bets']} bets per {d['window_seconds']} s; wait a moment."
    return f"You can stake at most {d['max_stake']} per {d['window_seconds']} s; wait a moment or stake less."


PERIODS = {"day": "24 hours", "week": "7 days", "month": "30 days"}

# The sentence a player reads for each rule, from the violation's details. The rules of a slip run
# in the database (betting/sql/placement.py) and answer codes and details; these words go with them.
SENTENCES: dict[str, Callable[[dict[str, Any]], str]] = {
    "not_a_player": lambda d: f"This is a {d['role']} account; only player accounts deposit, bet or take "
                              "challenges. Use a player account for that.",
    "self_excluded": lambda d: "You have excluded yourself from betting until "
                               f"{datetime.fromisoformat(d['until']):%Y-%m-%d %H:%M} UTC.",
    "geo_blocked": lambda d: "Odds Lab is not available in your country.",
    "too_many_selections": lambda d: f"A bet can have at most {d['max_selections']} selections.",
    "odds_below_min": lambda d: f"Prices below {d['min_price']} cannot be bet.",
    "odds_above_max": lambda d: f"Prices above {d['max_price']} cannot be bet.",
    "combined_odds_above_max": lambda d: f"Combined odds may be at most {d['max_combined_odds']}.",
    "stake_below_min": lambda d: f"The minimum stake is {d['min_stake']}.",
    "stake_above_max": lambda d: f"The maximum stake is {d['max_stake']}.",
    "max_winning_exceeded": _max_winning,
    "exposure_limit": lambda d: "We cannot take this much on this selection right now; stake less.",
    "velocity_limit": _velocity,
    "loss_limit": lambda d: (f"This stake would take your losses of the last {PERIODS[d['period']]} past your "
                             f"limit of {d['limit']}; you can stake {d['remaining']} more."),
    "deposit_limit": lambda d: (f"This deposit would take your deposits of the last {PERIODS[d['period']]} past "
                                f"your limit of {d['limit']}; you can deposit {d['remaining']} more."),
    "session_limit": lambda d: (f"You have played the {d['session_minutes']} minutes you allowed yourself this "
                                "session; log out and take a break."),
    "insufficient_funds": lambda d: "Your balance is too low for this stake.",
}


def violation(code: str, details: dict[str, Any]) -> Violation:
    return Violation(code, SENTENCES[code](details), details)


def player_only(user: Any) -> None:
    """Staff and agents neither bet nor deposit (separation of duties): a player's own limits, breaks
    and identity check are players' alone."""
    role = role_of(user)
    if role != "player":
        raise refusal("not_a_player", SENTENCES["not_a_player"]({"role": role}), {"role": role})


def player_gate(*, player_id: int, role: str, country: str, now: datetime | None = None) -> list[Violation]:
    """Refusals that come before any bet or deposit: the account is not a player's (staff and agents
    neither deposit nor bet: separation of duties), self-exclusion and geofencing. The rule is
    written once, in risk/sql.py, where the one-call services run it too."""
    with connection.cursor() as cursor:
        cursor.execute(_GATE, [player_id, role, country, now or timezone.now()])
        found = json.loads(cursor.fetchone()[0])  # Django's connection leaves jsonb as text
    return [violation(code, details) for code, details in found]


_GATE = f"SELECT {PLAYER_GATE}(%s, %s, %s, %s)"


def own_limit_violations(*, player_id: int, wallet_id: int | None, amount: Decimal, deposit: bool,
                         session_started: datetime | None = None, now: datetime | None = None) -> list[Violation]:
    """The player's own limits on a deposit or a stake of ``amount`` (risk/sql.py, where placement and
    challenges run them too): the session's time, and the deposits or losses of each rolling period.
    Run under the wallet's lock, so two at once cannot both pass on the same room."""
    with connection.cursor() as cursor:
        cursor.execute(_OWN, [player_id, wallet_id, deposit, amount, now or timezone.now(), session_started])
        found = json.loads(cursor.fetchone()[0])
    return [violation(code, details) for code, details in found]


_OWN = f"SELECT {PLAYER_LIMITS_CHECK}(%s, %s, %s, %s, %s, %s)"


def deposit_violations(*, player: Any, amount: Decimal, country: str, deposited_ever: Decimal,
                       kyc_threshold: Decimal, wallet_id: int | None = None) -> list[Violation]:
    """Everything money coming in is refused for: the gate (role, self-exclusion or time-out,
    geofence), the identity check past ``kyc_threshold`` in all and, for a deposit to the platform
    wallet (``wallet_id``), the player's deposit limits. A top-up of the player's own external wallet
    is not a deposit to the operator: the limits count the wallet's deposits alone."""
    found = player_gate(player_id=player.pk, role=role_of(player), country=country)
    if wallet_id is not None:
        found += own_limit_violations(player_id=player.pk, wallet_id=wallet_id, amount=amount, deposit=True)
    restriction = restriction_of(player)
    verified = bool(restriction and restriction.kyc_status == KycStatus.VERIFIED)
    if not verified and deposited_ever + amount > kyc_threshold:
        found.append(Violation("kyc_required",
                               f"Verify your identity to deposit more than {kyc_threshold} in total.",
                               {"threshold": str(kyc_threshold), "deposited_ever": str(deposited_ever)}))
    return found


def withdrawal_violations(*, player: Any, amount: Decimal, withdrawn_ever: Decimal,
                          kyc_threshold: Decimal) -> list[Violation]:
    """What a withdrawal is refused for: past ``kyc_threshold`` withdrawn in all, the player's identity
    must be verified. Nothing else: self-excluded or timed-out players still withdraw."""
    if withdrawn_ever + amount <= kyc_threshold:
        return []
    restriction = restriction_of(player)
    if restriction and restriction.kyc_status == KycStatus.VERIFIED:
        return []
    return [Violation("kyc_required",
                      f"Verify your identity to withdraw more than {kyc_threshold} in total: send an identity "
                      "document from your account's identity page.",
                      {"threshold": str(kyc_threshold), "withdrawn_ever": str(withdrawn_ever)})]
