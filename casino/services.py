"""The casino's only writer (DESIGN.md "Layout"): seed pairs and rounds, each change one transaction.

Lock order, everywhere: the player's wallet (wallet.services.wallet_lock), then the player's
unrevealed seed pair. The wallet lock serialises everything one player does at the casino, so a
round, a client-seed change and a rotation never interleave, and a nonce is used once.

A round (``casino_round_play``) is refused, writing nothing but the refusal's audit row
(audit.services.audited_transaction), for: bad input (400: ``invalid_game``, ``invalid_amount``,
``invalid_target``, ``invalid_direction``, ``invalid_bets``, ``invalid_bet_type``,
``invalid_bet_value``, ``invalid_idempotency_key``), the player gate (403 ``not_a_player``,
``self_excluded``, ``geo_blocked``: risk.rules.player_gate), the casino's limits (422
``stake_below_min``, ``stake_above_max``, ``max_payout_exceeded``), the player's own limits (422
``stake_above_max`` past their own max stake, ``loss_limit``; 403 ``session_limit``:
risk.rules.own_limit_violations), the balance (422 ``insufficient_funds``), a reused key (409
``idempotency_conflict``).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.context import Actor, role_of
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction
from casino import fairness
from casino.fairness import RouletteBet
from casino.models import Round, SeedPair
from casino.sql import REFERENCE_TYPE
from core.db import retried_on_conflict
from core.decimals import exact_decimal, has_at_most
from core.errors import IdempotencyConflict, InsufficientFunds, InvalidInput, refusal
from core.hygiene import clean_text
from ledger.models import Account, Transfer
from ledger.services import TransferSpec, house_account, money_validate, transfers_create
from risk.limits import restriction_of
from risk.rules import SENTENCES, Violation, own_limit_violations, player_gate, player_only
from wallet.services import wallet_lock

CLIENT_SEED_MAX = 64
_CLIENT_SEED = re.compile(rf"[\x20-\x7e]{{1,{CLIENT_SEED_MAX}}}")
ROULETTE_MAX_BETS = 20
_SMALL_INT = re.compile(r"[0-9]{1,2}", re.ASCII)
ZERO = Decimal("0.00")


def casino_limits() -> dict[str, Decimal]:
    return {"min_stake": Decimal(settings.CASINO_MIN_STAKE), "max_stake": Decimal(settings.CASINO_MAX_STAKE),
            "max_payout": Decimal(settings.CASINO_MAX_PAYOUT)}


# --- seed pairs -----------------------------------------------------------------------------------

def client_seed_validate(value: Any) -> str:
    """1 to 64 printable ASCII characters (the HMAC message is its ASCII bytes), or 400 ``invalid_client_seed``."""
    if not isinstance(value, str) or not _CLIENT_SEED.fullmatch(value):
        raise InvalidInput(f"The client seed is 1 to {CLIENT_SEED_MAX} printable ASCII characters "
                           "(letters, digits, punctuation, spaces).", code="invalid_client_seed",
                           details={"field": "client_seed", "max_length": CLIENT_SEED_MAX})
    return value


def _seed_pair_new(*, player: Any, client_seed: str | None = None) -> SeedPair:
    server_seed = secrets.token_hex(32)
    return SeedPair.objects.create(player=player, server_seed=server_seed,
                                   server_seed_hash=fairness.server_seed_hash(server_seed),
                                   client_seed=client_seed or secrets.token_hex(16))


def _seed_pair_locked(*, player: Any) -> SeedPair:
    """The player's unrevealed pair, row-locked (created on first use); the caller holds the wallet's lock."""
    pair = SeedPair.objects.select_for_update().filter(player=player, revealed_at__isnull=True).first()
    return pair or _seed_pair_new(player=player)


def casino_seed_get(*, player: Any) -> SeedPair:
    """The player's current (unrevealed) seed pair; the first one is created here. Players only (403
    ``not_a_player``): staff and agents do not play."""
    player_only(player)
    pair = SeedPair.objects.filter(player=player, revealed_at__isnull=True).first()
    if pair is not None:
        return pair
    with transaction.atomic():
        wallet_lock(user=player)
        return _seed_pair_locked(player=player)


def casino_client_seed_set(*, player: Any, client_seed: Any, actor: Actor) -> SeedPair:
    """Set the client seed of the player's current pair: the next rounds are drawn with it (each round
    keeps the client seed it was drawn with, so rounds before the change still verify)."""
    with audited_transaction(actor=actor, action="casino.client_seed_set", category=AuditLog.Category.BETTING,
                             resource_type="casino_seed", resource_id=player.pk,
                             details={"client_seed": _recorded(client_seed)}):
        player_only(player)
        seed = client_seed_validate(client_seed)
        wallet_lock(user=player)
        pair = _seed_pair_locked(player=player)
        before = pair.client_seed
        pair.client_seed = seed
        pair.save(update_fields=["client_seed"])
        audit_record(actor=actor, action="casino.client_seed_set", category=AuditLog.Category.BETTING,
                     resource_type="casino_seed", resource_id=pair.pk, resource_label=player.get_username(),
                     details={"client_seed": seed, "before": before, "next_nonce": pair.next_nonce})
        return pair


@dataclass(frozen=True)
class SeedRotation:
    previous: SeedPair  # revealed now: its server seed may be shown
    current: SeedPair


def casino_seed_rotate(*, player: Any, actor: Actor, now: datetime | None = None) -> SeedRotation:
    """Reveal the current pair's server seed and start a new pair (a new server seed, nonce 0, the same
    client seed). Every round of the revealed pair can then be verified."""
    with audited_transaction(actor=actor, action="casino.seed_rotate", category=AuditLog.Category.BETTING,
                             resource_type="casino_seed", resource_id=player.pk):
        player_only(player)
        wallet_lock(user=player)
        previous = _seed_pair_locked(player=player)
        previous.revealed_at = now or timezone.now()
        previous.save(update_fields=["revealed_at"])
        current = _seed_pair_new(player=player, client_seed=previous.client_seed)
        audit_record(actor=actor, action="casino.seed_rotate", category=AuditLog.Category.BETTING,
                     resource_type="casino_seed", resource_id=previous.pk, resource_label=player.get_username(),
                     details={"revealed": previous.pk, "server_seed": previous.server_seed,
                              "server_seed_hash": previous.server_seed_hash, "rounds": previous.next_nonce,
                              "current": current.pk, "current_server_seed_hash": current.server_seed_hash})
        return SeedRotation(previous=previous, current=current)


# --- what a round asks for ------------------------------------------------------------------------

@dataclass(frozen=True)
class RoundSpec:
    """A round's request, validated: what is staked on what, and the most it can pay back."""

    game: str
    stake: Decimal  # the total
    target: Decimal | None = None
    direction: str = ""
    multiplier: Decimal | None = None  # dice
    bets: tuple[RouletteBet, ...] = ()

    @property
    def max_payout(self) -> Decimal:
        if self.game == Round.Game.DICE:
            return fairness.money_down(self.stake * self.multiplier)
        return fairness.roulette_max_payout(list(self.bets))

    def fingerprint(self) -> dict[str, Any]:
        """The request as compared for an Idempotency-Key's replay."""
        return {"game": self.game, "stake": str(self.stake),
                "target": None if self.target is None else str(self.target), "direction": self.direction,
                "bets": [[b.type, b.value, str(b.stake)] for b in self.bets]}


