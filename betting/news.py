from collections.abc import Sequence
from decimal import Decimal

from betting.models import Challenge
from core import live


def bet_message(bet_id: int, status: str, result: str | None = None) -> dict:
    return {"type": "bet", "bet_id": bet_id, "status": status, "result": result}


def challenge_message(challenge) -> dict:
    """The ``/ws/v1/me`` message of a challenge's new status (the result from the creator's side)."""
    return challenge_status_message(challenge.pk, challenge.status, challenge.result)


def challenge_status_message(challenge_id: int, status: str, result: str | None) -> dict:
    """``challenge_message`` from the fields (settlement has them as the database answered, not a Challenge)."""
    return {"type": "challenge", "challenge_id": challenge_id, "status": status, "result": result}


def challenge_selection(challenge: Challenge) -> dict:
    """What the creator backs: the outcome (``outcome_id, market_id, name, price``) or the
    proposition (``player_id, player, stat, line, side``), as the API shows it."""
    if challenge.outcome_id:
        outcome = challenge.outcome
        return {"outcome_id": outcome.pk, "market_id": outcome.market_id,
                "name": f"{outcome.market.name}: {outcome.name}", "price": str(outcome.price)}
    return {"player_id": challenge.player_id, "player": challenge.player.name, "stat": challenge.stat,
            "line": str(challenge.line), "side": challenge.side}


def challenges_board_news(challenges: list[Challenge], *, users: Sequence[tuple[int, dict]] = ()) -> None:
    """Tell everyone watching challenges (/ws/v1/challenges, the Challenges page), after commit, of
    each challenge whose change took it into ``open`` (one to accept) or out of it (gone); and
    ``users``' (user_id, payload) messages with them."""
    messages = []
    for challenge in challenges:
        was_open, is_open = challenge.status_known == Challenge.Status.OPEN, challenge.status == Challenge.Status.OPEN
        if was_open != is_open:
            messages.append({"type": "challenge_open" if is_open else "challenge_closed",
                             "challenge_id": challenge.pk, "event_id": challenge.event_id,
                             "stake": str(challenge.stake), "selection": challenge_selection(challenge)})
        challenge.status_known = challenge.status  # told: a later change of this instance compares with it
    live.challenges_changed(messages, users=users)


def bet_news(player_id: int, bet_id: int, status: str, result: str | None = None) -> None:
    """Tell the bet's owner, after commit, that its status changed."""
    live.to_user(player_id, bet_message(bet_id, status, result))


def bet_placed_news(player_id: int, bet_id: int, status: str, balance: Decimal) -> None:
    """Tell the player, after commit and in one publish, their new balance and their bet's status."""
    live.to_users([(player_id, {"type": "wallet", "balance": str(balance)}),
                   (player_id, bet_message(bet_id, status))])
