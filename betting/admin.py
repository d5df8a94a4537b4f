from django.contrib import admin

from betting.models import Bet, BetLeg
from oddslab.admin_tools import ReadOnlyAdmin, ReadOnlyInline


class BetLegInline(ReadOnlyInline):
    model = BetLeg
    fields = ["position", "outcome", "event", "price", "result"]


@admin.register(Bet)
class BetAdmin(ReadOnlyAdmin):
    list_display = ["ticket_number", "player", "bet_type", "status", "result", "stake", "potential_return",
                    "payout", "in_play", "placed_at"]
    list_filter = ["status", "result", "bet_type", "in_play"]
    search_fields = ["=id", "player__username"]
    list_select_related = ["player"]
    inlines = [BetLegInline]
    date_hierarchy = "placed_at"