def round_spec(*, game: Any, stake: Any = None, target: Any = None, direction: Any = None,
               bets: Any = None) -> RoundSpec:
    """The request checked, or a 400 with the field's code (pure: no database)."""
    if game not in Round.Game.values:
        raise InvalidInput(f"game must be one of: {', '.join(Round.Game.values)}.", code="invalid_game",
                           details={"field": "game", "allowed": Round.Game.values})
    if game == Round.Game.DICE:
        return _dice_spec(stake=stake, target=target, direction=direction)
    return _roulette_spec(bets)


def _dice_spec(*, stake: Any, target: Any, direction: Any) -> RoundSpec:
    value = money_validate(stake, field="stake")
    if direction not in fairness.DICE_DIRECTIONS:
        raise InvalidInput('direction must be "under" or "over".', code="invalid_direction",
                           details={"field": "direction", "allowed": list(fairness.DICE_DIRECTIONS)})
    number = exact_decimal(target, code="invalid_target", field="target", example="49.50")
    if not (0 <= number <= fairness.ROLL_MAX and has_at_most(number, 2)):
        raise InvalidInput("The target is a number from 0.00 to 99.99 with at most two decimals.",
                           code="invalid_target", details={"field": "target"})
    number = number.quantize(fairness.CENT)
    chance = fairness.dice_win_chance(number, direction)
    if not fairness.MIN_WIN_CHANCE <= chance <= fairness.MAX_WIN_CHANCE:
        raise InvalidInput(f"Pick a target whose win chance is from {fairness.MIN_WIN_CHANCE}% to "
                           f"{fairness.MAX_WIN_CHANCE}%; {direction} {number} wins {chance}% of rolls.",
                           code="invalid_target",
                           details={"field": "target", "win_chance": str(chance),
                                    "min_win_chance": str(fairness.MIN_WIN_CHANCE),
                                    "max_win_chance": str(fairness.MAX_WIN_CHANCE)})
    return RoundSpec(game=Round.Game.DICE, stake=value, target=number, direction=direction,
                     multiplier=fairness.dice_multiplier(chance))


