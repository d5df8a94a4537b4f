import uuid
from collections.abc import Mapping
from typing import Any

from django import forms

from core.query import BIGINT_MAX
from risk.models import MINUTE_LIMITS, PLAYER_LIMITS
from risk.rules import PERIODS
from risk.safer import SELF_EXCLUSION_MONTHS, TIME_OUT_DAYS
from wallet.models import Gateway


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"}))
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    country = forms.CharField(min_length=2, max_length=2, help_text="Two letters, e.g. GB",
                              widget=forms.TextInput(attrs={"autocomplete": "country", "size": 2}))
    # An agent's code joins the player to the agent's operator (accounts.services.registration_home).
    agent_code = forms.CharField(required=False, max_length=16, label="Agent code", help_text="optional",
                                 widget=forms.TextInput(attrs={"autocomplete": "off", "size": 10}))
    adult = forms.BooleanField(label="I am 18 or older", error_messages={
        "required": "You must be 18 or older to play."})


class AgentPlayerForm(forms.Form):
    """An agent's new player (the agent page): registration's fields, the agent's operator."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    country = forms.CharField(min_length=2, max_length=2, help_text="Two letters, e.g. GB",
                              widget=forms.TextInput(attrs={"size": 2}))


class AmountForm(forms.Form):
    amount = forms.DecimalField(min_value=0, max_digits=18, decimal_places=2,
                                widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))


ID = {"min_value": 1, "max_value": BIGINT_MAX}  # a row id PostgreSQL can hold


CHALLENGE_KINDS = ("outcome", "proposition")


class ChallengeForm(forms.Form):
    """A challenge from the event page: on an outcome (``kind`` "outcome"), or on a player's stat
    line, over or under (``kind`` "proposition"). The challenge service checks the rest (the stake,
    the line, the selection) and says why it refuses."""

    kind = forms.ChoiceField(choices=[(k, k) for k in CHALLENGE_KINDS], widget=forms.HiddenInput)
    funding = forms.ChoiceField(choices=Gateway.choices, initial=Gateway.INTERNAL, label="Pay from")
    event_id = forms.IntegerField(widget=forms.HiddenInput, **ID)
    outcome_id = forms.IntegerField(required=False, label="Your pick", **ID)
    player_id = forms.IntegerField(required=False, label="Player", **ID)
    stat = forms.ChoiceField(required=False, choices=[("points", "Points"), ("rebounds", "Rebounds"),
                                                      ("assists", "Assists")])
    side = forms.ChoiceField(required=False, choices=[("over", "Over"), ("under", "Under")])
    line = forms.CharField(required=False, max_length=20,
                           widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "24.5"}))
    stake = forms.CharField(max_length=20, widget=forms.TextInput(attrs={"inputmode": "decimal",
                                                                         "autocomplete": "off"}))
    # One per drawn form: a second click on "Challenge" gets the first challenge back, not another.
    idempotency_key = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)

    def __init__(self, data: Any = None, *, kind: str, event_id: int):
        # Two of these share the event page: each one's field ids start with its kind.
        self.shown_as = kind if kind in CHALLENGE_KINDS else CHALLENGE_KINDS[0]
        super().__init__(data, auto_id=f"{self.shown_as}-%s", initial={
            "kind": self.shown_as, "event_id": event_id, "idempotency_key": uuid.uuid4().hex})

    def selection(self) -> dict:
        """The challenge service's selection argument: ``outcome_id`` or ``proposition``."""
        data = self.cleaned_data
        if data["kind"] == "proposition":
            return {"proposition": {"player_id": data.get("player_id"), "stat": data.get("stat"),
                                    "line": data.get("line"), "side": data.get("side")}}
        return {"outcome_id": data.get("outcome_id")}


# The page's words for each of the player's own limits (risk.models.PLAYER_LIMITS).
LIMIT_LABELS = {
    **{f"deposit_{period}": f"Deposits per {words}" for period, words in PERIODS.items()},
    **{f"loss_{period}": f"Losses per {words}" for period, words in PERIODS.items()},
    "max_stake": "Stake per bet",
    "session_minutes": "Session time (minutes)",
    "reality_check_minutes": "Reality check every (minutes)",
}


class LimitsForm(forms.Form):
    """The player's own limits, each field drawn with the value in force. risk.safer checks what is
    typed, as it does for the API. Each field also carries the value it was drawn with, so only the
    limits the player changed are sent: an emptied field removes its limit, one left alone is untouched."""

    def __init__(self, data: Any = None, *, values: Mapping[str, Any]):
        super().__init__(data, initial=dict(values))
        for name in PLAYER_LIMITS:
            self.fields[name] = forms.CharField(
                required=False, label=LIMIT_LABELS[name], show_hidden_initial=True,
                widget=forms.TextInput(attrs={"inputmode": "numeric" if name in MINUTE_LIMITS else "decimal",
                                              "autocomplete": "off", "size": 8}))

    def changes(self) -> dict[str, str | None]:
        """The changed limits as risk.safer.limits_set takes them: a value, or None to remove it."""
        return {name: self.cleaned_data[name] or None for name in self.changed_data}


class ConfirmedForm(forms.Form):
    """A step the player cannot take back before it ends: the box must be ticked, and the server
    checks it, whatever the browser did."""

    confirm = forms.BooleanField(label="I understand this cannot be undone before it ends", error_messages={
        "required": "Tick the box to confirm: this cannot be undone before it ends."})


class TimeOutForm(ConfirmedForm):
    days = forms.CharField(label=f"Days ({TIME_OUT_DAYS[0]} to {TIME_OUT_DAYS[1]})", widget=forms.NumberInput(
        attrs={"min": TIME_OUT_DAYS[0], "max": TIME_OUT_DAYS[1]}))


class SelfExclusionForm(ConfirmedForm):
    months = forms.ChoiceField(label="For", choices=[(str(months), f"{months} months")
                                                     for months in SELF_EXCLUSION_MONTHS])
