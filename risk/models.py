"""Limits, exposure caps, geofencing and responsible-gambling settings: the rules as data."""

from dataclasses import dataclass, fields
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from encrypted_fields.fields import EncryptedCharField
from simple_history.models import HistoricalRecords

from audit.tenancy import TenantQuerySet

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


TARGETS = ("tenant", "sport", "competition", "group", "player")


def _no_target(*but: str) -> dict[str, bool]:
    return {f"{name}__isnull": True for name in TARGETS if name not in but}


class LimitProfile(models.Model):
    tenant_paths = ("tenant", "player__tenant")  # audit.tenancy

    class Scope(models.TextChoices):
        GLOBAL = "global", "Global"
        TENANT = "tenant", "Tenant"
        SPORT = "sport", "Sport"
        COMPETITION = "competition", "Competition"
        GROUP = "group", "Player group"
        PLAYER = "player", "Player"

    scope = models.CharField(max_length=16, choices=Scope.choices)
    tenant = models.ForeignKey("accounts.Tenant", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="limit_profiles")
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
    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            # Exactly the target its scope names, and one profile per target.
            models.CheckConstraint(name="limitprofile_scope_target", condition=(
                Q(scope="global", **_no_target())
                | Q(scope="tenant", tenant__isnull=False, **_no_target("tenant"))
                | Q(scope="sport", sport__isnull=False, **_no_target("sport"))
                | Q(scope="competition", competition__isnull=False, **_no_target("competition"))
                | Q(scope="group", group__isnull=False, **_no_target("group"))
                | Q(scope="player", player__isnull=False, **_no_target("player")))),
            models.UniqueConstraint(fields=["scope", "tenant", "sport", "competition", "group", "player"],
                                    name="limitprofile_one_per_target", nulls_distinct=False),
            models.CheckConstraint(name="limitprofile_selections_bounded", condition=(
                Q(max_selections__isnull=True) | Q(max_selections__gte=1, max_selections__lte=SELECTIONS_CEILING))),
        ]

    def __str__(self) -> str:
        target = self.tenant or self.sport or self.competition or self.group or self.player
        return f"{self.get_scope_display()} limits" + (f": {target}" if target else "")



# Most specific first: for each limit, the first scope that sets it decides.
SCOPE_ORDER = [LimitProfile.Scope.PLAYER, LimitProfile.Scope.GROUP, LimitProfile.Scope.COMPETITION,
               LimitProfile.Scope.SPORT, LimitProfile.Scope.TENANT, LimitProfile.Scope.GLOBAL]
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


# The limits a player sets on themself (API.md "Responsible gambling"), by their names in the API:
# money per rolling period (day 24 h, week 7 d, month 30 d: risk/sql.py), a stake, minutes of a session.
DEPOSIT_LIMITS = ["deposit_day", "deposit_week", "deposit_month"]
LOSS_LIMITS = ["loss_day", "loss_week", "loss_month"]
MINUTE_LIMITS = ["session_minutes", "reality_check_minutes"]
PLAYER_LIMITS = [*DEPOSIT_LIMITS, *LOSS_LIMITS, "max_stake", *MINUTE_LIMITS]
MINUTES_CEILING = 24 * 60


class KycStatus(models.TextChoices):
    UNVERIFIED = "unverified", "Unverified"
    PENDING = "pending", "Pending review"
    VERIFIED = "verified", "Verified"
    REJECTED = "rejected", "Rejected"


class PlayerRestriction(models.Model):
    """A player's own safer-gambling limits, time-out, self-exclusion and KYC state. They stack on the
    operator's limits (the stricter wins). A tighter limit applies at once, a looser one or a removal
    after the cooling-off period (LimitChange); a time-out or a self-exclusion cannot be shortened, and
    the database refuses it (risk/sql.py's trigger)."""

    tenant_paths = ("player__tenant",)  # audit.tenancy

    player = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                  related_name="restriction")
    self_excluded_until = models.DateTimeField(null=True, blank=True)
    timed_out_until = models.DateTimeField(null=True, blank=True)
    max_stake = models.DecimalField(**MONEY, null=True, blank=True)
    deposit_day = models.DecimalField(**MONEY, null=True, blank=True)
    deposit_week = models.DecimalField(**MONEY, null=True, blank=True)
    deposit_month = models.DecimalField(**MONEY, null=True, blank=True)
    loss_day = models.DecimalField(**MONEY, null=True, blank=True)
    loss_week = models.DecimalField(**MONEY, null=True, blank=True)
    loss_month = models.DecimalField(**MONEY, null=True, blank=True)
    session_minutes = models.PositiveIntegerField(null=True, blank=True)
    reality_check_minutes = models.PositiveIntegerField(null=True, blank=True)
    kyc_status = models.CharField(max_length=16, choices=KycStatus.choices, default=KycStatus.UNVERIFIED)
    kyc_reason = models.CharField(max_length=200, blank=True, default="")
    history = HistoricalRecords()
    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(name="restriction_limits_positive", condition=(
                Q(max_stake__gt=0) | Q(max_stake__isnull=True))
                & (Q(deposit_day__gt=0) | Q(deposit_day__isnull=True))
                & (Q(deposit_week__gt=0) | Q(deposit_week__isnull=True))
                & (Q(deposit_month__gt=0) | Q(deposit_month__isnull=True))
                & (Q(loss_day__gt=0) | Q(loss_day__isnull=True))
                & (Q(loss_week__gt=0) | Q(loss_week__isnull=True))
                & (Q(loss_month__gt=0) | Q(loss_month__isnull=True))),
            models.CheckConstraint(name="restriction_minutes_in_a_day", condition=(
                Q(session_minutes__range=(1, MINUTES_CEILING)) | Q(session_minutes__isnull=True))
                & (Q(reality_check_minutes__range=(1, MINUTES_CEILING)) | Q(reality_check_minutes__isnull=True))),
        ]

    def __str__(self) -> str:
        return f"Restrictions of {self.player}"