def _roulette_spec(bets: Any) -> RoundSpec:
    if not isinstance(bets, list) or not 1 <= len(bets) <= ROULETTE_MAX_BETS:
        raise InvalidInput(f"bets is a list of 1 to {ROULETTE_MAX_BETS} bets, each {{type, value, stake}}.",
                           code="invalid_bets", details={"field": "bets", "max_bets": ROULETTE_MAX_BETS})
    parsed = []
    for index, bet in enumerate(bets):
        field = f"bets[{index}]"
        if not isinstance(bet, dict):
            raise InvalidInput("Each bet is an object {type, value, stake}.", code="invalid_bets",
                               details={"field": field})
        kind = bet.get("type")
        if not isinstance(kind, str) or kind not in fairness.ROULETTE_MULTIPLIERS:
            raise InvalidInput(f"A bet's type is one of: {', '.join(fairness.ROULETTE_MULTIPLIERS)}.",
                               code="invalid_bet_type",
                               details={"field": f"{field}.type", "allowed": list(fairness.ROULETTE_MULTIPLIERS)})
        parsed.append(RouletteBet(type=kind, value=_bet_value(kind, bet.get("value"), f"{field}.value"),
                                  stake=money_validate(bet.get("stake"), field=f"{field}.stake")))
    return RoundSpec(game=Round.Game.ROULETTE, stake=sum((b.stake for b in parsed), ZERO), bets=tuple(parsed))


def _bet_value(kind: str, value: Any, field: str) -> int | None:
    """straight: the number 0-36; dozen, column: 1-3; the even chances take none (omitted or null).
    A JSON whole number or a string of ASCII digits."""
    bounds = fairness.ROULETTE_VALUES.get(kind)
    if bounds is None:
        if value is None:
            return None
        raise InvalidInput(f"A {kind} bet takes no value.", code="invalid_bet_value", details={"field": field})
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _SMALL_INT.fullmatch(value):
        number = int(value)
    if number is None or not bounds[0] <= number <= bounds[1]:
        raise InvalidInput(f"A {kind} bet's value is a whole number from {bounds[0]} to {bounds[1]}.",
                           code="invalid_bet_value", details={"field": field, "min": bounds[0], "max": bounds[1]})
    return number


