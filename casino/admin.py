"""The casino's rows in the console, read-only: rounds and seed pairs change only through casino.services.

A seed pair's server seed is shown once the pair is revealed (rotated), never before: the page, the
list and the search show its SHA-256 only, since an unrevealed seed predicts the player's next rounds.
The admin site scopes both by tenant (audit.tenancy)."""

from django.contrib import admin

from audit.admin_tools import ReadOnlyAdmin
from casino.models import Round, SeedPair

HIDDEN = "(hidden until the pair is rotated)"
SECRET = "server_seed"


class NoSeedLookups:
    """The admin lets a changelist's query string filter by any local field (``?server_seed__startswith=ab``):
    on the server seed that would tell staff an unrevealed seed a character at a time. Refused (400)."""

    def lookup_allowed(self, lookup, value, request=None):
        if SECRET in lookup.split("__"):
            return False
        return super().lookup_allowed(lookup, value, request)


@admin.register(SeedPair)
class SeedPairAdmin(NoSeedLookups, ReadOnlyAdmin):
    list_display = ["id", "player", "server_seed_hash", "client_seed", "next_nonce", "created_at", "revealed_at"]
    list_filter = [("revealed_at", admin.EmptyFieldListFilter)]
    # never the server seed: a search by it would tell whether a guess is right
    search_fields = ["=id", "player__username", "=server_seed_hash", "=client_seed"]
    list_select_related = ["player"]
    fields = ["player", "server_seed_hash", "revealed_server_seed", "client_seed", "next_nonce", "created_at",
              "revealed_at"]
    readonly_fields = fields
    exclude = ["server_seed"]

    @admin.display(description="Server seed")
    def revealed_server_seed(self, pair: SeedPair) -> str:
        return pair.server_seed if pair.revealed else HIDDEN


@admin.register(Round)
class RoundAdmin(NoSeedLookups, ReadOnlyAdmin):
    list_display = ["id", "created_at", "player", "game", "stake", "payout", "won", "multiplier", "outcome", "nonce"]
    list_filter = ["game", "won"]
    search_fields = ["=id", "player__username"]
    list_select_related = ["player"]
    date_hierarchy = "created_at"
    fields = ["player", "game", "stake", "payout", "won", "multiplier", "roll", "target", "direction", "number",
              "bets", "seed_pair", "server_seed_hash", "client_seed", "nonce", "idempotency_key", "created_at"]
    readonly_fields = fields

    @admin.display(description="Outcome")
    def outcome(self, r: Round):
        return r.outcome

    @admin.display(description="Server seed hash")
    def server_seed_hash(self, r: Round) -> str:
        return r.seed_pair.server_seed_hash

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("seed_pair")