class LimitChange(models.Model):
    """A loosening or a removal of a player's limit, waiting out ``RG_COOLING_OFF_HOURS``; the player
    may withdraw it until it applies. One pending change per limit."""

    tenant_paths = ("player__tenant",)  # audit.tenancy

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPLIED = "applied", "Applied"
        WITHDRAWN = "withdrawn", "Withdrawn"

    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="limit_changes")
    limit = models.CharField(max_length=32, choices=[(name, name) for name in PLAYER_LIMITS])
    value = models.DecimalField(**MONEY, null=True, blank=True)  # None: the limit is removed
    requested_at = models.DateTimeField()
    effective_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    resolved_at = models.DateTimeField(null=True, blank=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["player", "limit"], condition=Q(status="pending"),
                                    name="limitchange_one_pending"),
        ]
        indexes = [models.Index(fields=["effective_at"], condition=Q(status="pending"), name="limitchange_due_idx")]

    def __str__(self) -> str:
        value = "none" if self.value is None else self.value
        return f"{self.limit} -> {value} at {self.effective_at:%Y-%m-%d %H:%M}"

    @property
    def limit_value(self) -> Decimal | int | None:
        """The value as its limit holds it: the column is money-shaped, minutes are whole numbers."""
        return int(self.value) if self.value is not None and self.limit in MINUTE_LIMITS else self.value


class KycDocument(models.Model):
    """An identity document a player submitted, and compliance's decision on it. The number and the
    file are personal data: the number is encrypted at rest (Fernet, the key from the environment),
    the file is stored encrypted under the media root."""

    tenant_paths = ("player__tenant",)  # audit.tenancy

    class DocumentType(models.TextChoices):
        PASSPORT = "passport", "Passport"
        ID_CARD = "id_card", "Identity card"
        DRIVING_LICENCE = "driving_licence", "Driving licence"

    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="kyc_documents")
    document_type = models.CharField(max_length=32, choices=DocumentType.choices)
    document_number = EncryptedCharField(max_length=64)
    file = models.CharField(max_length=200, blank=True, default="")  # under MEDIA_ROOT, encrypted
    file_size = models.PositiveIntegerField(null=True, blank=True)
    file_content_type = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(max_length=16, choices=KycStatus.choices, default=KycStatus.PENDING)
    reason = models.CharField(max_length=200, blank=True, default="")
    submitted_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["status", "submitted_at"], name="kycdocument_queue_idx")]
        # At most one document waits for review per player (risk.kyc refuses a second with kyc_pending).
        constraints = [models.UniqueConstraint(fields=["player"], condition=Q(status="pending"),
                                               name="kycdocument_one_pending")]

    def __str__(self) -> str:
        return f"{self.get_document_type_display()} of {self.player} ({self.status})"


class AmlAlert(models.Model):
    """What a transaction-monitoring rule saw (API.md "Compliance"). An alert never blocks anyone by
    itself; compliance investigates and closes it with a reason. One alert per rule and reference
    (the deposit, the withdrawal or the address and day that raised it): a rule run twice raises it once."""

    tenant_paths = ("user__tenant",)  # audit.tenancy

    class Rule(models.TextChoices):
        LARGE_DEPOSIT = "large_deposit", "Large deposit"
        DEPOSIT_VELOCITY = "deposit_velocity", "Deposit velocity"
        STRUCTURING = "structuring", "Structuring"
        LOW_TURNOVER_WITHDRAWAL = "low_turnover_withdrawal", "Withdrawal with low turnover"
        SHARED_IP = "shared_ip", "Accounts sharing an address"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        INVESTIGATING = "investigating", "Investigating"
        CLOSED = "closed", "Closed"

    class Severity(models.TextChoices):
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    rule = models.CharField(max_length=32, choices=Rule.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="aml_alerts")
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    reference = models.CharField(max_length=100)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    closed_reason = models.CharField(max_length=500, blank=True, default="")
    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "reference"], name="amlalert_once_per_reference"),
            models.CheckConstraint(name="amlalert_closed_with_reason",
                                   condition=~Q(status="closed") | ~Q(closed_reason="")),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="amlalert_queue_idx")]

    def __str__(self) -> str:
        return f"{self.get_rule_display()}: {self.user} ({self.status})"
