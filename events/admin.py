from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from audit.admin_tools import (
    ActionLinksInline,
    AuditedSettingsAdmin,
    HistoryAdmin,
    ObjectAction,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ReasonForm,
    ServiceActionsAdmin,
    bulk_service_action,
    domain_error_text,
)
from audit.context import Actor
from core.errors import DomainError
from events import services
from events.kinds import market_kind
from events.models import Competition, Event, Market, OddsTick, Outcome, Player, Sport
from events.rosters import ROSTER_MAX, STAT_MAX, STATS

# The console changes prices and states only through the services (the same the API calls): the
# rows are read-only here and every change is an action with a confirmation page.

MARKET = "events.change_market"
OUTCOME = "events.change_outcome"
EVENT = "events.change_event"
S = Market.Status


@admin.register(Sport)
class SportAdmin(AuditedSettingsAdmin):
    list_display = ["name", "key", "inplay_delay_seconds"]


@admin.register(Competition)
class CompetitionAdmin(admin.ModelAdmin):
    list_display = ["name", "sport"]
    list_filter = ["sport"]
    search_fields = ["name"]


# --- Markets -------------------------------------------------------------------------------------

def _market_move(service, past: str):
    def run(market, data, actor):
        service(market_id=market.pk, reason=data.get("reason", ""), actor=actor)
        return f"{market} {past}."

    return run


MARKET_ACTIONS = (
    ObjectAction("suspend", "Suspend market", MARKET, _market_move(services.market_suspend, "suspended"),
                 form=ReasonForm, offered=lambda m: m.status == S.OPEN),
    ObjectAction("resume", "Resume market", MARKET, _market_move(services.market_resume, "resumed"),
                 form=ReasonForm, offered=lambda m: m.status == S.SUSPENDED),
    ObjectAction("close", "Close market", MARKET, _market_move(services.market_close, "closed"),
                 form=ReasonForm, offered=lambda m: m.status in (S.OPEN, S.SUSPENDED)),
    ObjectAction("cancel", "Cancel market", MARKET,
                 _market_move(services.market_cancel, "cancelled; its legs become void"),
                 form=ReasonForm, offered=lambda m: m.status in (S.OPEN, S.SUSPENDED, S.CLOSED),
                 help="Every leg on this market becomes void. A reason is required."),
)


class MarketInline(ActionLinksInline):
    model = Market
    fields = ["name", "kind", "line", "status"]
    show_change_link = True
    actions_permission = MARKET
    console_actions = MARKET_ACTIONS


class PlayerInline(ReadOnlyInline):
    """The roster and its stat lines: set by the feed, and final with the result."""

    model = Player
    fields = ["name", "team", "points", "rebounds", "assists"]

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("events.view_event")  # the roster is part of the event it is shown on


# --- Events --------------------------------------------------------------------------------------

# The markets an event is usually created with (football's, then basketball's); each gets a price
# field per outcome on the add form.
STANDARD_KINDS = ["match_result", "double_chance", "over_under", "both_teams_to_score", "match_winner",
                  "total_points"]


def _kind_keys(kind_key: str) -> list[tuple[str, str]]:
    kind = market_kind(kind_key)
    sample = kind.outcomes(home="Home", away="Away", line=Decimal("2.5") if kind.needs_line else None)
    return [(o.key, o.name) for o in sample]


