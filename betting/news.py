from oddslab import live


def bet_message(bet_id: int, status: str, result: str | None = None) -> dict:
    return {"type": "bet", "bet_id": bet_id, "status": status, "result": result}


def bet_news(player_id: int, bet_id: int, status: str, result: str | None = None) -> None:
    """Tell the bet's owner, after commit, that its status changed."""
    live.to_user(player_id, bet_message(bet_id, status, result))
