from oddslab.events.kinds import MarketKind, OutcomeSpec, register


@register
class MatchResult(MarketKind):
    key = "match_result"
    label = "Match result"

    def outcomes(self, *, home, away, line):
        return [OutcomeSpec("home", home), OutcomeSpec("draw", "Draw"), OutcomeSpec("away", away)]
