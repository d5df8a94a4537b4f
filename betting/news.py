from oddslab import live


def bet_message(bet_id: int, status: str, result: str | None = None) -> dict:
    return {"type": "bet", "bet_id": bet_id, "status": status, "result": result}


def challenge_message(challenge) -> dict:
    """The ``/ws/v1/me`` message of a challenge's new status (the result from the creator's side)."""
    return {"type": "challenge", "challenge_id": challenge.pk, "status": challenge.status,
            "result": challenge.result}


def bet_news(player_id: int, bet_id: int, status: str, result: str | None = None) -> None:
    """Tell the bet's owner, after commit, that its status changed."""
    live.to_user(player_id, bet_message(bet_id, status, result))
