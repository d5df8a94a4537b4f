from events.kinds.base import MarketKind, OutcomeSpec, register


@register
class MatchResult(MarketKind):
    key = "match_result"
    label = "Match result"

    def outcomes(self, *, home, away, line):
        return [OutcomeSpec("home", home), OutcomeSpec("draw", "Draw"), OutcomeSpec("away", away)]

    def grade(self, *, key, line, score):
        winner = "home" if score.home > score.away else "away" if score.away > score.home else "draw"
        return "won" if key == winner else "lost"
