"""Grading rules per market kind, and how legs make a bet's result (table-driven)."""

from decimal import Decimal

import pytest

from betting.models import Bet
from betting.settlement import grade
from events.kinds import REGISTRY, Score

D = Decimal


@pytest.mark.parametrize(("kind", "line", "home", "away", "expected"), [
    ("match_result", None, 2, 1, {"home": "won", "draw": "lost", "away": "lost"}),
    ("match_result", None, 1, 1, {"home": "lost", "draw": "won", "away": "lost"}),
    ("match_result", None, 0, 3, {"home": "lost", "draw": "lost", "away": "won"}),
    ("double_chance", None, 2, 1, {"home_draw": "won", "home_away": "won", "draw_away": "lost"}),
    ("double_chance", None, 0, 0, {"home_draw": "won", "home_away": "lost", "draw_away": "won"}),
    ("double_chance", None, 1, 2, {"home_draw": "lost", "home_away": "won", "draw_away": "won"}),
    ("over_under", D("2.5"), 2, 1, {"over": "won", "under": "lost"}),
    ("over_under", D("2.5"), 1, 1, {"over": "lost", "under": "won"}),
    ("over_under", D("3.0"), 2, 1, {"over": "void", "under": "void"}),  # push: total equals the line
    ("over_under", D("3.0"), 2, 2, {"over": "won", "under": "lost"}),
    ("over_under", D("0.5"), 0, 0, {"over": "lost", "under": "won"}),
    ("both_teams_to_score", None, 1, 1, {"yes": "won", "no": "lost"}),
    ("both_teams_to_score", None, 3, 0, {"yes": "lost", "no": "won"}),
    ("both_teams_to_score", None, 0, 0, {"yes": "lost", "no": "won"}),
])
def test_each_kind_grades_its_outcomes(kind, line, home, away, expected):
    market_kind = REGISTRY[kind]
    graded = {key: market_kind.grade(key=key, line=line, score=Score(home, away)) for key in expected}
    assert graded == expected


def _bet(stake="10.00"):
    return Bet(pk=1, stake=D(stake), potential_return=D("0"))


# legs: (price, outcome status, market status)
@pytest.mark.parametrize(("legs", "result", "payout"), [
    ([("2.50", "won", "resulted")], "won", "25.00"),
    ([("2.50", "lost", "resulted")], "lost", "0.00"),
    ([("2.50", "active", "cancelled")], "void", "10.00"),  # a void single returns the stake
    ([("2.50", "void", "resulted")], "void", "10.00"),  # a push
    ([("2.50", "won", "resulted"), ("1.90", "won", "resulted")], "won", "47.50"),
    ([("2.50", "won", "resulted"), ("1.90", "active", "cancelled")], "won", "25.00"),  # partial void
    ([("2.50", "won", "resulted"), ("1.90", "void", "resulted"), ("1.333", "won", "resulted")], "won", "33.32"),
    ([("2.50", "void", "resulted"), ("1.90", "active", "cancelled")], "void", "10.00"),  # all void
    ([("2.50", "lost", "resulted"), ("1.90", "active", "open")], "lost", "0.00"),  # lost at once
    ([("2.50", "won", "settled"), ("1.90", "lost", "resulted")], "lost", "0.00"),
])
def test_a_bets_result_from_its_legs(legs, result, payout):
    rows = [(i, 100 + i, D(price), outcome, market) for i, (price, outcome, market) in enumerate(legs)]
    graded = grade(_bet(), rows)
    assert (graded.result, graded.payout) == (result, D(payout))


def test_a_bet_with_undecided_legs_and_no_loss_cannot_be_graded():
    with pytest.raises(ValueError, match="undecided"):
        grade(_bet(), [(1, 1, D("2.00"), "won", "resulted"), (2, 2, D("2.00"), "active", "open")])