class EventCreateForm(forms.Form):
    """One form: the event and its standard markets with opening prices. Only shapes are checked
    here; every rule (prices, lines, teams) is the service's, as for the API."""

    home_team = forms.CharField(max_length=120)
    away_team = forms.CharField(max_length=120)
    sport = forms.ModelChoiceField(Sport.objects.all(), to_field_name="key")
    competition = forms.CharField(max_length=120)
    start_time = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                     input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
                                     help_text="UTC")
    players = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6, "cols": 40}),
        help_text=f"Optional roster for player propositions, one player a line: \"home: Jay Brooks\" or "
                  f"\"away: Luis Moreno\" (at most {ROSTER_MAX}).")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kind_key in STANDARD_KINDS:
            label = market_kind(kind_key).label
            if market_kind(kind_key).needs_line:
                self.fields[f"{kind_key}__line"] = forms.CharField(required=False, label=f"{label}: line",
                                                                   max_length=10)
            for key, name in _kind_keys(kind_key):
                self.fields[f"{kind_key}__{key}"] = forms.CharField(
                    required=False, max_length=12, label=f"{label}: {name}",
                    widget=forms.TextInput(attrs={"size": 8, "inputmode": "decimal"}))

    def market_fieldsets(self):
        """(title, bound fields) per market kind, for the template."""
        groups = [("Event", [self[name] for name in ("home_team", "away_team", "sport", "competition",
                                                     "start_time", "players")])]
        for kind_key in STANDARD_KINDS:
            groups.append((market_kind(kind_key).label,
                           [self[name] for name in self.fields if name.startswith(f"{kind_key}__")]))
        return groups

    def markets(self) -> list[services.MarketSpec]:
        specs = []
        for kind_key in STANDARD_KINDS:
            prices = {key: self.cleaned_data[f"{kind_key}__{key}"].strip() for key, _ in _kind_keys(kind_key)}
            prices = {key: value for key, value in prices.items() if value}
            line = self.cleaned_data.get(f"{kind_key}__line", "").strip() or None
            if prices or line:  # a partly filled market goes to the service, which says what is missing
                specs.append(services.MarketSpec(kind=kind_key, prices=prices, line=line))
        return specs

    def clean_players(self) -> list[dict[str, str]]:
        """Lines "team: name" as the service's roster; the service judges teams and names."""
        roster = []
        for line in self.cleaned_data["players"].splitlines():
            if line.strip():
                team, _, name = line.partition(":")
                roster.append({"team": team.strip().lower(), "name": name.strip()})
        return roster

    def clean(self):
        data = super().clean()
        if not self.errors and not self.markets():
            raise forms.ValidationError("Give the opening prices of at least one market.")
        return data


def _event_start(event, data, actor):
    services.event_start(event_id=event.pk, actor=actor)
    return f"{event} is live."


def _event_finish(event, data, actor):
    services.event_finish(event_id=event.pk, actor=actor)
    return f"{event} is finished; its open markets are closed."


def _event_result(event, data, actor):
    lines = [{"player_id": player_id, **stats} for player_id, stats in ResultForm.stat_lines(data).items()]
    done = services.event_result_set(event_id=event.pk, home_score=data["home_score"],
                                     away_score=data["away_score"], actor=actor, player_stats=lines or None)
    return f"{event} resulted {done.score}; settlement runs in the worker."


def _event_cancel(event, data, actor):
    services.event_cancel(event_id=event.pk, reason=data["reason"], actor=actor)
    return f"{event} is cancelled; every leg on it becomes void."


class ResultForm(forms.Form):
    """The final score and, for an event with a roster, each player's final stat line (filled in with
    the line the feed last sent), which challenges on player propositions settle on."""

    home_score = forms.IntegerField(label="Home score")
    away_score = forms.IntegerField(label="Away score")

    def __init__(self, *args, initial=None, **kwargs):
        super().__init__(*args, initial=initial, **kwargs)
        for player in (initial or {}).get("players", []):
            for stat in STATS:
                self.fields[f"player_{player.pk}_{stat}"] = forms.IntegerField(
                    label=f"{player.name} ({player.team}): {stat}", min_value=0, max_value=STAT_MAX,
                    initial=getattr(player, stat))

    @staticmethod
    def stat_lines(data: dict) -> dict[int, dict[str, int]]:
        lines: dict[int, dict[str, int]] = {}
        for name, value in data.items():
            if name.startswith("player_"):
                _, player_id, stat = name.split("_", 2)
                lines.setdefault(int(player_id), {})[stat] = value
        return lines


EVENT_ACTIONS = (
    ObjectAction("start", "Start (in play)", EVENT, _event_start, offered=lambda e: e.status == Event.Status.SCHEDULED),
    ObjectAction("finish", "Finish", EVENT, _event_finish,
                 offered=lambda e: e.status in (Event.Status.SCHEDULED, Event.Status.LIVE)),
    ObjectAction("result", "Enter result", EVENT, _event_result, form=ResultForm,
                 offered=lambda e: e.home_score is None and e.status != Event.Status.CANCELLED,
                 initial=lambda e: {"players": list(e.players.all())},
                 help="The event finishes, its markets are graded by the score and settled by the worker; "
                      "the players' stat lines posted with it are final."),
    ObjectAction("cancel", "Cancel event", EVENT, _event_cancel, form=ReasonForm,
                 offered=lambda e: e.status != Event.Status.CANCELLED and e.home_score is None,
                 help="Every market is cancelled and every leg on the event becomes void. A reason is required."),
)


