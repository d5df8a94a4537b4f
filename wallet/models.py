"""Wallet gateways and the simulated external wallet service (DESIGN.md "Peer-to-peer challenges
and wallet gateways").

A player's platform wallet is their ledger account (``ledger.Account``, kind "player"). Money for a
challenge moves through a gateway; every movement the platform asks of a gateway is one
``GatewayTransfer`` (pending → confirmed | failed), keyed so a retry never asks twice.

``ExternalAccount`` and ``ExternalTransaction`` are the simulated external wallet service's own
books, kept as a separate system would keep them: addresses, balances and transactions. The
platform reaches them only through the external gateway (wallet/gateways.py).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from audit.tenancy import TenantQuerySet

MONEY = {"max_digits": 18, "decimal_places": 2}
# What a gateway movement is for (GatewayTransfer.purpose).
PURPOSES = ("stake", "payout", "refund", "fee", "sweep")


class Gateway(models.TextChoices):
    INTERNAL = "internal", "Platform wallet"
    EXTERNAL = "external", "External wallet"


class GatewayTransfer(models.Model):
    """One movement the platform asked a gateway for: a stake into escrow (``in``) or a payout or
    refund out of it (``out``). ``tx_id`` is the gateway's own id (a ledger reference or an
    external transaction id); ``network_fee`` is what the external service charged the platform."""

    tenant_paths = ("user__tenant",)  # audit.tenancy

    class Direction(models.TextChoices):
        IN = "in", "Into escrow"
        OUT = "out", "Out of escrow"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        FAILED = "failed", "Failed"

    gateway = models.CharField(max_length=16, choices=Gateway.choices)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    # The player; empty for the platform's own pocket on that side (a fee, a sweep): then the ledger
    # house account (internal) it came from or went to is ``platform_account``.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="gateway_transfers", db_index=False)  # read by reference, not by user
    platform_account = models.CharField(max_length=64, blank=True, default="")
    amount = models.DecimalField(**MONEY)
    network_fee = models.DecimalField(**MONEY, default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    tx_id = models.CharField(max_length=64, blank=True, default="")
    # What the movement is for, e.g. ("challenge", 12) with purpose "stake", "payout", "refund".
    reference_type = models.CharField(max_length=32)
    reference_id = models.CharField(max_length=64)
    purpose = models.CharField(max_length=16)
    idempotency_key = models.CharField(max_length=200)  # unique: Meta
    failure_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        # Settlement writes thousands a second: only the indexes lookups use, partial where they look
        # at a few (the pending ones: the liquidity audit; the external ones: their confirmations).
        indexes = [models.Index(fields=["reference_type", "reference_id"], name="gwtransfer_reference_idx"),
                   models.Index(fields=["reference_type", "reference_id"], condition=Q(status="pending"),
                                name="gwtransfer_pending_idx"),
                   models.Index(fields=["tx_id"], condition=Q(gateway="external"), name="gwtransfer_external_tx_idx")]
        constraints = [
            # A constraint, not unique=True: that would add a LIKE index no lookup uses.
            models.UniqueConstraint(fields=["idempotency_key"], name="gwtransfer_idempotency_key"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="gwtransfer_amount_positive"),
            models.CheckConstraint(condition=Q(network_fee__gte=0), name="gwtransfer_fee_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.direction} {self.amount} ({self.status})"


class ExternalAccount(models.Model):
    """An address at the simulated external wallet service: a player's, or one of the platform's
    (its escrow vault, its treasury that pays network fees, the network's fee sink)."""

    tenant_paths = ("owner__tenant",)  # audit.tenancy

    class Kind(models.TextChoices):
        PLAYER = "player", "Player"
        ESCROW = "escrow", "Platform escrow vault"
        TREASURY = "treasury", "Platform treasury"
        NETWORK = "network", "Network fees"

    address = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The platform user this address belongs to (players only): the service knows nothing else.
    owner = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="external_wallet")
    balance = models.DecimalField(**MONEY, default=0)
    may_go_negative = models.BooleanField(default=False)
    currency = models.CharField(max_length=8, default="PLAY")
    created_at = models.DateTimeField(auto_now_add=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(may_go_negative=True) | Q(balance__gte=0),
                                   name="extaccount_balance_not_negative"),
            models.CheckConstraint(condition=Q(kind="player", owner__isnull=False) | ~Q(kind="player"),
                                   name="extaccount_player_has_owner"),
        ]

    def __str__(self) -> str:
        return self.address


class ExternalTransaction(models.Model):
    """A transaction at the simulated external service. It is ``pending`` until its confirmation
    is due (``confirm_after``), then ``confirmed`` (balances move) or ``failed`` (nothing moves)."""

    tenant_paths = ("source__owner__tenant", "destination__owner__tenant")  # audit.tenancy

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        FAILED = "failed", "Failed"

    tx_id = models.CharField(max_length=64, unique=True)
    source = models.ForeignKey(ExternalAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    destination = models.ForeignKey(ExternalAccount, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    network_fee = models.DecimalField(**MONEY, default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    idempotency_key = models.CharField(max_length=200, unique=True)
    failure_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    confirm_after = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "confirm_after"], name="exttx_due_idx")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="exttx_amount_positive")]

    def __str__(self) -> str:
        return f"{self.tx_id} {self.amount} ({self.status})"
