"""Market kinds: each kind is one small module that declares its outcomes (and later grades them).

Adding a kind means adding a module here and importing it below; nothing else
in the code names kinds.
"""

from events.kinds import (  # the kinds register themselves on import
    both_teams_to_score,
    double_chance,
    match_result,
    match_winner,
    next_goal_window,
    over_under,
)
from events.kinds.base import REGISTRY, MarketKind, OutcomeSpec, Score, kind_choices, market_kind, register

__all__ = ["REGISTRY", "MarketKind", "OutcomeSpec", "Score", "both_teams_to_score", "double_chance",
           "kind_choices", "market_kind", "match_result", "match_winner", "next_goal_window", "over_under", "register"]
