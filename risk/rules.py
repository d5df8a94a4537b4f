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
from risk.limits import restriction_of
from risk.sql import PLAYER_GATE


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
    "loss_limit": lambda d: f"This stake would take today's losses past your limit of {d['daily_loss_limit']}.",
    "insufficient_funds": lambda d: "Your balance is too low for this stake.",
}


def violation(code: str, details: dict[str, Any]) -> Violation:
    return Violation(code, SENTENCES[code](details), details)


def player_gate(*, player_id: int, role: str, country: str, now: datetime | None = None) -> list[Violation]:
    """Refusals that come before any bet or deposit: the account is not a player's (staff and agents
    neither deposit nor bet: separation of duties), self-exclusion and geofencing. The rule is
    written once, in risk/sql.py, where the one-call services run it too."""
    with connection.cursor() as cursor:
        cursor.execute(_GATE, [player_id, role, country, now or timezone.now()])
        found = json.loads(cursor.fetchone()[0])  # Django's connection leaves jsonb as text
    return [violation(code, details) for code, details in found]


_GATE = f"SELECT {PLAYER_GATE}(%s, %s, %s, %s)"


def deposit_violations(*, player: Any, amount: Decimal, country: str, deposited_today: Decimal,
                       deposited_ever: Decimal, kyc_threshold: Decimal) -> list[Violation]:
    restriction = restriction_of(player)
    found = player_gate(player_id=player.pk, role=role_of(player), country=country)
    limit = restriction.daily_deposit_limit if restriction else None
    if limit is not None and deposited_today + amount > limit:
        found.append(Violation("deposit_limit",
                               f"This deposit would pass your daily deposit limit of {limit}.",
                               {"daily_deposit_limit": str(limit), "deposited_today": str(deposited_today),
                                "max_allowed_amount": str(max(limit - deposited_today, Decimal("0.00")))}))
    verified = bool(restriction and restriction.kyc_verified)
    if not verified and deposited_ever + amount > kyc_threshold:
        found.append(Violation("kyc_required",
                               f"Verify your identity to deposit more than {kyc_threshold} in total.",
                               {"threshold": str(kyc_threshold), "deposited_ever": str(deposited_ever)}))
    return found
