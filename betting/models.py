"""Bets and their legs."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.functional import cached_property

from audit.tenancy import TenantQuerySet
from core.db import ExactDecimalField

MONEY = {"max_digits": 18, "decimal_places": 2}


class Bet(models.Model):
    tenant_paths = ("player__tenant",)  # audit.tenancy

    class Type(models.TextChoices):
        SINGLE = "single", "Single"
        MULTIPLE = "multiple", "Multiple"

    class Status(models.TextChoices):
        PLACED = "placed", "Placed (waiting for the in-play delay)"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        SETTLED = "settled", "Settled"

    class Result(models.TextChoices):
        WON = "won", "Won"
        LOST = "lost", "Lost"
        VOID = "void", "Void"

    class OddsChange(models.TextChoices):
        NONE = "none", "Refuse any price change"
        HIGHER = "higher", "Accept better prices"
        ANY = "any", "Accept any price"

    # No index of its own: bet_player_placed_idx leads with it.
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bets",
                               db_index=False)
    bet_type = models.CharField(max_length=16, choices=Type.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    result = models.CharField(max_length=8, choices=Result.choices, null=True, blank=True)
    stake = models.DecimalField(**MONEY)
    # The exact product of the legs' prices: up to 100 legs of three decimals, so no fixed scale.
    total_odds = ExactDecimalField()
    potential_return = models.DecimalField(**MONEY)
    payout = models.DecimalField(**MONEY, null=True, blank=True)
    odds_change = models.CharField(max_length=8, choices=OddsChange.choices)
    in_play = models.BooleanField(default=False)
    accept_after = models.DateTimeField(null=True, blank=True)
    placed_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=200, blank=True, default="")
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    # A hash of the request body, so a reused Idempotency-Key with another body is a conflict.
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at", "-id"]
        permissions = [("export_reports", "Can download the bets, ledger and settlements exports"),
                       ("settle_bet", "Can settle a bet by hand")]
        indexes = [
            models.Index(fields=["player", "placed_at"], name="bet_player_placed_idx"),
            models.Index(fields=["player", "settled_at"], name="bet_player_settled_idx"),  # today's losses
            models.Index(fields=["status", "accept_after"], name="bet_status_accept_idx"),
            # Settlement claims accepted bets in id order; without this it reads past every bet
            # already settled, so each batch of a big event was slower than the one before.
            models.Index(fields=["id"], condition=Q(status="accepted"), name="bet_accepted_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["player", "idempotency_key"], name="bet_idempotency_key",
                                    condition=Q(idempotency_key__isnull=False)),
            models.CheckConstraint(condition=Q(stake__gt=0), name="bet_stake_positive"),
            models.CheckConstraint(condition=Q(total_odds__gte=1), name="bet_total_odds_min"),
            models.CheckConstraint(
                condition=Q(status="settled", result__isnull=False)
                | (~Q(status="settled") & Q(result__isnull=True)),
                name="bet_result_iff_settled"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_number} {self.stake} @ {self.total_odds}"

    @property
    def ticket_number(self) -> str:
        return format_ticket_number(self.pk)

    @cached_property
    def leg_list(self) -> list["BetLeg"]:
        """The legs in position order: prefetched by the selectors, set as written by placement
        (so a placement's answer does not read back what it has just inserted)."""
        return list(self.legs.all())


def format_ticket_number(bet_id: int) -> str:
    return f"BET-{bet_id:09d}"


class BetLeg(models.Model):
    tenant_paths = ("bet__player__tenant",)  # audit.tenancy

    bet = models.ForeignKey(Bet, on_delete=models.PROTECT, related_name="legs")
    position = models.PositiveSmallIntegerField()
    outcome = models.ForeignKey("events.Outcome", on_delete=models.PROTECT, related_name="legs")
    market = models.ForeignKey("events.Market", on_delete=models.PROTECT, related_name="legs")
    # Denormalised so the database itself refuses two legs on one event in a multiple.
    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="legs")
    price = models.DecimalField(max_digits=8, decimal_places=3)
    result = models.CharField(max_length=8, choices=Bet.Result.choices, null=True, blank=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["bet_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["bet", "event"], name="betleg_one_per_event"),
            models.UniqueConstraint(fields=["bet", "position"], name="betleg_position"),
        ]
        indexes = [models.Index(fields=["outcome"], name="betleg_outcome_idx"),
                   models.Index(fields=["market", "bet"], name="betleg_market_idx")]

    def __str__(self) -> str:
        return f"{self.bet_id}#{self.position} {self.outcome_id} @ {self.price}"


class Challenge(models.Model):
    """A peer-to-peer challenge: the creator backs a selection (an outcome, or a player's stat line
    over or under a line), whoever accepts takes the other side with an equal stake, and both stakes
    sit in escrow until the event decides it (API.md "Peer-to-peer challenges")."""

    tenant_paths = ("creator__tenant", "acceptor__tenant")  # audit.tenancy

    class Status(models.TextChoices):
        ESCROW_PENDING = "escrow_pending", "Creator's stake on its way to escrow"
        OPEN = "open", "Open"
        MATCHING = "matching", "Acceptor's stake on its way to escrow"
        MATCHED = "matched", "Matched"
        SETTLED = "settled", "Settled"
        FAILED = "failed", "Failed (a transfer into escrow failed)"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        VOID = "void", "Void"

    class Result(models.TextChoices):
        WON = "won", "Won (the creator's side)"
        LOST = "lost", "Lost (the creator's side)"

    class Stat(models.TextChoices):
        POINTS = "points", "Points"
        REBOUNDS = "rebounds", "Rebounds"
        ASSISTS = "assists", "Assists"

    class Side(models.TextChoices):
        OVER = "over", "Over"
        UNDER = "under", "Under"

    class Waiting(models.TextChoices):
        """Why money a decided challenge owes is still in escrow, with nothing on its way out."""

        NOTHING = "", "Nothing"
        ESCROW_AUDIT = "escrow_audit", "Refund waiting for escrow to balance"
        OPERATOR = "operator", "Transfer out failed every retry; waiting for an operator"

    # Escrow holds the stakes of these (the liquidity audit's "expected").
    HELD = (Status.OPEN, Status.MATCHING, Status.MATCHED)
    # What an event's cancellation, or an operator, voids: every challenge that holds, or is about to
    # hold, a stake.
    VOIDABLE = (Status.ESCROW_PENDING, *HELD)

    # event: indexed by challenge_event_status_idx (and challenge_pending_idx), which lead with it
    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="challenges", db_index=False)
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="challenges_created")
    acceptor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="challenges_accepted")
    # The creator's selection: an outcome, or a proposition on a player's stat line.
    outcome = models.ForeignKey("events.Outcome", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="challenges")
    player = models.ForeignKey("events.Player", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="challenges")
    stat = models.CharField(max_length=16, choices=Stat.choices, blank=True, default="")
    line = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    side = models.CharField(max_length=8, choices=Side.choices, blank=True, default="")
    stake = models.DecimalField(**MONEY)
    creator_funding = models.CharField(max_length=16)
    acceptor_funding = models.CharField(max_length=16, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ESCROW_PENDING)
    result = models.CharField(max_length=8, choices=Result.choices, null=True, blank=True)
    winner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="challenges_won", db_index=False)  # never searched by
    fee = models.DecimalField(**MONEY, null=True, blank=True)
    payout = models.DecimalField(**MONEY, null=True, blank=True)
    status_reason = models.CharField(max_length=200, blank=True, default="")
    # Set while money it owes stays in the vault (the liquidity audit still expects it there).
    money_waiting = models.CharField(max_length=16, choices=Waiting.choices, blank=True, default="")
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    # The acceptor's Idempotency-Key and body, as the creator's: the same key again answers the
    # acceptance, with another body it is a conflict (cleared with the acceptor if the stake fails).
    acceptor_idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    acceptor_fingerprint = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    matched_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    # The status as read from the database (None for a challenge made here): whether a change took
    # the challenge into or out of ``open``, which everyone watching challenges hears of (betting.news).
    status_known: str | None = None
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["event", "status"], name="challenge_event_status_idx"),
            # The liquidity audit's sum of held stakes before every payout batch, from the index alone.
            models.Index(fields=["status"], include=["creator_funding", "acceptor_funding", "stake"],
                         condition=Q(status__in=("open", "matching", "matched")), name="challenge_held_idx"),
            models.Index(fields=["money_waiting"], name="challenge_money_waiting_idx",
                         condition=~models.Q(money_waiting="")),
            # Settlement's claim: an event's challenges that may still be decided (VOIDABLE), in id
            # order, so a batch reads its thousand and stops instead of sorting the event's pending.
            models.Index(fields=["event", "id"], name="challenge_pending_idx",
                         condition=Q(status__in=("escrow_pending", "open", "matching", "matched"))),
        ]
        constraints = [
            models.UniqueConstraint(fields=["creator", "idempotency_key"], name="challenge_idempotency_key",
                                    condition=Q(idempotency_key__isnull=False)),
            models.CheckConstraint(condition=Q(stake__gt=0), name="challenge_stake_positive"),
            models.CheckConstraint(condition=~Q(acceptor=models.F("creator")), name="challenge_two_parties"),
            # exactly one kind of selection
            models.CheckConstraint(
                condition=Q(outcome__isnull=False, player__isnull=True, line__isnull=True, stat="", side="")
                | Q(outcome__isnull=True, player__isnull=False, line__isnull=False) & ~Q(stat="") & ~Q(side=""),
                name="challenge_one_selection"),
            models.CheckConstraint(
                condition=Q(status="settled", result__isnull=False, winner__isnull=False, payout__isnull=False)
                | (~Q(status="settled") & Q(result__isnull=True)),
                name="challenge_result_iff_settled"),
        ]

    def __str__(self) -> str:
        return f"CH-{self.pk} {self.stake} ({self.status})"

    @classmethod
    def from_db(cls, db, field_names, values):
        challenge = super().from_db(db, field_names, values)
        challenge.status_known = challenge.__dict__.get("status")  # absent when deferred
        return challenge

    @property
    def pot(self):
        return self.stake * 2


