"""Commission plans (one per tenant) and the statements agents earn on their players' activity
(API.md "Tenants, agents, commissions, bonuses"; docs/agents.md)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from audit.tenancy import TenantQuerySet
from ledger.models import MONEY

RATE = {"max_digits": 7, "decimal_places": 4, "validators": [MinValueValidator(Decimal("0")),
                                                            MaxValueValidator(Decimal("1"))]}


class CommissionPlan(models.Model):
    """What a tenant's agents earn, as fractions (0.0200 is 2%). A deposit of at least
    ``deposit_floor`` earns ``deposit_rate`` of it, at most ``deposit_cap`` a deposit; a settled stake of
    at least ``turnover_floor`` earns ``turnover_rate`` of it, at most ``turnover_cap`` a bet; and the
    agent takes ``ggr_share`` of the players' positive net GGR of the period, after the negative GGR
    carried over from earlier periods. Defaults: API.md's default plan."""

    tenant_paths = ("tenant",)  # audit.tenancy

    tenant = models.OneToOneField("accounts.Tenant", on_delete=models.CASCADE, related_name="commission_plan")
    deposit_rate = models.DecimalField(**RATE, default=Decimal("0.0200"))
    deposit_floor = models.DecimalField(**MONEY, default=Decimal("10.00"))
    deposit_cap = models.DecimalField(**MONEY, default=Decimal("1000.00"))
    turnover_rate = models.DecimalField(**RATE, default=Decimal("0.0150"))
    turnover_floor = models.DecimalField(**MONEY, default=Decimal("5.00"))
    turnover_cap = models.DecimalField(**MONEY, default=Decimal("500.00"))
    ggr_share = models.DecimalField(**RATE, default=Decimal("0.1000"))
    updated_at = models.DateTimeField(auto_now=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(name="commissionplan_rates_fractions", condition=(
                Q(deposit_rate__gte=0, deposit_rate__lte=1, turnover_rate__gte=0, turnover_rate__lte=1,
                  ggr_share__gte=0, ggr_share__lte=1))),
            models.CheckConstraint(name="commissionplan_bounds_not_negative", condition=(
                Q(deposit_floor__gte=0, deposit_cap__gte=0, turnover_floor__gte=0, turnover_cap__gte=0))),
        ]

    def __str__(self) -> str:
        return f"Commission plan of {self.tenant}"


class CommissionStatement(models.Model):
    """What one agent earned in one period [period_start, period_end): written once by the commission
    run (a second run of the period finds it), decided by compliance, paid by one ledger transfer."""

    tenant_paths = ("tenant",)  # audit.tenancy

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        PAID = "paid", "Paid"

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commission_statements")
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.PROTECT, related_name="commission_statements")
    period_start = models.DateField()
    period_end = models.DateField()  # exclusive
    deposits = models.DecimalField(**MONEY)  # the players' deposits in the period
    turnover = models.DecimalField(**MONEY)  # their stakes settled in the period
    ggr = models.DecimalField(**MONEY)  # their net GGR of the period (may be negative)
    carried_in = models.DecimalField(**MONEY, default=Decimal("0.00"))  # negative GGR from earlier periods (≤ 0)
    carried_out = models.DecimalField(**MONEY, default=Decimal("0.00"))  # negative GGR left for later (≤ 0)
    amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=500, blank=True, default="")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    transfer = models.OneToOneField("ledger.Transfer", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "agent_id"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "period_start", "period_end"], name="commission_one_per_period"),
            models.CheckConstraint(name="commission_period_forward",
                                   condition=Q(period_end__gt=models.F("period_start"))),
            models.CheckConstraint(name="commission_amount_not_negative", condition=Q(amount__gte=0)),
            models.CheckConstraint(name="commission_carry_not_positive",
                                   condition=Q(carried_in__lte=0, carried_out__lte=0)),
            models.CheckConstraint(name="commission_paid_has_transfer",
                                   condition=~Q(status="paid") | Q(transfer__isnull=False)),
        ]
        indexes = [models.Index(fields=["status", "period_start"], name="commission_status_idx")]

    def __str__(self) -> str:
        return f"Commission of {self.agent} for {self.period_start}–{self.period_end}"


class CommissionLine(models.Model):
    """One kind of commission in a statement: ``amount`` is ``rate`` of ``base`` after the plan's floors
    and caps, rounded down to the cent once."""

    tenant_paths = ("statement__tenant",)  # audit.tenancy

    class Kind(models.TextChoices):
        DEPOSITS = "deposits", "Deposits"
        TURNOVER = "turnover", "Turnover"
        GGR = "ggr", "GGR share"

    statement = models.ForeignKey(CommissionStatement, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    base = models.DecimalField(**MONEY)
    rate = models.DecimalField(max_digits=7, decimal_places=4)
    amount = models.DecimalField(**MONEY)
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["statement_id", "id"]
        constraints = [models.UniqueConstraint(fields=["statement", "kind"], name="commissionline_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.amount}"
