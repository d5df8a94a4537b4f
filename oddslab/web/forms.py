import uuid
from typing import Any

from django import forms

from core.query import BIGINT_MAX
from wallet.models import Gateway


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"}))
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    country = forms.CharField(min_length=2, max_length=2, help_text="Two letters, e.g. GB",
                              widget=forms.TextInput(attrs={"autocomplete": "country", "size": 2}))
    adult = forms.BooleanField(label="I am 18 or older", error_messages={
        "required": "You must be 18 or older to play."})


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
