"""Sports, competitions, events, markets, outcomes and every price change (odds ticks)."""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

PRICE = {"max_digits": 8, "decimal_places": 3}


class Sport(models.Model):
    key = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    # In-play bets wait this long before acceptance, so a bettor watching a faster feed than ours
    # cannot bet on what already happened.
    inplay_delay_seconds = models.PositiveSmallIntegerField(default=5)
    history = HistoricalRecords()  # its admin is an audited settings page, with a History button

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Competition(models.Model):
    sport = models.ForeignKey(Sport, on_delete=models.PROTECT, related_name="competitions")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["sport", "name"], name="competition_unique")]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        LIVE = "live", "Live"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"

    sport = models.ForeignKey(Sport, on_delete=models.PROTECT, related_name="events")
    competition = models.ForeignKey(Competition, on_delete=models.PROTECT, related_name="events")
    home = models.CharField(max_length=120)
    away = models.CharField(max_length=120)
    start_time = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED,
                              db_index=True)
    home_score = models.PositiveSmallIntegerField(null=True, blank=True)
    away_score = models.PositiveSmallIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # While the game is on: the running score and clock as the feed reports them ("1-0", "63'");
    # home_score/away_score hold only the final result.
    live_score = models.CharField(max_length=16, blank=True, default="")
    clock = models.CharField(max_length=16, blank=True, default="")
    # The feed's own id for this event, and the last feed sequence number applied to it.
    external_ref = models.CharField(max_length=80, unique=True, null=True, blank=True)
    feed_seq = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["start_time", "id"]
        constraints = [models.CheckConstraint(condition=~Q(home=models.F("away")),
                                              name="event_two_sides")]

    def __str__(self) -> str:
        return f"{self.home} v {self.away}"

    @property
    def score(self) -> str | None:
        if self.home_score is None or self.away_score is None:
            return None
        return f"{self.home_score}-{self.away_score}"

    @property
    def current_score(self) -> str | None:
        """The score a bettor sees: the final one once resulted, else the running one while the game
        is on or waits for its result (0-0 before anyone scores); none before the start."""
        if self.score is not None:
            return self.score
        if self.status in (self.Status.LIVE, self.Status.FINISHED):
            return self.live_score or "0-0"
        return None


class Market(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SUSPENDED = "suspended", "Suspended"
        CLOSED = "closed", "Closed"
        RESULTED = "resulted", "Resulted"
        SETTLED = "settled", "Settled"
        CANCELLED = "cancelled", "Cancelled"

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="markets")
    kind = models.CharField(max_length=40)
    line = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    name = models.CharField(max_length=120)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    status_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    external_ref = models.CharField(max_length=80, unique=True, null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["event_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "kind", "line"], name="market_unique",
                                    nulls_distinct=False),
        ]
        # A decided market is never decided again another way: bets may already be settled on it.
        triggers = [pgtrigger.Protect(
            name="market_decided_stays", operation=pgtrigger.Update,
            condition=pgtrigger.Q(old__status__in=["resulted", "settled"])
            & ~pgtrigger.Q(new__status__in=["resulted", "settled"]))]

    def __str__(self) -> str:
        return f"{self.event}: {self.name}"


class Outcome(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        VOID = "void", "Void"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="outcomes")
    key = models.CharField(max_length=32)
    name = models.CharField(max_length=120)
    price = models.DecimalField(**PRICE)
    # An operator's override pins the price; feed prices are then recorded but not applied.
    pinned = models.BooleanField(default=False)
    feed_price = models.DecimalField(**PRICE, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    history = HistoricalRecords()

    class Meta:
        ordering = ["market_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["market", "key"], name="outcome_unique"),
            models.CheckConstraint(condition=Q(price__gte="1.01"), name="outcome_price_min"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.price}"


class Player(models.Model):
    """A player on one side of one event's roster, with the stat line the feed grows while the game
    runs; the line posted with the result is final (challenges on propositions settle on it)."""

    class Team(models.TextChoices):
        HOME = "home", "Home"
        AWAY = "away", "Away"

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="players")
    name = models.CharField(max_length=120)
    team = models.CharField(max_length=8, choices=Team.choices)
    points = models.PositiveSmallIntegerField(default=0)
    rebounds = models.PositiveSmallIntegerField(default=0)
    assists = models.PositiveSmallIntegerField(default=0)
    external_ref = models.CharField(max_length=80, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["event_id", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "team", "name"], name="player_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.team})"

    @property
    def stats(self) -> dict[str, int]:
        return {"points": self.points, "rebounds": self.rebounds, "assists": self.assists}


class OddsTick(models.Model):
    class Source(models.TextChoices):
        FEED = "feed", "Feed"
        OPERATOR = "operator", "Operator"

    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="ticks")
    old_price = models.DecimalField(**PRICE, null=True, blank=True)
    new_price = models.DecimalField(**PRICE)
    source = models.CharField(max_length=16, choices=Source.choices)
    # False when a feed price arrived while an operator had the price pinned.
    applied = models.BooleanField(default=True)
    reason = models.CharField(max_length=200, blank=True, default="")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["outcome", "created_at"], name="oddstick_outcome_idx")]

    def __str__(self) -> str:
        return f"{self.outcome_id}: {self.old_price} → {self.new_price} ({self.source})"
