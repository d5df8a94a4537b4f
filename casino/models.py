"""The casino sandbox's rows (docs/casino.md): a player's seed pairs and the rounds played on them.

A ``SeedPair`` holds the server seed (secret until the pair is rotated, only its SHA-256 shown), the
player's client seed and the next nonce; a player has one unrevealed pair at a time. A ``Round`` is
one dice roll or roulette spin: what was staked and paid, the outcome and what it was drawn from
(seed pair, client seed, nonce), so it can be verified once the server seed is revealed. Rounds are
never changed (database trigger); the money moves in the ledger (CASINO_STAKE, CASINO_PAYOUT).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from audit.tenancy import TenantQuerySet
from core.db import append_only

MONEY = {"max_digits": 18, "decimal_places": 2}


class SeedPair(models.Model):
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="casino_seed_pairs")
    # 32 random bytes as 64 lowercase hex characters (secrets.token_hex(32)); shown once revealed.
    server_seed = models.CharField(max_length=64)
    # SHA-256 of the server seed's 64 characters as ASCII bytes, lowercase hex (casino.fairness).
    server_seed_hash = models.CharField(max_length=64)
    # Printable ASCII, 1 to 64 characters; random at first, the player may set it.
    client_seed = models.CharField(max_length=64)
    next_nonce = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    revealed_at = models.DateTimeField(null=True, blank=True)

    tenant_paths = ("player__tenant",)  # audit.tenancy
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["player"], condition=Q(revealed_at__isnull=True),
                                    name="casino_seedpair_one_unrevealed"),
            models.CheckConstraint(condition=Q(next_nonce__gte=0), name="casino_seedpair_nonce_not_negative"),
        ]

    def __str__(self) -> str:
        return f"Seed pair {self.pk} of player {self.player_id} ({self.server_seed_hash[:12]}…)"

    @property
    def revealed(self) -> bool:
        return self.revealed_at is not None


class Round(models.Model):
    class Game(models.TextChoices):
        DICE = "dice", "Dice"
        ROULETTE = "roulette", "Roulette"

    class Direction(models.TextChoices):
        UNDER = "under", "Under"
        OVER = "over", "Over"

    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="casino_rounds")
    seed_pair = models.ForeignKey(SeedPair, on_delete=models.PROTECT, related_name="rounds")
    nonce = models.BigIntegerField()
    # The pair's client seed when the round was played (the player may change it between rounds).
    client_seed = models.CharField(max_length=64)
    game = models.CharField(max_length=16, choices=Game.choices)
    stake = models.DecimalField(**MONEY)  # the round's total stake
    payout = models.DecimalField(**MONEY)  # what came back, the stake included; 0.00 on a loss
    won = models.BooleanField()
    # dice: the multiplier offered (99 / win chance, floored to four decimals);
    # roulette: payout / stake, floored to four decimals (0.0000 when nothing came back)
    multiplier = models.DecimalField(max_digits=12, decimal_places=4)
    roll = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)  # dice
    target = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)  # dice
    direction = models.CharField(max_length=5, choices=Direction.choices, blank=True, default="")  # dice
    number = models.SmallIntegerField(null=True, blank=True)  # roulette
    # roulette: [{"type", "value", "stake", "payout"}], money as strings
    bets = models.JSONField(default=list, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    tenant_paths = ("player__tenant",)  # audit.tenancy
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["player", "-id"], name="casino_round_player_idx")]
        constraints = [
            models.UniqueConstraint(fields=["seed_pair", "nonce"], name="casino_round_one_per_nonce"),
            models.UniqueConstraint(fields=["player", "idempotency_key"], name="casino_round_idempotency_key"),
            models.CheckConstraint(condition=Q(stake__gt=0), name="casino_round_stake_positive"),
            models.CheckConstraint(condition=Q(payout__gte=0), name="casino_round_payout_not_negative"),
            models.CheckConstraint(condition=Q(nonce__gte=0), name="casino_round_nonce_not_negative"),
            models.CheckConstraint(name="casino_round_outcome_of_its_game", condition=(
                Q(game="dice", roll__isnull=False, target__isnull=False, direction__in=["under", "over"],
                  number__isnull=True)
                | Q(game="roulette", number__gte=0, number__lte=36, roll__isnull=True, target__isnull=True,
                    direction=""))),
        ]
        triggers = append_only("casino_round")

    def __str__(self) -> str:
        return f"Casino round {self.pk} ({self.game}) of player {self.player_id}"

    @property
    def outcome(self):
        return self.roll if self.game == self.Game.DICE else self.number