# --- a round --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RoundPlayed:
    round: Round
    balance: Decimal
    replayed: bool = False


@retried_on_conflict
def casino_round_play(*, player: Any, game: Any, actor: Actor, stake: Any = None, target: Any = None,
                      direction: Any = None, bets: Any = None, idempotency_key: str | None = None,
                      now: datetime | None = None) -> RoundPlayed:
    """Play one round in one transaction: the stake leaves the wallet for the casino's house account,
    the outcome is drawn from the player's seed pair and its next nonce, the payout (stake x multiplier,
    rounded down to the cent) comes back when there is one, one audit row and the Round. Refusals: see
    the module's docstring; they change nothing."""
    request = {"game": _recorded(game), "stake": _recorded(stake), "target": _recorded(target),
               "direction": _recorded(direction), **({"bets": _recorded(bets)} if bets is not None else {})}
    with audited_transaction(actor=actor, action="casino.round_play", category=AuditLog.Category.BETTING,
                             resource_type="casino_round", resource_id="", details={"request": request}):
        spec = round_spec(game=game, stake=stake, target=target, direction=direction, bets=bets)
        _refuse(player_gate(player_id=player.pk, role=role_of(player),
                            country=actor.country or getattr(player, "country", ""), now=now))
        wallet = wallet_lock(user=player)
        if idempotency_key:
            earlier = Round.objects.filter(player=player, idempotency_key=idempotency_key).first()
            if earlier is not None:
                return _replay(earlier, spec=spec, balance=wallet.balance)
        _limits_check(player=player, spec=spec)
        _refuse(own_limit_violations(player_id=player.pk, wallet_id=wallet.pk, amount=spec.stake, deposit=False,
                                     session_started=actor.session_started, now=now))
        if wallet.balance < spec.stake:
            raise InsufficientFunds(SENTENCES["insufficient_funds"]({}), details={
                "balance": str(wallet.balance), "amount": str(spec.stake),
                "shortfall": str(spec.stake - wallet.balance)})
        pair = _seed_pair_locked(player=player)
        played = _draw(spec, pair, player=player, idempotency_key=idempotency_key)
        pair.next_nonce = played.nonce + 1
        pair.save(update_fields=["next_nonce"])
        house = house_account(Account.House.CASINO)
        moves = [TransferSpec(debit=wallet, credit=house, amount=played.stake, kind=Transfer.Kind.CASINO_STAKE,
                              reference_type=REFERENCE_TYPE, reference_id=played.pk, created_by=actor.user)]
        if played.payout > 0:
            moves.append(TransferSpec(debit=house, credit=wallet, amount=played.payout,
                                      kind=Transfer.Kind.CASINO_PAYOUT, reference_type=REFERENCE_TYPE,
                                      reference_id=played.pk, created_by=actor.user))
        rows = transfers_create(moves)
        audit_record(
            actor=actor, action="casino.round_play", category=AuditLog.Category.BETTING,
            resource_type="casino_round", resource_id=played.pk, resource_label=player.get_username(),
            details={"game": played.game, "stake": str(played.stake), "payout": str(played.payout),
                     "won": played.won, "multiplier": str(played.multiplier),
                     "outcome": str(played.outcome), "seed_pair": pair.pk, "nonce": played.nonce,
                     "transfers": [row["entry_number"] for row in rows], "balance": str(wallet.balance)})
        played.seed_pair = pair
        return RoundPlayed(round=played, balance=wallet.balance)


