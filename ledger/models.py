"""Double-entry ledger in the style of TigerBeetle (DESIGN.md "Money").

An ``Account`` either stores its balance (player wallets, escrow: they may never go negative, are
locked per transfer and carry a CHECK) or derives it (house accounts that may go negative: a
checkpoint plus the transfers since, so no single house row serialises every bet).
A ``Transfer`` is one balanced movement; the database refuses UPDATE, DELETE and TRUNCATE on it.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from audit.tenancy import TenantQuerySet
from core.db import append_only

MONEY = {"max_digits": 18, "decimal_places": 2}


class Account(models.Model):
    tenant_paths = ("owner__tenant",)  # audit.tenancy

    class Kind(models.TextChoices):
        PLAYER = "player", "Player wallet"
        HOUSE = "house", "House"

    class House(models.TextChoices):
        """House account codes; each is one row created by a migration."""

        CASHIER = "cashier", "Cashier (play-credit deposits and withdrawals)"
        STAKES_HELD = "stakes_held", "Stakes held"
        REVENUE = "revenue", "Revenue"
        ESCROW = "escrow", "Escrow"
        FEES = "fees", "Fees"
        COMMISSION = "commission", "Commission"
        BONUS = "bonus", "Bonus"
        # The ledger's mirror of the simulated external wallet (wallet/gateways.py): its escrow
        # vault, the counterparty of every external movement, and the network fees the platform pays.
        ESCROW_EXTERNAL = "escrow_external", "Escrow at the external wallet"
        EXTERNAL_CLEARING = "external_clearing", "External wallet clearing"
        NETWORK_FEES = "network_fees", "External network fees"
        # The casino sandbox's house (casino/services.py): every round's stake comes in, its payout goes out.
        CASINO = "casino", "Casino"

    code = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="ledger_account",
    )
    name = models.CharField(max_length=120)
    currency = models.CharField(max_length=8, default="PLAY")
    may_go_negative = models.BooleanField(default=False)
    # Stored only for accounts that may not go negative; derived for the others.
    balance = models.DecimalField(**MONEY, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="account_balance_not_negative"),
            models.CheckConstraint(
                condition=Q(may_go_negative=True, balance__isnull=True)
                | Q(may_go_negative=False, balance__isnull=False),
                name="account_balance_stored_iff_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(kind="player", owner__isnull=False) | Q(kind="house"),
                name="account_player_has_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def stores_balance(self) -> bool:
        return not self.may_go_negative

    # The internal escrow vault is ESCROW_SHARDS stored-balance accounts, ``escrow`` (shard 0) and
    # ``escrow.1`` … ``escrow.15`` (ledger migration 0005): every stake locks the vault's row until
    # commit, so one row would queue every challenge stake of the site. A challenge's money always
    # sits in the shard of its id; the vault's balance is the sum of the shards.
    ESCROW_SHARDS = 16

    @classmethod
    def escrow_shard(cls, reference_id: int | str) -> str:
        """The house code of the escrow shard that holds the money of challenge ``reference_id``."""
        shard = int(reference_id) % cls.ESCROW_SHARDS
        return cls.House.ESCROW if shard == 0 else f"{cls.House.ESCROW}.{shard}"


class Transfer(models.Model):
    tenant_paths = ("debit_account__owner__tenant", "credit_account__owner__tenant")  # audit.tenancy

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL = "withdrawal", "Withdrawal"
        BET_STAKE = "bet_stake", "Bet stake"
        BET_REFUND = "bet_refund", "Bet refund"
        BET_STAKE_WON = "bet_stake_revenue", "Stake to revenue"
        BET_PAYOUT = "bet_payout", "Bet payout"
        ESCROW_HOLD = "escrow_hold", "Escrow hold"
        ESCROW_RELEASE = "escrow_release", "Escrow release"
        P2P_PAYOUT = "p2p_payout", "Challenge payout"
        P2P_REFUND = "p2p_refund", "Challenge refund"
        P2P_FEE = "p2p_fee", "Challenge fee"
        NETWORK_FEE = "network_fee", "External network fee"
        COMMISSION = "commission", "Commission"
        BONUS = "bonus", "Bonus"
        CORRECTION = "correction", "Correction"
        CASINO_STAKE = "casino_stake", "Casino stake"
        CASINO_PAYOUT = "casino_payout", "Casino payout"

    # Strictly increasing; a rolled-back transaction leaves a gap (a PostgreSQL sequence).
    entry_number = models.BigAutoField(primary_key=True)
    # Indexed by (account, entry number) below, which also serves the foreign keys: every transfer
    # written maintains each index, so none is kept that another covers (DESIGN.md "Money").
    debit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    credit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    amount = models.DecimalField(**MONEY)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    reference_type = models.CharField(max_length=32, blank=True, default="")
    reference_id = models.CharField(max_length=64, blank=True, default="")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # unique: Meta
    debit_balance_before = models.DecimalField(**MONEY, null=True, blank=True)
    debit_balance_after = models.DecimalField(**MONEY, null=True, blank=True)
    credit_balance_before = models.DecimalField(**MONEY, null=True, blank=True)
    credit_balance_after = models.DecimalField(**MONEY, null=True, blank=True)
    created_by = models.ForeignKey(  # never searched by: no index to maintain on every transfer
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    metadata = models.JSONField(default=dict, blank=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["entry_number"]
        indexes = [
            models.Index(fields=["debit_account", "entry_number"], name="transfer_debit_idx"),
            models.Index(fields=["credit_account", "entry_number"], name="transfer_credit_idx"),
            models.Index(fields=["reference_type", "reference_id"], name="transfer_reference_idx"),
            # A wallet's rolling totals (risk/sql.py: deposits and losses over 24 h, 7 d, 30 d): entry
            # numbers are not in time order across concurrent transactions, so they cannot bound a window.
            models.Index(fields=["debit_account", "created_at"], name="transfer_debit_time_idx"),
            models.Index(fields=["credit_account", "created_at"], name="transfer_credit_time_idx"),
        ]
        constraints = [
            # A constraint, not unique=True: that would add a LIKE index no lookup uses.
            models.UniqueConstraint(fields=["idempotency_key"], name="transfer_idempotency_key"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="transfer_amount_positive"),
            models.CheckConstraint(
                condition=~Q(debit_account=F("credit_account")), name="transfer_two_accounts"
            ),
            # The stored before/after of each side must agree with the amount.
            models.CheckConstraint(
                condition=Q(debit_balance_before__isnull=True, debit_balance_after__isnull=True)
                | Q(debit_balance_after=F("debit_balance_before") - F("amount")),
                name="transfer_debit_side_balanced",
            ),
            models.CheckConstraint(
                condition=Q(credit_balance_before__isnull=True, credit_balance_after__isnull=True)
                | Q(credit_balance_after=F("credit_balance_before") + F("amount")),
                name="transfer_credit_side_balanced",
            ),
        ]
        triggers = append_only("transfer")

    def __str__(self) -> str:
        return f"{self.reference} {self.kind} {self.amount}"

    @property
    def reference(self) -> str:
        return format_entry_number(self.entry_number)


def format_entry_number(entry_number: int) -> str:
    return f"LDG-{entry_number:09d}"


class Checkpoint(models.Model):
    """The balance of a derived (house) account over every transfer up to ``entry_number``."""

    tenant_paths = ("account__owner__tenant",)  # audit.tenancy

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="checkpoints")
    entry_number = models.BigIntegerField()
    balance = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(auto_now_add=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-entry_number"]
        constraints = [
            models.UniqueConstraint(fields=["account", "entry_number"], name="checkpoint_unique"),
        ]
        get_latest_by = "entry_number"
        triggers = append_only("checkpoint")

    def __str__(self) -> str:
        return f"{self.account.code} @ {self.entry_number}: {self.balance}"
