from django import forms
from django.contrib import admin

from betting.models import Bet, BetLeg
from betting.settlement import bet_settle_manual
from oddslab.admin_tools import ObjectAction, ReadOnlyAdmin, ReadOnlyInline, ServiceActionsAdmin


class BetLegInline(ReadOnlyInline):
    model = BetLeg
    fields = ["position", "outcome", "event", "price", "result"]


class SettleForm(forms.Form):
    result = forms.ChoiceField(choices=Bet.Result.choices, help_text="Won pays the potential return, void "
                                                                     "returns the stake, lost pays nothing.")
    # The service refuses a settlement without a reason (reason_required).
    reason = forms.CharField(max_length=200, required=False, widget=forms.TextInput(attrs={"size": 60}))


def _settle(bet, data, actor):
    done = bet_settle_manual(bet_id=bet.pk, result=data["result"], reason=data["reason"], actor=actor)
    return f"Bet {done.ticket_number} settled by hand as {done.result}; payout {done.payout}."


@admin.register(Bet)
class BetAdmin(ServiceActionsAdmin, ReadOnlyAdmin):
    list_display = ["ticket_number", "player", "bet_type", "status", "result", "stake", "potential_return",
                    "payout", "in_play", "placed_at"]
    list_filter = ["status", "result", "bet_type", "in_play"]
    search_fields = ["=id", "player__username"]
    list_select_related = ["player"]
    inlines = [BetLegInline]
    date_hierarchy = "placed_at"
    object_actions = (
        ObjectAction("settle", "Settle by hand", "betting.settle_bet", _settle, form=SettleForm,
                     offered=lambda bet: bet.status == Bet.Status.ACCEPTED),
    )
