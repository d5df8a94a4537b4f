"""The shapes of a roster and of stat lines, checked before anything is written (API, admin and feed
alike). Stat values must be JSON integers: a string such as "12" (or "١٢", which ``int()`` would read)
is refused, as the scores of a result are."""

from __future__ import annotations

from typing import Any

from core.errors import InvalidInput
from events.models import Player

ROSTER_MAX = 40  # players of one event, both teams
NAME_MAX = 50  # characters of a player's name
STAT_MAX = 999  # points, rebounds or assists of one player in one game
STATS = ("points", "rebounds", "assists")


def roster_validate(players: Any) -> list[tuple[str, str]]:
    """``[{"name", "team": "home"|"away"}, ...]`` → ``[(name, team)]``, names trimmed, each name once per team."""
    if not isinstance(players, list) or len(players) > ROSTER_MAX:
        raise InvalidInput(f"Players are a list of at most {ROSTER_MAX}.", code="invalid_players")
    roster, seen = [], set()
    for index, player in enumerate(players):
        if not isinstance(player, dict) or set(player) - {"name", "team"}:
            raise InvalidInput("Each player is {\"name\", \"team\"}.", code="invalid_players",
                               details={"player": index})
        name, team = player.get("name"), player.get("team")
        if team not in Player.Team.values:
            raise InvalidInput("A player's team is home or away.", code="invalid_players",
                               details={"player": index, "field": "team"})
        name = name.strip() if isinstance(name, str) else ""
        if not 0 < len(name) <= NAME_MAX or not name.isprintable():
            raise InvalidInput(f"A player's name has 1 to {NAME_MAX} printable characters.",
                               code="invalid_players", details={"player": index, "field": "name"})
        if (team, name.casefold()) in seen:
            raise InvalidInput(f"{name} is twice on the {team} team.", code="invalid_players",
                               details={"player": index, "field": "name"})
        seen.add((team, name.casefold()))
        roster.append((name, team))
    return roster


def stat_lines_validate(stats: Any, *, players: dict[int, Player]) -> dict[int, dict[str, int]]:
    """``[{"player_id", "points", "rebounds", "assists"}, ...]`` → ``{player_id: {stat: value}}``; the
    ids must be of ``players`` (the event's), each once; a stat left out keeps its value."""
    if not isinstance(stats, list) or len(stats) > ROSTER_MAX:
        raise InvalidInput(f"Player stats are a list of at most {ROSTER_MAX}.", code="invalid_player_stats")
    lines: dict[int, dict[str, int]] = {}
    for index, line in enumerate(stats):
        if not isinstance(line, dict) or set(line) - {"player_id", *STATS}:
            raise InvalidInput("Each stat line is {\"player_id\", \"points\", \"rebounds\", \"assists\"}.",
                               code="invalid_player_stats", details={"line": index})
        player_id = line.get("player_id")
        if not _whole(player_id) or player_id not in players:
            raise InvalidInput("Stat lines name players of this event.", code="invalid_player_stats",
                               details={"line": index, "field": "player_id"})
        if player_id in lines:
            raise InvalidInput("Each player has one stat line.", code="invalid_player_stats",
                               details={"line": index, "field": "player_id"})
        values = {stat: line[stat] for stat in STATS if stat in line}
        for stat, value in values.items():
            if not _whole(value) or not 0 <= value <= STAT_MAX:
                raise InvalidInput(f"A player's {stat} is a whole number from 0 to {STAT_MAX}.",
                                   code="invalid_player_stats", details={"line": index, "field": stat})
        lines[player_id] = values
    return lines


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
