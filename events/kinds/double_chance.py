from events.kinds.base import MarketKind, OutcomeSpec, register


@register
class DoubleChance(MarketKind):
    key = "double_chance"
    label = "Double chance"

    def outcomes(self, *, home, away, line):
        return [OutcomeSpec("home_draw", f"{home} or draw"),
                OutcomeSpec("home_away", f"{home} or {away}"),
                OutcomeSpec("draw_away", f"Draw or {away}")]

    def grade(self, *, key, line, score):
        covers = {"home_draw": score.home >= score.away, "home_away": score.home != score.away,
                  "draw_away": score.home <= score.away}
        return "won" if covers[key] else "lost"
