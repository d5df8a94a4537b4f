from oddslab.events.kinds import MarketKind, OutcomeSpec, register


@register
class BothTeamsToScore(MarketKind):
    key = "both_teams_to_score"
    label = "Both teams to score"

    def outcomes(self, *, home, away, line):
        return [OutcomeSpec("yes", "Yes"), OutcomeSpec("no", "No")]
