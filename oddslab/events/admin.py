from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from oddslab.admin_tools import AuditedSettingsAdmin, ReadOnlyAdmin, ReadOnlyInline
from oddslab.events.models import Competition, Event, Market, OddsTick, Outcome, Sport

# Prices and states change only through the services (API, and the console actions to come),
# so markets, outcomes and event states are read-only here.


@admin.register(Sport)
class SportAdmin(AuditedSettingsAdmin):
    list_display = ["name", "key", "inplay_delay_seconds"]


@admin.register(Competition)
class CompetitionAdmin(admin.ModelAdmin):
    list_display = ["name", "sport"]
    list_filter = ["sport"]
    search_fields = ["name"]


class MarketInline(ReadOnlyInline):
    model = Market
    fields = ["name", "kind", "line", "status"]
    show_change_link = True


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["__str__", "sport", "competition", "start_time", "status", "score"]
    list_filter = ["status", "sport"]
    search_fields = ["home", "away", "competition__name"]
    readonly_fields = ["status", "home_score", "away_score", "started_at", "finished_at"]
    inlines = [MarketInline]
    date_hierarchy = "start_time"


class OutcomeInline(ReadOnlyInline):
    model = Outcome
    fields = ["key", "name", "price", "pinned", "status"]


@admin.register(Market)
class MarketAdmin(SimpleHistoryAdmin, ReadOnlyAdmin):
    list_display = ["__str__", "kind", "line", "status"]
    list_filter = ["status", "kind"]
    inlines = [OutcomeInline]


@admin.register(Outcome)
class OutcomeAdmin(SimpleHistoryAdmin, ReadOnlyAdmin):
    list_display = ["__str__", "market", "price", "pinned", "status"]
    list_filter = ["pinned", "status"]


@admin.register(OddsTick)
class OddsTickAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "outcome", "old_price", "new_price", "source", "applied", "reason", "actor"]
    list_filter = ["source", "applied"]
