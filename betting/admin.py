from django import forms
from django.contrib import admin

from audit.admin_tools import ObjectAction, ReadOnlyAdmin, ReadOnlyInline, ServiceActionsAdmin
from betting.challenge_settlement import challenge_payout_retry, challenge_void
from betting.models import Bet, BetLeg, Challenge, EscrowAudit
from betting.settlement import bet_settle_manual


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


class VoidForm(forms.Form):
    # The service refuses a void without a reason (reason_required).
    reason = forms.CharField(max_length=200, required=False, widget=forms.TextInput(attrs={"size": 60}),
                             help_text="Each party whose stake escrow holds is refunded, as for a cancelled event.")


def _void(challenge, data, actor):
    done = challenge_void(challenge_id=challenge.pk, reason=data["reason"], actor=actor)
    return f"Challenge CH-{done.pk} is void; the stakes held are on their way back."


def _retry(challenge, data, actor):
    done = challenge_payout_retry(challenge_id=challenge.pk, actor=actor)
    return f"Challenge CH-{done.pk}: its failed transfers out of escrow are asked for again."


@admin.register(Challenge)
class ChallengeAdmin(ServiceActionsAdmin, ReadOnlyAdmin):
    list_display = ["id", "event", "creator", "acceptor", "stake", "creator_funding", "acceptor_funding", "status",
                    "result", "winner", "payout", "fee", "money_waiting", "created_at", "settled_at"]
    list_filter = ["status", "money_waiting", "result", "creator_funding", "acceptor_funding", "stat"]
    search_fields = ["=id", "=event__id", "creator__username", "acceptor__username"]
    list_select_related = ["event", "creator", "acceptor", "winner"]
    date_hierarchy = "created_at"
    object_actions = (
        ObjectAction("void", "Void with reason", "betting.settle_bet", _void, form=VoidForm,
                     offered=lambda challenge: challenge.status in Challenge.VOIDABLE),
        ObjectAction("retry_payout", "Retry payout", "betting.settle_bet", _retry,
                     offered=lambda challenge: challenge.money_waiting == Challenge.Waiting.OPERATOR,
                     help="Its payout, refund or sweep failed every automatic retry; the money is still in "
                          "escrow. Each failed transfer is asked for once more."),
    )


@admin.register(EscrowAudit)
class EscrowAuditAdmin(ReadOnlyAdmin):
    list_display = ["checked_at", "ok", "vault_internal", "expected_internal", "vault_external", "expected_external",
                    "mirror_external"]
    list_filter = ["ok"]
    date_hierarchy = "checked_at"