def _draw(spec: RoundSpec, pair: SeedPair, *, player: Any, idempotency_key: str | None) -> Round:
    """The outcome of the pair's next nonce, written as the Round."""
    nonce = pair.next_nonce
    common = {"player": player, "seed_pair": pair, "nonce": nonce, "client_seed": pair.client_seed,
              "game": spec.game, "stake": spec.stake, "idempotency_key": idempotency_key}
    if spec.game == Round.Game.DICE:
        roll = fairness.dice_roll(pair.server_seed, pair.client_seed, nonce)
        won = fairness.dice_wins(roll, spec.target, spec.direction)
        return Round.objects.create(**common, roll=roll, target=spec.target, direction=spec.direction,
                                    multiplier=spec.multiplier, won=won,
                                    payout=fairness.dice_payout(spec.stake, spec.multiplier, won))
    number = fairness.roulette_number(pair.server_seed, pair.client_seed, nonce)
    lines = [{"type": b.type, "value": b.value, "stake": str(b.stake),
              "payout": str(fairness.roulette_bet_payout(b, number))} for b in spec.bets]
    payout = fairness.roulette_payout(list(spec.bets), number)
    return Round.objects.create(**common, number=number, bets=lines, payout=payout, won=payout > 0,
                                multiplier=(payout / spec.stake).quantize(fairness.FOUR_PLACES, rounding=ROUND_DOWN))


def _limits_check(*, player: Any, spec: RoundSpec) -> None:
    """The casino's stake bounds (each stake at least the minimum, the round's total at most the maximum
    and at most the player's own max stake), then the most the round could pay back."""
    limits = casino_limits()
    smallest = min((b.stake for b in spec.bets), default=spec.stake)
    if smallest < limits["min_stake"]:
        raise refusal("stake_below_min", f"The casino's minimum stake is {limits['min_stake']}.",
                      {"min_stake": str(limits["min_stake"]), "stake": str(smallest)})
    restriction = restriction_of(player)
    own = restriction.max_stake if restriction is not None else None
    maximum, whose = ((own, "player") if own is not None and own < limits["max_stake"]
                      else (limits["max_stake"], "casino"))
    if spec.stake > maximum:
        sentence = (f"Your own maximum stake is {maximum}." if whose == "player"
                    else f"The casino's maximum stake per round is {maximum}.")
        raise refusal("stake_above_max", sentence, {"max_stake": str(maximum), "limit": whose,
                                                     "stake": str(spec.stake)})
    potential = spec.max_payout
    if potential > limits["max_payout"]:
        details = {"max_payout": str(limits["max_payout"]), "potential_payout": str(potential)}
        sentence = f"This round could pay {potential}, over the casino's {limits['max_payout']} maximum per round"
        if spec.game == Round.Game.DICE:
            details["max_allowed_stake"] = str(fairness.money_down(limits["max_payout"] / spec.multiplier))
            sentence += f"; stake at most {details['max_allowed_stake']}"
        raise refusal("max_payout_exceeded", sentence + ".", details)


def _replay(earlier: Round, *, spec: RoundSpec, balance: Decimal) -> RoundPlayed:
    """The first round again for the same key and request; 409 for the same key and another request."""
    first = RoundSpec(game=earlier.game, stake=earlier.stake, target=earlier.target, direction=earlier.direction,
                      bets=tuple(fairness.roulette_bets_of(earlier.bets)))
    if first.fingerprint() != spec.fingerprint():
        raise IdempotencyConflict(details={"first_request": first.fingerprint()})
    earlier.seed_pair = SeedPair.objects.get(pk=earlier.seed_pair_id)
    return RoundPlayed(round=earlier, balance=balance, replayed=True)


def _recorded(value: Any, limit: int = 2000) -> str:
    """What the client sent, as text a refusal's audit row can store (no NUL, no lone surrogate)."""
    try:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
    except (ValueError, RecursionError):
        text = "(unreadable)"
    return clean_text(text, limit=limit)


def _refuse(found: list[Violation]) -> None:
    """Raise the first violation found, with all of them in its details."""
    if found:
        first = found[0]
        raise refusal(first.error, first.message,
                      {**first.details, "violations": [v.as_dict() for v in found]})
