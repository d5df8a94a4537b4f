from events.kinds.base import MarketKind, OutcomeSpec, register


@register
class BothTeamsToScore(MarketKind):
    key = "both_teams_to_score"
    label = "Both teams to score"

    def outcomes(self, *, home, away, line):
        return [OutcomeSpec("yes", "Yes"), OutcomeSpec("no", "No")]

    def grade(self, *, key, line, score):
        both = score.home > 0 and score.away > 0
        return "won" if both == (key == "yes") else "lost"
