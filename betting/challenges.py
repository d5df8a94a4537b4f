"""Peer-to-peer challenges: create, accept, cancel, expire, and what a gateway's confirmation does
(API.md "Peer-to-peer challenges").

escrow_pending → open → matching → matched (→ settled: betting/challenge settlement), or failed,
cancelled, expired, void. Each party's stake goes through the gateway it chose (wallet/gateways.py):
the internal one confirms in the same transaction, the external one later, in
``challenge_transfer_decided``. Every change locks the challenge row first, so of many acceptors
exactly one wins, and writes its audit row and the parties' ``challenge`` socket message on commit.
Creating and accepting are one call to the database each (betting/sql/challenges.py): the rules, the locks,
the challenge and, on the internal gateway, the stake and the audit row, written there.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.context import Actor, role_of
from audit.models import AuditLog
from audit.services import audit_record, audited_transaction
from betting.challenge_money import refund_movements
from betting.challenge_settlement import challenge_movement_retry, pot_top_up_decided
from betting.escrow_audit import escrow_balanced
from betting.models import Challenge
from betting.news import challenge_message, challenges_board_news
from betting.slips import SENTENCES as slip_sentences
from betting.sql.challenges import CHALLENGE_OFFER, CHALLENGE_TAKE
from core.db import from_json, retried_on_conflict
from core.decimals import exact_decimal
from core.errors import Conflict, DomainError, IdempotencyConflict, InvalidInput, NotFound, refusal
from core.query import BIGINT_MAX
from events.models import Event, Market, Outcome, Player
from ledger.services import money_validate
from wallet.gateways import Movement, wallet_gateway
from wallet.models import Gateway, GatewayTransfer

LINE_MAX = Decimal("1000")
CREATOR, ACCEPTOR = "creator", "acceptor"
STAFF_VIEW = "betting.view_bet"  # staff who see every bet see every challenge


def challenge_news(challenge: Challenge, *, balance: Decimal | None = None, user_id: int | None = None) -> None:
    """``{"type": "challenge", ...}`` to each party's /ws/v1/me, after commit (and, when it opened or
    closed, the public message of /ws/v1/challenges); with ``balance``, the new balance of the wallet
    of ``user_id`` whose stake it took, in the same publish."""
    message = challenge_message(challenge)
    users = [(party, message) for party in (challenge.creator_id, challenge.acceptor_id) if party]
    if balance is not None:
        users.append((user_id, {"type": "wallet", "balance": str(balance)}))
    challenges_board_news([challenge], users=users)


def _audit(challenge: Challenge, *, actor: Actor, action: str, before: str | None, **details: Any) -> None:
    """The audit row of a change made here; the internal stakes' rows are written with them in the
    database (betting/sql/challenges.py, with these same details)."""
    audit_record(actor=actor, action=action, category=AuditLog.Category.BETTING, resource_type="challenge",
                 resource_id=challenge.pk, resource_label=f"CH-{challenge.pk}",
                 details={"before": before, "after": challenge.status, "stake": str(challenge.stake), **details})


def _stake_in(challenge: Challenge, *, user_id: int, key: str, actor: Actor, action: str, before: str | None) -> None:
    """The party's stake into the external gateway's escrow under ``key`` (the database decided the
    challenge's side of it: ``betting_challenge_offer`` / ``_take``), and the change's audit row. It
    is appended to ``challenge.transfer_list``, which holds every transfer that key could already
    have: the gateway need not look it up."""
    moved = wallet_gateway(Gateway.EXTERNAL).transfer([Movement(
        user_id=user_id, direction=GatewayTransfer.Direction.IN, amount=challenge.stake, purpose="stake",
        reference_type="challenge", reference_id=challenge.pk, idempotency_key=key)],
        actor=actor, made=challenge.transfer_list)[0]
    challenge.transfer_list.append(moved)
    _audit(challenge, actor=actor, action=action, before=before, funding=Gateway.EXTERNAL, tx_id=moved.tx_id)


def _event_started(event: Event, now=None) -> bool:
    return event.status != Event.Status.SCHEDULED or event.start_time <= (now or timezone.now())


# --- create and accept: one call to the database each ----------------------------------------------

def _id(value: Any, field: str, code: str = "invalid_request") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= BIGINT_MAX:
        raise InvalidInput(f"{field} must be a whole number id.", code=code, details={"field": field})
    return value


def _selection(outcome_id: Any, proposition: Any) -> dict[str, Any]:
    """The challenge's selection from the request, as far as it can be read without the database: an
    outcome id, or a proposition on a player id (points|rebounds|assists, a line in halves, over|under).
    That the outcome is the event's and open, or the player on its roster, the database checks."""
    if (outcome_id is None) == (proposition is None):
        raise InvalidInput("Give either an outcome_id or a proposition.", code="invalid_selection",
                           details={"field": "outcome_id"})
    if outcome_id is not None:
        return {"outcome_id": _id(outcome_id, "outcome_id", "invalid_selection")}
    if not isinstance(proposition, dict):
        raise InvalidInput("A proposition is {player_id, stat, line, side}.", code="invalid_selection",
                           details={"field": "proposition"})
    player_id = _id(proposition.get("player_id"), "proposition.player_id", "invalid_selection")
    stat, side = proposition.get("stat"), proposition.get("side")
    if stat not in Challenge.Stat.values:
        raise InvalidInput('stat must be "points", "rebounds" or "assists".', code="invalid_selection",
                           details={"field": "proposition.stat"})
    if side not in Challenge.Side.values:
        raise InvalidInput('side must be "over" or "under".', code="invalid_selection",
                           details={"field": "proposition.side"})
    line = exact_decimal(proposition.get("line"), code="invalid_selection", field="proposition.line", example="24.5")
    if not (0 <= line < LINE_MAX) or (line * 2) != (line * 2).to_integral_value():
        raise InvalidInput(f"The line is a whole or half number from 0 to {LINE_MAX - Decimal('0.5')}, "
                           'e.g. "24.5".', code="invalid_selection", details={"field": "proposition.line"})
    return {"player_id": player_id, "stat": stat, "line": line.quantize(Decimal("0.1")), "side": side}


def _fingerprint(**body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


_OFFER = f"SELECT {CHALLENGE_OFFER}({', '.join(['%s'] * 17)}, %s::inet, %s, %s)"
_TAKE = f"SELECT {CHALLENGE_TAKE}({', '.join(['%s'] * 11)}, %s::inet, %s, %s)"
_NOT_THIS_EVENTS = {"outcome_id": "That outcome is not one of this event's.",
                    "proposition.player_id": "That player is not on this event's roster."}
_UNKNOWN = {"event_id": "There is no such event.", "challenge_id": "There is no such challenge."}
# The sentence of each refusal code the challenge functions answer, from its details.
SENTENCES = {
    **slip_sentences,
    "own_challenge": lambda d: "You cannot accept your own challenge.",
    "challenge_unavailable": lambda d: "This challenge is no longer open.",
}


def _answered(statement: str, params: list[Any], requested: int) -> dict[str, Any]:
    """The challenge function's answer, or the refusal it answered raised (the caller's transaction
    rolls back; nothing was written)."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        # Django's connection leaves jsonb as text; its numbers are money: exact decimals.
        answer = json.loads(cursor.fetchone()[0], parse_float=Decimal)
    if "missing" in answer:
        field = answer["missing"]
        raise NotFound(_UNKNOWN[field], details={field: requested})
    if "refused" in answer:
        code, details = answer["refused"]
        if code == "invalid_selection":
            raise InvalidInput(_NOT_THIS_EVENTS[details["field"]], code=code, details=details)
        if code == "event_started":
            raise refusal("market_unavailable", "This event has started; challenges close at the start.", details)
        raise refusal(code, SENTENCES[code](details), details)
    return answer


def _challenge_of(answer: dict[str, Any], *, was: str | None) -> Challenge:
    """The challenge as the function answered it, with its transfers and what it backs; ``was``: its
    status before (None for a new one), which decides what its watchers hear."""
    challenge = from_json(Challenge, answer["challenge"])
    challenge.status_known = was
    challenge.transfer_list = [from_json(GatewayTransfer, moved) for moved in answer["transfers"]]
    if answer["outcome"] is not None:
        challenge.outcome = from_json(Outcome, answer["outcome"])
        challenge.outcome.market = from_json(Market, answer["market"])
    else:
        challenge.player = from_json(Player, answer["player"])
    return challenge


@retried_on_conflict
def challenge_create(*, creator: Any, event_id: Any, outcome_id: Any = None, proposition: Any = None,
                     stake: Any, funding: Any, actor: Actor, idempotency_key: str | None = None) -> Challenge:
    """Offer a challenge in one call to the database (betting/sql/challenges.py ``betting_challenge_offer``):
    the player, the event, the selection and the limits checked, the stake into escrow through
    ``funding``'s gateway. Internal: held at once, ``open``. External: ``escrow_pending`` until the
    gateway confirms (``open``) or fails it (``failed``). The same Idempotency-Key and body answer
    with the first challenge."""
    with audited_transaction(actor=actor, action="challenge.create", category=AuditLog.Category.BETTING,
                             resource_type="challenge",
                             details={"event_id": event_id, "outcome_id": outcome_id, "proposition": proposition,
                                      "stake": str(stake), "funding": str(funding)}):
        gateway = wallet_gateway(funding)
        value = money_validate(stake, field="stake")
        event = _id(event_id, "event_id")
        selection = _selection(outcome_id, proposition)
        fingerprint = _fingerprint(event_id=event_id, outcome_id=outcome_id, proposition=proposition,
                                   stake=str(value), funding=funding)
        answer = _answered(_OFFER, [
            creator.pk, role_of(creator), actor.country or creator.country, event, selection.get("outcome_id"),
            selection.get("player_id"), selection.get("stat"), selection.get("line"), selection.get("side"), value,
            gateway.name, idempotency_key, fingerprint, timezone.now(), *actor.audit_columns(),
            actor.session_started], event)
        if "replay" in answer or "conflict" in answer:
            if "conflict" in answer:
                raise IdempotencyConflict(details={"challenge_id": answer["conflict"]})
            return Challenge.objects.get(pk=answer["replay"])
        challenge = _challenge_of(answer, was=None)
        if not gateway.confirms_at_once:
            _stake_in(challenge, user_id=creator.pk, key=answer["stake_key"], actor=actor, action="challenge.create",
                      before=None)
        challenge_news(challenge, balance=_balance(answer), user_id=creator.pk)
    return challenge


def _balance(answer: dict[str, Any]) -> Decimal | None:
    return None if answer["balance"] is None else Decimal(answer["balance"])


@retried_on_conflict
def challenge_accept(*, challenge_id: Any, acceptor: Any, funding: Any, actor: Actor,
                     idempotency_key: str | None = None) -> Challenge:
    """Take the other side with an equal stake, in one call to the database (betting/sql/challenges.py
    ``betting_challenge_take``). The challenge row is locked first, so of many acceptors at once
    exactly one wins; the others get 409 ``challenge_unavailable``. Internal: ``matched`` at once;
    external: ``matching`` until the stake confirms (``matched``) or fails (``open`` again). With an
    Idempotency-Key, the winner asking again with the same body gets the challenge back (another body:
    409 ``idempotency_conflict``). An open challenge whose event has started is expired (and refunded)
    in a transaction of its own, so the refusal that follows does not undo it."""
    challenge_id = _id(challenge_id, "challenge_id")
    try:
        return _accept(challenge_id, acceptor=acceptor, funding=funding, actor=actor, idempotency_key=idempotency_key)
    except _StartedWhileOpen:
        _expire_one(challenge_id, now=timezone.now(), balanced=escrow_balanced())
        return _accept(challenge_id, acceptor=acceptor, funding=funding, actor=actor, idempotency_key=idempotency_key)


class _StartedWhileOpen(Exception):
    """Not a refusal: the accept's transaction is rolled back unaudited, the challenge expired, and
    the accept run again (refused then, as no longer open)."""


def _accept(challenge_id: int, *, acceptor: Any, funding: Any, actor: Actor, idempotency_key: str | None) -> Challenge:
    with audited_transaction(actor=actor, action="challenge.accept", category=AuditLog.Category.BETTING,
                             resource_type="challenge", resource_id=challenge_id,
                             details={"funding": str(funding)}):
        gateway = wallet_gateway(funding)
        answer = _answered(_TAKE, [
            challenge_id, acceptor.pk, role_of(acceptor), actor.country or acceptor.country, gateway.name,
            idempotency_key, idempotency_key and _fingerprint(funding=funding), timezone.now(),
            *actor.audit_columns(), actor.session_started], challenge_id)
        if "started" in answer:
            raise _StartedWhileOpen
        if "conflict" in answer:
            raise IdempotencyConflict(details={"challenge_id": challenge_id})
        if "replay" in answer:
            return _challenge_of(answer, was=answer["challenge"]["status"])
        challenge = _challenge_of(answer, was=Challenge.Status.OPEN)
        if not gateway.confirms_at_once:
            _stake_in(challenge, user_id=acceptor.pk, key=answer["stake_key"], actor=actor, action="challenge.accept",
                      before=Challenge.Status.OPEN)
        challenge_news(challenge, balance=_balance(answer), user_id=acceptor.pk)
    return challenge


def _unavailable(challenge: Challenge) -> DomainError:
    details = {"challenge_id": challenge.pk, "status": challenge.status}
    return refusal("challenge_unavailable", SENTENCES["challenge_unavailable"](details), details)


def _started(now: Any) -> Q:
    return Q(event__start_time__lte=now) | ~Q(event__status=Event.Status.SCHEDULED)


# --- cancel ----------------------------------------------------------------------------------------

@retried_on_conflict
def challenge_cancel(*, challenge_id: Any, actor: Actor) -> Challenge:
    """The creator withdraws an open challenge; the stake comes back less the network fees of its
    own transfers in and out (0.00 on the internal wallet). Refused (409 ``escrow_mismatch``), with
    nothing changed, while the liquidity audit finds escrow out of balance."""
    challenge_id = _id(challenge_id, "challenge_id")
    balanced = escrow_balanced()  # in a snapshot of its own, before this transaction's locks
    with audited_transaction(actor=actor, action="challenge.cancel", category=AuditLog.Category.BETTING,
                             resource_type="challenge", resource_id=challenge_id):
        challenge = Challenge.objects.select_for_update().filter(pk=challenge_id).first()
        mine = challenge is not None and challenge.creator_id == actor.user_id
        if challenge is None or not (mine or challenge_visible(challenge, user=actor.user)):
            raise NotFound("There is no such challenge.", details={"challenge_id": challenge_id})
        if not mine:
            raise refusal("forbidden", "Only the player who made a challenge can cancel it.",
                          {"challenge_id": challenge.pk})
        if challenge.status != Challenge.Status.OPEN:
            raise _unavailable(challenge)
        if not balanced:
            raise Conflict("Escrow does not balance, so no stake leaves it until compliance has put it right; "
                           "your challenge stays open.", code="escrow_mismatch", details={"challenge_id": challenge.pk})
        challenge.status = Challenge.Status.CANCELLED
        challenge.save(update_fields=["status"])
        refunds = challenge_refund(challenge=challenge, party=CREATOR, actor=actor)
        _audit(challenge, actor=actor, action="challenge.cancel", before=Challenge.Status.OPEN,
               refund=[{"tx_id": r.tx_id, "amount": str(r.amount), "purpose": r.purpose} for r in refunds])
        challenge_news(challenge)
    return challenge


def challenge_visible(challenge: Challenge, *, user: Any) -> bool:
    """Open challenges are everyone's to see; the others, their parties' and their tenant's staff's."""
    if challenge.status == Challenge.Status.OPEN:
        return True
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.pk in (challenge.creator_id, challenge.acceptor_id) or (
        user.has_perm(STAFF_VIEW) and Challenge.objects.visible_to(user).filter(pk=challenge.pk).exists())


# --- refunds and expiry ----------------------------------------------------------------------------

def challenge_refund(*, challenge: Challenge, party: str, actor: Actor) -> list[GatewayTransfer]:
    """Give a party ("creator" | "acceptor") its confirmed stake back out of escrow, in the caller's
    transaction with the challenge locked (cancel, expiry, and settlement's void): see ``_give_back``.
    Asked twice, it moves nothing more (the movements' keys are the party's)."""
    user_id = challenge.creator_id if party == CREATOR else challenge.acceptor_id
    stake_in = GatewayTransfer.objects.filter(
        reference_type="challenge", reference_id=str(challenge.pk), purpose="stake", user_id=user_id,
        status=GatewayTransfer.Status.CONFIRMED).order_by("-id").first()
    if stake_in is None:
        return []  # nothing of theirs is held
    return _give_back(challenge, stake_in, key=f"challenge:{challenge.pk}:{party}", actor=actor)


def _give_back(challenge: Challenge, stake_in: GatewayTransfer, *, key: str, actor: Actor) -> list[GatewayTransfer]:
    """The stake of ``stake_in`` back to its player (see ``refund_movements``)."""
    return wallet_gateway(stake_in.gateway).transfer(refund_movements(challenge.pk, stake_in, key=key), actor=actor)


def challenges_expire(*, now: Any = None) -> int:
    """Expire every challenge still ``open`` or ``escrow_pending`` at its event's start, refunding
    what is held (an ``escrow_pending`` stake is refunded when it confirms). While the liquidity audit
    finds escrow out of balance the refunds are queued (``money_waiting``), and the first run that
    finds it balanced sends them. Safe to run twice and on several workers: each challenge is claimed
    under its row lock, skipping those taken. The audit runs only when there is something to do."""
    now = now or timezone.now()
    ids = list(Challenge.objects.filter(_started(now), status__in=[Challenge.Status.OPEN,
                                                                    Challenge.Status.ESCROW_PENDING])
               .order_by("pk").values_list("pk", flat=True)[:1000])
    queued = list(Challenge.objects.filter(money_waiting=Challenge.Waiting.ESCROW_AUDIT)
                  .order_by("pk").values_list("pk", flat=True)[:1000])
    if not (ids or queued):
        return 0
    balanced = escrow_balanced()
    expired = sum(_expire_one(challenge_id, now=now, balanced=balanced) for challenge_id in ids)
    if balanced:
        for challenge_id in queued:
            _queued_refund_send(challenge_id)
    return expired


@retried_on_conflict
def _expire_one(challenge_id: int, *, now: Any, balanced: bool) -> bool:
    actor = Actor.system("challenges_expire")
    with transaction.atomic():
        # Waits for a row lock rather than skipping it: an accept holding it at kick-off is refused,
        # and the challenge it leaves open must still expire now, not on the next sweep.
        challenge = (Challenge.objects.select_for_update(of=("self",)).select_related("event")
                     .filter(pk=challenge_id, status__in=[Challenge.Status.OPEN, Challenge.Status.ESCROW_PENDING])
                     .first())
        if challenge is None or not _event_started(challenge.event, now):
            return False
        before = challenge.status
        challenge.status = Challenge.Status.EXPIRED
        challenge.save(update_fields=["status"])
        refund = {}
        if before == Challenge.Status.OPEN:
            _expiry_refund(challenge, actor=actor, balanced=balanced)
            refund = {"refund": "queued" if challenge.money_waiting else "sent"}
        _audit(challenge, actor=actor, action="challenge.expire", before=before, **refund)
        challenge_news(challenge)
    return True


def _expiry_refund(challenge: Challenge, *, actor: Actor, balanced: bool) -> None:
    """An expired challenge's stake back to its creator now, or, while escrow does not balance, queued
    until it does (the liquidity audit keeps expecting it in the vault meanwhile)."""
    if balanced:
        challenge_refund(challenge=challenge, party=CREATOR, actor=actor)
        return
    challenge.money_waiting = Challenge.Waiting.ESCROW_AUDIT
    challenge.save(update_fields=["money_waiting"])


@retried_on_conflict
def _queued_refund_send(challenge_id: int) -> None:
    actor = Actor.system("challenges_expire")
    with transaction.atomic():
        challenge = (Challenge.objects.select_for_update(skip_locked=True)
                     .filter(pk=challenge_id, money_waiting=Challenge.Waiting.ESCROW_AUDIT).first())
        if challenge is None:
            return
        challenge.money_waiting = Challenge.Waiting.NOTHING
        challenge.save(update_fields=["money_waiting"])
        refunds = challenge_refund(challenge=challenge, party=CREATOR, actor=actor)
        _audit(challenge, actor=actor, action="challenge.refund", before=challenge.status,
               refund=[{"tx_id": r.tx_id, "amount": str(r.amount), "purpose": r.purpose} for r in refunds])
        challenge_news(challenge)


# --- gateway confirmations -------------------------------------------------------------------------

def challenge_transfer_decided(moved: GatewayTransfer) -> None:
    """A challenge's external transfer was confirmed or failed (registered with the gateways from
    BettingConfig.ready; runs in the confirming transaction). A stake moves the challenge on; a
    stake confirmed after the challenge ended is refunded, never lost; a failed movement out of the
    vault is asked for again."""
    actor = Actor.system("gateway_confirmation")
    challenge = (Challenge.objects.select_for_update(of=("self",)).select_related("event")
                 .get(pk=int(moved.reference_id)))
    before = challenge.status
    confirmed = moved.status == GatewayTransfer.Status.CONFIRMED
    if moved.direction == GatewayTransfer.Direction.OUT:
        if not confirmed:
            challenge_movement_retry(moved, challenge=challenge, actor=actor)
        return
    if moved.purpose != "stake":  # the platform's part of a settled pot reaching the winner's vault
        pot_top_up_decided(moved, challenge=challenge, actor=actor)
        return
    if moved.user_id == challenge.creator_id:
        _creator_stake_decided(challenge, confirmed=confirmed, actor=actor)
    elif challenge.status == Challenge.Status.MATCHING and moved.user_id == challenge.acceptor_id:
        _acceptor_stake_decided(challenge, confirmed=confirmed, actor=actor)
    elif confirmed:  # a stake of nobody's side any more: it goes back
        _give_back(challenge, moved, key=moved.idempotency_key, actor=actor)
    if challenge.status != before:
        _audit(challenge, actor=actor, action="challenge.confirm", before=before, tx_id=moved.tx_id,
               transfer=moved.status)
        challenge_news(challenge)


def _creator_stake_decided(challenge: Challenge, *, confirmed: bool, actor: Actor) -> None:
    if challenge.status == Challenge.Status.ESCROW_PENDING:
        if not confirmed:
            challenge.status, challenge.status_reason = Challenge.Status.FAILED, "The stake did not reach escrow."
        elif _event_started(challenge.event):
            challenge.status = Challenge.Status.EXPIRED
        else:
            challenge.status = Challenge.Status.OPEN
        challenge.save(update_fields=["status", "status_reason"])
        if challenge.status == Challenge.Status.EXPIRED:
            _expiry_refund(challenge, actor=actor, balanced=escrow_balanced(recorded=True))
    elif confirmed:  # expired (or voided) while the stake was on its way
        _expiry_refund(challenge, actor=actor, balanced=escrow_balanced(recorded=True))


def _acceptor_stake_decided(challenge: Challenge, *, confirmed: bool, actor: Actor) -> None:
    if confirmed:
        challenge.status, challenge.matched_at = Challenge.Status.MATCHED, timezone.now()
        challenge.save(update_fields=["status", "matched_at"])
        return
    # open again for anyone, unless the event has started meanwhile
    challenge.acceptor, challenge.acceptor_funding = None, ""
    challenge.acceptor_idempotency_key, challenge.acceptor_fingerprint = None, ""
    challenge.status = Challenge.Status.EXPIRED if _event_started(challenge.event) else Challenge.Status.OPEN
    challenge.save(update_fields=["acceptor", "acceptor_funding", "acceptor_idempotency_key", "acceptor_fingerprint",
                                  "status"])
    if challenge.status == Challenge.Status.EXPIRED:
        _expiry_refund(challenge, actor=actor, balanced=escrow_balanced(recorded=True))