class BettorStats(models.Model):
    """A player's settled bets (or challenges) of one product in one week (weeks start on Monday, UTC),
    added to by every settlement batch, so /me/stats and the leaderboard read a few rows, not the book.
    Profit is ``returned - staked``."""

    tenant_paths = ("user__tenant",)  # audit.tenancy

    class Product(models.TextChoices):
        SPORTS = "sports", "Sportsbook"
        P2P = "p2p", "Peer-to-peer challenges"

    # indexed by bettorstats_user_product_week, which leads with it
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bettor_stats",
                             db_index=False)
    product = models.CharField(max_length=8, choices=Product.choices)
    week = models.DateField(help_text="The Monday (UTC) the week starts on.")
    bets = models.PositiveIntegerField(default=0)
    won = models.PositiveIntegerField(default=0)
    lost = models.PositiveIntegerField(default=0)
    void = models.PositiveIntegerField(default=0)
    staked = models.DecimalField(**MONEY, default=0)
    returned = models.DecimalField(**MONEY, default=0)
    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "bettor stats"
        constraints = [
            models.UniqueConstraint(fields=["user", "product", "week"], name="bettorstats_user_product_week"),
            models.CheckConstraint(condition=Q(bets=models.F("won") + models.F("lost") + models.F("void")),
                                   name="bettorstats_results_add_up"),
        ]
        indexes = [models.Index(fields=["week", "product"], name="bettorstats_week_idx")]  # the leaderboard

    def __str__(self) -> str:
        return f"{self.user_id} {self.product} {self.week}: {self.bets} bets"

    @property
    def profit(self):
        return self.returned - self.staked


class EscrowAudit(models.Model):
    """One run of the liquidity audit (betting/escrow_audit.py): what each escrow vault holds as its
    gateway reports it against what the platform's books say it must hold. A mismatch stops payouts."""

    checked_at = models.DateTimeField(db_index=True)
    ok = models.BooleanField()
    vault_internal = models.DecimalField(**MONEY)
    vault_external = models.DecimalField(**MONEY)
    expected_internal = models.DecimalField(**MONEY)
    expected_external = models.DecimalField(**MONEY)
    # The ledger's mirror of the external vault (house escrow_external), which must equal it.
    mirror_external = models.DecimalField(**MONEY)
    problems = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-checked_at", "-id"]
        verbose_name = "escrow audit"

    def __str__(self) -> str:
        return f"{self.checked_at:%Y-%m-%d %H:%M:%S} {'ok' if self.ok else 'MISMATCH'}"

    @property
    def difference_internal(self):
        return self.vault_internal - self.expected_internal

    @property
    def difference_external(self):
        return self.vault_external - self.expected_external
