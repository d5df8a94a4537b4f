from events.kinds.base import MarketKind, OutcomeSpec, register


@register
class MatchWinner(MarketKind):
    """Two-way: home or away, no draw (basketball plays overtime until one side leads). A result
    entered level all the same (an abandoned game scored as it stood) voids both sides."""

    key = "match_winner"
    label = "Match winner"

    def outcomes(self, *, home, away, line):
        return [OutcomeSpec("home", home), OutcomeSpec("away", away)]

    def grade(self, *, key, line, score):
        if score.home == score.away:
            return "void"
        winner = "home" if score.home > score.away else "away"
        return "won" if key == winner else "lost"
