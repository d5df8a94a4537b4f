from core.errors import InvalidInput
from events.kinds.base import MarketKind, OutcomeSpec, register


@register
class NextGoalWindow(MarketKind):
    """A micro-market: "a goal before minute <line>?". Only the feed, which watched the window,
    can result it; a final score alone cannot."""

    key = "next_goal_window"
    label = "Goal before minute"
    needs_line = True
    graded_by_score = False

    def outcomes(self, *, home, away, line):
        return [OutcomeSpec("yes", "Yes"), OutcomeSpec("no", "No")]

    def market_name(self, *, line):
        return f"Goal before {int(line)}'"

    def line_validate(self, line):
        line = super().line_validate(line)
        if line != line.to_integral_value() or not 0 < line <= 200:
            raise InvalidInput("The window ends at a whole minute, e.g. 25.", code="invalid_line")
        return line