@admin.register(Event)
class EventAdmin(ServiceActionsAdmin):
    list_display = ["__str__", "sport", "competition", "start_time", "status", "score"]
    list_filter = ["status", "sport"]
    search_fields = ["home", "away", "competition__name"]
    inlines = [MarketInline, PlayerInline]
    date_hierarchy = "start_time"
    object_actions = EVENT_ACTIONS

    def has_change_permission(self, request, obj=None):
        return False  # states change by actions; the add form goes through event_create

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = EventCreateForm(request.POST if request.method == "POST" else None)
        status = 400 if request.method == "POST" else 200
        if request.method == "POST" and form.is_valid():
            values = form.cleaned_data
            try:
                event = services.event_create(
                    home_team=values["home_team"], away_team=values["away_team"], sport=values["sport"].key,
                    competition=values["competition"], start_time=values["start_time"], markets=form.markets(),
                    players=values["players"], actor=Actor.from_request(request))
            except DomainError as exc:
                messages.error(request, domain_error_text(exc))
                status = exc.status
            else:
                messages.success(request, f"{event} created with {event.markets.count()} markets.")
                return redirect(reverse("admin:events_event_change", args=[event.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "title": "Add event with its markets", "media": self.media + form.media}
        return TemplateResponse(request, "admin/oddslab/event_add.html", context, status=status)


# --- Outcomes, and the market and outcome pages ----------------------------------------------

class PriceForm(forms.Form):
    price = forms.CharField(max_length=12, widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8}),
                            help_text="Pinned until released: feed prices are recorded but not applied.")
    reason = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"size": 60}))


def _price_set(outcome, data, actor):
    done = services.outcome_price_set(outcome_id=outcome.pk, price=data["price"].strip(), reason=data["reason"],
                                      actor=actor)
    return f"{done.name} is now {done.price} (pinned)."


def _price_release(outcome, data, actor):
    done = services.outcome_price_release(outcome_id=outcome.pk, actor=actor)
    return f"{done.name} follows the feed again (now {done.price})."


OUTCOME_ACTIONS = (
    ObjectAction("price", "Override price", OUTCOME, _price_set, form=PriceForm,
                 initial=lambda o: {"price": str(o.price)}),
    ObjectAction("release", "Release pin", OUTCOME, _price_release, offered=lambda o: o.pinned),
)


class OutcomeInline(ActionLinksInline):
    model = Outcome
    fields = ["key", "name", "price", "pinned", "status"]
    show_change_link = True
    actions_permission = OUTCOME
    console_actions = OUTCOME_ACTIONS


def _bulk_market(name: str, label: str, service):
    return bulk_service_action(name=name, label=label, permission=MARKET, run=_market_move(service, label.lower()))


@admin.register(Market)
class MarketAdmin(ServiceActionsAdmin, HistoryAdmin, ReadOnlyAdmin):
    list_display = ["__str__", "kind", "line", "status", "status_reason"]
    list_filter = ["status", "kind", "event__status"]
    search_fields = ["event__home", "event__away", "name"]
    list_select_related = ["event"]
    inlines = [OutcomeInline]
    object_actions = MARKET_ACTIONS
    history_list_display = ["status", "status_reason"]
    actions = [_bulk_market("suspend_markets", "Suspend", services.market_suspend),
               _bulk_market("resume_markets", "Resume", services.market_resume),
               _bulk_market("close_markets", "Close", services.market_close),
               _bulk_market("cancel_markets", "Cancel", services.market_cancel)]


@admin.register(Outcome)
class OutcomeAdmin(ServiceActionsAdmin, HistoryAdmin, ReadOnlyAdmin):
    list_display = ["__str__", "market", "price", "pinned", "feed_price", "status"]
    list_filter = ["pinned", "status"]
    list_select_related = ["market__event"]
    search_fields = ["name", "market__event__home", "market__event__away"]
    object_actions = OUTCOME_ACTIONS
    history_list_display = ["price", "pinned", "feed_price", "status"]


@admin.register(OddsTick)
class OddsTickAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "outcome", "old_price", "new_price", "source", "applied", "reason", "actor"]
    list_filter = ["source", "applied"]
