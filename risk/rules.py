"""The rules: each takes facts (passed in by its caller) and returns the violations it finds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from audit.context import role_of
from core.db import first_row
from ledger.money import largest_stake_within
from risk.limits import Limits, restriction_of
from risk.models import Geofence, PlayerRestriction


@dataclass(frozen=True)
class Violation:
    error: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, **({"details": self.details}
                                                                  if self.details else {})}


def slip_violations(*, limits: Limits, stake: Decimal, prices: list[Decimal], total_odds: Decimal,
                    potential_return: Decimal) -> list[Violation]:
    found = []
    if len(prices) > limits.max_selections:
        found.append(Violation("too_many_selections",
                               f"A bet can have at most {limits.max_selections} selections.",
                               {"selections": len(prices), "max_selections": limits.max_selections}))
    for position, price in enumerate(prices):
        if price < limits.min_price:
            found.append(Violation("odds_below_min", f"Prices below {limits.min_price} cannot be bet.",
                                   {"selection": position, "price": str(price),
                                    "min_price": str(limits.min_price)}))
        if price > limits.max_price:
            found.append(Violation("odds_above_max", f"Prices above {limits.max_price} cannot be bet.",
                                   {"selection": position, "price": str(price),
                                    "max_price": str(limits.max_price)}))
    if len(prices) > 1 and total_odds > limits.max_combined_odds:
        found.append(Violation("combined_odds_above_max",
                               f"Combined odds may be at most {limits.max_combined_odds}.",
                               {"total_odds": f"{total_odds:f}",
                                "max_combined_odds": str(limits.max_combined_odds)}))
    if stake < limits.min_stake:
        found.append(Violation("stake_below_min", f"The minimum stake is {limits.min_stake}.",
                               {"min_stake": str(limits.min_stake)}))
    if stake > limits.max_stake:
        found.append(Violation("stake_above_max", f"The maximum stake is {limits.max_stake}.",
                               {"max_stake": str(limits.max_stake)}))
    if potential_return > limits.max_winning:
        found.append(Violation(
            "max_winning_exceeded",
            f"This bet could return {potential_return}, over the {limits.max_winning} maximum; "
            f"stake at most {largest_stake_within(limits.max_winning, total_odds)}.",
            {"potential_return": str(potential_return), "max_winning": str(limits.max_winning),
             "max_allowed_stake": str(largest_stake_within(limits.max_winning, total_odds))}))
    return found


def max_allowed_stake(*, limits: Limits, total_odds: Decimal,
                      exposure_headroom: Decimal | None = None) -> Decimal:
    """The largest stake that passes every stake-bound limit (max stake, max winning, exposure)."""
    allowed = min(limits.max_stake, largest_stake_within(limits.max_winning, total_odds))
    if exposure_headroom is not None:
        allowed = min(allowed, largest_stake_within(exposure_headroom, total_odds))
    return allowed


def velocity_violations(*, limits: Limits, recent_bets: int, recent_stake: Decimal,
                        stake: Decimal) -> list[Violation]:
    """At most N bets and S staked per rolling window, this bet included."""
    window = limits.velocity_window_seconds
    if recent_bets + 1 > limits.velocity_max_bets:
        return [Violation("velocity_limit",
                          f"You can place at most {limits.velocity_max_bets} bets per {window} s; "
                          "wait a moment.",
                          {"max_bets": limits.velocity_max_bets, "window_seconds": window})]
    if recent_stake + stake > limits.velocity_max_stake:
        return [Violation("velocity_limit",
                          f"You can stake at most {limits.velocity_max_stake} per {window} s; "
                          "wait a moment or stake less.",
                          {"max_stake": str(limits.velocity_max_stake), "window_seconds": window,
                           "staked_in_window": str(recent_stake)})]
    return []


def player_gate(*, role: str, restriction: PlayerRestriction | None, country: str,
                now: datetime | None = None) -> list[Violation]:
    """Refusals that come before any bet or deposit: the account is not a player's (staff and agents
    neither deposit nor bet: separation of duties), self-exclusion and geofencing."""
    if role != "player":
        return [Violation("not_a_player", f"This is a {role} account; only player accounts deposit, bet or "
                          "take challenges. Use a player account for that.", {"role": role})]
    found = []
    now = now or timezone.now()
    if restriction and restriction.self_excluded_until and restriction.self_excluded_until > now:
        found.append(Violation("self_excluded",
                               "You have excluded yourself from betting until "
                               f"{restriction.self_excluded_until:%Y-%m-%d %H:%M} UTC.",
                               {"until": restriction.self_excluded_until.isoformat()}))
    geofence = first_row(Geofence, "id = 1")
    if geofence and geofence.enabled and country and country.upper() in geofence.blocked_countries:
        found.append(Violation("geo_blocked", "Odds Lab is not available in your country.",
                               {"country": country.upper()}))
    return found


def loss_limit_violations(*, restriction: PlayerRestriction | None, lost_today: Decimal,
                          stake: Decimal) -> list[Violation]:
    """The player's own daily loss limit: today's net loss plus this stake may not pass it."""
    limit = restriction.daily_loss_limit if restriction else None
    if limit is not None and lost_today + stake > limit:
        return [Violation("loss_limit",
                          f"This stake would take today's losses past your limit of {limit}.",
                          {"daily_loss_limit": str(limit), "lost_today": str(lost_today),
                           "max_allowed_stake": str(max(limit - lost_today, Decimal("0.00")))})]
    return []


def deposit_violations(*, player: Any, amount: Decimal, country: str, deposited_today: Decimal,
                       deposited_ever: Decimal, kyc_threshold: Decimal) -> list[Violation]:
    restriction = restriction_of(player)
    found = player_gate(role=role_of(player), restriction=restriction, country=country)
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
