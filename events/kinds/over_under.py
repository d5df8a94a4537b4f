from decimal import Decimal

from core.errors import InvalidInput
from events.kinds.base import MarketKind, OutcomeSpec, register


@register
class OverUnder(MarketKind):
    key = "over_under"
    label = "Total goals"
    needs_line = True
    max_line = Decimal(100)

    def outcomes(self, *, home, away, line):
        return [OutcomeSpec("over", f"Over {line:f}"), OutcomeSpec("under", f"Under {line:f}")]

    def line_validate(self, line):
        line = super().line_validate(line)
        # Whole and half lines only (2, 2.5): a whole-number total equal to the line is a push.
        if line <= 0 or line > self.max_line or (line * 2) != (line * 2).to_integral_value():
            raise InvalidInput("The line must be a positive whole or half number, e.g. \"2.5\".",
                               code="invalid_line", details={"line": str(line)})
        return line.quantize(Decimal("0.1"))

    def grade(self, *, key, line, score):
        if score.total == line:  # a whole-number line met exactly: a push, stakes back
            return "void"
        over = score.total > line
        return "won" if over == (key == "over") else "lost"


@register
class TotalPoints(OverUnder):
    """Over/under on the points of both teams (basketball): totals run to the hundreds."""

    key = "total_points"
    label = "Total points"
    max_line = Decimal(500)
