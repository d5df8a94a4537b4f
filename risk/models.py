"""Limits, exposure caps, geofencing and responsible-gambling settings: the rules as data."""

from dataclasses import dataclass, fields
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

MONEY = {"max_digits": 18, "decimal_places": 2}
ODDS = {"max_digits": 12, "decimal_places": 3}

# Every limit of a LimitProfile; a blank field inherits from the next more general scope.
# No scope may allow more legs than this: the API refuses longer lists before reading them.
SELECTIONS_CEILING = 1000

LIMIT_FIELDS = ["min_stake", "max_stake", "max_winning", "max_selections", "min_price", "max_price",
                "max_combined_odds", "velocity_max_bets", "velocity_max_stake", "velocity_window_seconds"]


@dataclass(frozen=True)
class Limits:
    """The limits that apply to a stake; these defaults where no LimitProfile sets one (DESIGN.md "Bets")."""

    min_stake: Decimal = Decimal("1.00")
    max_stake: Decimal = Decimal("100000.00")
    max_winning: Decimal = Decimal("500000.00")
    max_selections: int = 100
    min_price: Decimal = Decimal("1.01")
    max_price: Decimal = Decimal("100")
    max_combined_odds: Decimal = Decimal("1000")
    velocity_max_bets: int = 120
    velocity_max_stake: Decimal = Decimal("200000.00")
    velocity_window_seconds: int = 60


DEFAULTS = Limits()
assert [f.name for f in fields(Limits)] == LIMIT_FIELDS


class LimitProfile(models.Model):
    class Scope(models.TextChoices):
        GLOBAL = "global", "Global"
        SPORT = "sport", "Sport"
        COMPETITION = "competition", "Competition"
        GROUP = "group", "Player group"
        PLAYER = "player", "Player"

    scope = models.CharField(max_length=16, choices=Scope.choices)
    sport = models.ForeignKey("events.Sport", null=True, blank=True, on_delete=models.CASCADE)
    competition = models.ForeignKey("events.Competition", null=True, blank=True, on_delete=models.CASCADE)
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE)
    player = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="limit_profiles")
    min_stake = models.DecimalField(**MONEY, null=True, blank=True)
    max_stake = models.DecimalField(**MONEY, null=True, blank=True)
    max_winning = models.DecimalField(**MONEY, null=True, blank=True)
    max_selections = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(SELECTIONS_CEILING)])
    min_price = models.DecimalField(**ODDS, null=True, blank=True)
    max_price = models.DecimalField(**ODDS, null=True, blank=True)
    max_combined_odds = models.DecimalField(**ODDS, null=True, blank=True)
    velocity_max_bets = models.PositiveIntegerField(null=True, blank=True)
    velocity_max_stake = models.DecimalField(**MONEY, null=True, blank=True)
    velocity_window_seconds = models.PositiveIntegerField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        constraints = [
            # Exactly the target its scope names, and one profile per target.
            models.CheckConstraint(name="limitprofile_scope_target", condition=(
                Q(scope="global", sport__isnull=True, competition__isnull=True, group__isnull=True,
                  player__isnull=True)
                | Q(scope="sport", sport__isnull=False, competition__isnull=True, group__isnull=True,
                    player__isnull=True)
                | Q(scope="competition", competition__isnull=False, sport__isnull=True,
                    group__isnull=True, player__isnull=True)
                | Q(scope="group", group__isnull=False, sport__isnull=True, competition__isnull=True,
                    player__isnull=True)
                | Q(scope="player", player__isnull=False, sport__isnull=True, competition__isnull=True,
                    group__isnull=True))),
            models.UniqueConstraint(fields=["scope", "sport", "competition", "group", "player"],
                                    name="limitprofile_one_per_target", nulls_distinct=False),
            models.CheckConstraint(name="limitprofile_selections_bounded", condition=(
                Q(max_selections__isnull=True) | Q(max_selections__gte=1, max_selections__lte=SELECTIONS_CEILING))),
        ]

    def __str__(self) -> str:
        target = self.sport or self.competition or self.group or self.player
        return f"{self.get_scope_display()} limits" + (f": {target}" if target else "")



# Most specific first: for each limit, the first scope that sets it decides.
SCOPE_ORDER = [LimitProfile.Scope.PLAYER, LimitProfile.Scope.GROUP, LimitProfile.Scope.COMPETITION,
               LimitProfile.Scope.SPORT, LimitProfile.Scope.GLOBAL]
# Lower bounds: within a scope the strictest is the highest; for every other limit it is the lowest.
LOWER_BOUNDS = {"min_stake", "min_price"}


class ExposureCap(models.Model):
    """The most one outcome may owe in worst-case payouts, by market kind and/or sport."""

    sport = models.ForeignKey("events.Sport", null=True, blank=True, on_delete=models.CASCADE)
    market_kind = models.CharField(max_length=40, blank=True, default="")
    cap = models.DecimalField(**MONEY)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sport", "market_kind"], name="exposurecap_unique",
                                    nulls_distinct=False),
            models.CheckConstraint(condition=Q(cap__gt=0), name="exposurecap_positive"),
        ]

    def __str__(self) -> str:
        return f"Exposure cap {self.cap} ({self.sport or 'any sport'}, {self.market_kind or 'any kind'})"


class OutcomeExposure(models.Model):
    """Open liability on one outcome: a hot counter changed only by one conditional UPDATE."""

    outcome = models.OneToOneField("events.Outcome", primary_key=True, on_delete=models.CASCADE,
                                   related_name="exposure")
    stakes = models.DecimalField(**MONEY, default=0)
    worst_case_payout = models.DecimalField(**MONEY, default=0)
    bets = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(worst_case_payout__gte=0) & Q(stakes__gte=0) & Q(bets__gte=0),
                                   name="outcomeexposure_not_negative"),
        ]

    def __str__(self) -> str:
        return f"Outcome {self.outcome_id}: {self.worst_case_payout}"


class Geofence(models.Model):
    """One row: whether geofencing is on and which countries it blocks."""

    enabled = models.BooleanField(default=False)
    blocked_countries = ArrayField(models.CharField(max_length=2), default=list, blank=True,
                                   help_text="ISO 3166-1 alpha-2 codes, e.g. US, FR")
    history = HistoricalRecords()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="geofence_single_row")]

    def __str__(self) -> str:
        return f"Geofencing {'on' if self.enabled else 'off'}: {', '.join(self.blocked_countries) or '-'}"


class PlayerRestriction(models.Model):
    """A player's responsible-gambling limits and KYC state; they stack on the operator's limits."""

    player = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                  related_name="restriction")
    self_excluded_until = models.DateTimeField(null=True, blank=True)
    max_stake = models.DecimalField(**MONEY, null=True, blank=True)
    daily_deposit_limit = models.DecimalField(**MONEY, null=True, blank=True)
    daily_loss_limit = models.DecimalField(**MONEY, null=True, blank=True)
    kyc_verified = models.BooleanField(default=False)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Restrictions of {self.player}"
