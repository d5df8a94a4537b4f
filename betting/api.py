from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import Actor
from audit.exports import csv_stream, served_async
from audit.tenancy import keeps_the_book
from betting import reports, selectors
from betting.escrow_audit import escrow_audit_run
from betting.models import Bet, BettorStats
from betting.services import bet_place, bet_validate
from betting.settlement import bet_settle_manual
from betting.slips import odds_text
from core.api import LeanPost, RawValue, errors, idempotency_key, money_text, permission, time_text
from core.errors import DomainError
from risk.liabilities import liability_book
from risk.models import SELECTIONS_CEILING

REFUSALS = errors(
    r400="invalid_request, invalid_amount, invalid_price, invalid_idempotency_key",
    r403="self_excluded, geo_blocked",
    r404="not_found (unknown outcome)",
    r409="market_unavailable, odds_changed (details.prices), idempotency_conflict",
    r422="insufficient_funds, stake_below_min, stake_above_max, max_winning_exceeded "
         "(details: potential_return, max_winning, max_allowed_stake), too_many_selections, "
         "odds_below_min, odds_above_max, combined_odds_above_max, related_selections, "
         "exposure_limit (details.max_allowed_stake), loss_limit",
    r415="unsupported_media_type",
    r429="velocity_limit",
)


PERIOD = [OpenApiParameter("start", OpenApiTypes.DATE, description="first day, inclusive (UTC)"),
          OpenApiParameter("end", OpenApiTypes.DATE, description="last day, inclusive (UTC)")]


class SelectionSerializer(serializers.Serializer):
    outcome_id = serializers.IntegerField()
    price = RawValue(help_text='The price the player saw, e.g. "2.50".')


@extend_schema_field(SelectionSerializer(many=True))
class SelectionsField(serializers.ListField):
    """Documented as a list of selections; parsed (and refused with its own codes) by the slip's service."""


class SlipSerializer(serializers.Serializer):
    selections = SelectionsField(child=serializers.DictField(), allow_empty=False,
                                 max_length=SELECTIONS_CEILING)
    stake = RawValue(help_text='Exact decimal string, e.g. "10.00".')
    bet_type = serializers.ChoiceField(choices=Bet.Type.values)
    odds_change = serializers.ChoiceField(choices=Bet.OddsChange.values, required=False,
                                          default=Bet.OddsChange.NONE)


class LegSerializer(serializers.Serializer):
    outcome_id = serializers.IntegerField()
    market_id = serializers.IntegerField()
    event_id = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=8, decimal_places=3)
    result = serializers.CharField(allow_null=True)


class BetSerializer(serializers.Serializer):
    """Documents ``bet_out``'s shape in the OpenAPI schema (tests/betting/test_bet_api.py checks the two
    agree)."""

    id = serializers.IntegerField()
    ticket_number = serializers.CharField()
    bet_type = serializers.CharField()
    status = serializers.CharField()
    result = serializers.CharField(allow_null=True)
    stake = serializers.DecimalField(max_digits=18, decimal_places=2)
    total_odds = serializers.SerializerMethodField()
    potential_return = serializers.DecimalField(max_digits=18, decimal_places=2)
    payout = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    odds_change = serializers.CharField()
    in_play = serializers.BooleanField()
    legs = LegSerializer(many=True, source="leg_list")
    rejection_reason = serializers.CharField()
    placed_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    rejected_at = serializers.DateTimeField(allow_null=True)
    settled_at = serializers.DateTimeField(allow_null=True)

    def get_total_odds(self, bet: Bet) -> str:
        return odds_text(bet.total_odds)


_PRICE = serializers.DecimalField(max_digits=8, decimal_places=3)  # DRF's formatting of a leg's price


def bet_out(bet: Bet) -> dict:
    """The bet as answered (documented by BetSerializer), built by hand: placement answers one per
    request, and building a serializer's fields for it cost more than placing it in the database."""
    return {
        "id": bet.pk, "ticket_number": bet.ticket_number, "bet_type": bet.bet_type, "status": bet.status,
        "result": bet.result, "stake": money_text(bet.stake), "total_odds": odds_text(bet.total_odds),
        "potential_return": money_text(bet.potential_return), "payout": money_text(bet.payout),
        "odds_change": bet.odds_change, "in_play": bet.in_play,
        "legs": [{"outcome_id": leg.outcome_id, "market_id": leg.market_id, "event_id": leg.event_id,
                  "price": _PRICE.to_representation(leg.price), "result": leg.result} for leg in bet.leg_list],
        "rejection_reason": bet.rejection_reason, "placed_at": time_text(bet.placed_at),
        "accepted_at": time_text(bet.accepted_at), "rejected_at": time_text(bet.rejected_at),
        "settled_at": time_text(bet.settled_at),
    }


class ValidationSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    total_odds = serializers.CharField()
    potential_return = serializers.DecimalField(max_digits=18, decimal_places=2)
    max_allowed_stake = serializers.DecimalField(max_digits=18, decimal_places=2)
    violations = serializers.ListField(child=serializers.DictField())


def _slip(request, data) -> dict:
    slip = SlipSerializer(data=data)
    slip.is_valid(raise_exception=True)
    return {**slip.validated_data, "player": request.user, "actor": Actor.from_request(request)}


class BetValidateApi(LeanPost):
    def write(self, request, data):
        check = bet_validate(**_slip(request, data))
        return 200, {"valid": check.valid, "total_odds": check.total_odds,
                     "potential_return": money_text(check.potential_return),
                     "max_allowed_stake": money_text(check.max_allowed_stake), "violations": check.violations}

    @extend_schema(request=SlipSerializer, responses={200: ValidationSerializer, **errors(
        r400="invalid_request, invalid_amount, invalid_price", r404="not_found (unknown outcome)",
        r415="unsupported_media_type")})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class BetListApi(LeanPost, ListAPIView):
    serializer_class = BetSerializer

    def get_queryset(self):
        return selectors.bet_list(user=self.request.user, status=self.request.query_params.get("status"))

    def list(self, request, *args, **kwargs):
        return self.get_paginated_response([bet_out(bet) for bet in self.paginate_queryset(self.get_queryset())])

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=Bet.Status.values)],
                   responses={200: BetSerializer(many=True), **errors(r400="invalid_request")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def write(self, request, data):
        return 201, bet_out(bet_place(**_slip(request, data), idempotency_key=idempotency_key(request)))

    @extend_schema(request=SlipSerializer, parameters=[OpenApiParameter(
        "Idempotency-Key", str, OpenApiParameter.HEADER,
        description="Same key and body: the same bet again. Same key, other body: 409.")],
        responses={201: BetSerializer, **REFUSALS})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class BetDetailApi(APIView):
    @extend_schema(responses={200: BetSerializer, **errors(r404="not_found")})
    def get(self, request, pk: int):
        return Response(bet_out(selectors.bet_get(user=request.user, bet_id=pk)))


class BetSettleApi(APIView):
    permission_classes = [permission("betting.settle_bet")]

    class SettleSerializer(serializers.Serializer):
        result = serializers.ChoiceField(choices=Bet.Result.values)
        reason = serializers.CharField(max_length=200)

    @extend_schema(request=SettleSerializer, responses={200: BetSerializer, **errors(
        r400="invalid_request, reason_required", r403="forbidden", r404="not_found", r409="invalid_bet_state")})
    def post(self, request, pk: int):
        data = self.SettleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        bet = bet_settle_manual(bet_id=pk, actor=Actor.from_request(request), **data.validated_data)
        return Response(bet_out(selectors.bet_get(user=request.user, bet_id=bet.pk)))


class EventSettlementApi(APIView):
    permission_classes = [permission("betting.view_bet")]

    @extend_schema(responses={200: inline_serializer("EventSettlement", {
        "event_id": serializers.IntegerField(), "bets_processed": serializers.IntegerField(),
        "total_staked": serializers.DecimalField(max_digits=18, decimal_places=2),
        "total_paid_out": serializers.DecimalField(max_digits=18, decimal_places=2),
        "ggr": serializers.DecimalField(max_digits=18, decimal_places=2),
        "by_result": serializers.DictField(child=serializers.IntegerField())}),
        **errors(r403="forbidden", r404="not_found")})
    def get(self, request, pk: int):
        report = reports.event_settlement_report(event_id=pk, viewer=request.user)
        return Response({**report, **{k: str(report[k]) for k in ("total_staked", "total_paid_out", "ggr")}})


class GgrReportApi(APIView):
    permission_classes = [permission("betting.view_bet")]

    MONEY = ("total_staked", "total_paid_out", "ggr", "margin")
    PRODUCT = inline_serializer("GgrProduct", {
        "staked": serializers.CharField(), "paid_out": serializers.CharField(), "ggr": serializers.CharField(),
        "margin": serializers.CharField(allow_null=True)})

    @extend_schema(parameters=[*PERIOD, OpenApiParameter(
        "tenant", str, description="a tenant's slug: its figures only (staff of a tenant see only theirs)")],
        responses={200: inline_serializer("Ggr", {
                       "period": serializers.DictField(), "total_staked": serializers.CharField(),
                       "total_paid_out": serializers.CharField(), "ggr": serializers.CharField(),
                       "margin": serializers.CharField(allow_null=True),
                       "bets_settled": serializers.IntegerField(), "challenges_settled": serializers.IntegerField(),
                       "products": inline_serializer("GgrProducts", {"sports": PRODUCT, "casino": PRODUCT,
                                                                     "p2p": PRODUCT}),
                       "total": inline_serializer("GgrTotal", {
                           "ggr": serializers.CharField(), "bonuses": serializers.CharField(),
                           "commissions": serializers.CharField(), "net_revenue": serializers.CharField()})}),
                       **errors(r400="invalid_date", r403="forbidden")})
    def get(self, request):
        params = request.query_params
        report = reports.ggr_report(start=params.get("start"), end=params.get("end"), viewer=request.user,
                                    tenant=params.get("tenant"))
        return Response({**report, **{k: _text(report[k]) for k in self.MONEY},
                         "products": {name: {k: _text(v) for k, v in figures.items()}
                                      for name, figures in report["products"].items()},
                         "total": {k: _text(v) for k, v in report["total"].items()}})


def _text(value) -> str | None:
    return None if value is None else str(value)


class LiabilityReportApi(APIView):
    """The liability book of the console's dashboard: open and suspended markets holding open bets,
    riskiest first, every outcome's stakes, worst-case payout and net liability."""

    permission_classes = [permission("risk.view_outcomeexposure")]
    MONEY = {"max_digits": 18, "decimal_places": 2}

    @extend_schema(responses={200: inline_serializer("LiabilityBook", {"markets": serializers.ListField(
        child=inline_serializer("MarketLiability", {
            "market_id": serializers.IntegerField(), "event_id": serializers.IntegerField(),
            "event": serializers.CharField(), "market": serializers.CharField(), "status": serializers.CharField(),
            "stakes": serializers.DecimalField(**MONEY), "bets": serializers.IntegerField(),
            "worst_case_payout": serializers.DecimalField(**MONEY),
            "net_liability": serializers.DecimalField(**MONEY),
            "percent_of_cap": serializers.DecimalField(max_digits=8, decimal_places=1),
            "outcomes": serializers.ListField(child=inline_serializer("OutcomeLiability", {
                "outcome_id": serializers.IntegerField(), "name": serializers.CharField(),
                "price": serializers.DecimalField(max_digits=9, decimal_places=3),
                "stakes": serializers.DecimalField(**MONEY), "bets": serializers.IntegerField(),
                "worst_case_payout": serializers.DecimalField(**MONEY),
                "net_liability": serializers.DecimalField(**MONEY),
                "cap": serializers.DecimalField(**MONEY),
                "percent_of_cap": serializers.DecimalField(max_digits=8, decimal_places=1)}))}))}),
        **errors(r403="forbidden")})
    def get(self, request):
        if not keeps_the_book(request.user):
            raise DomainError("The liability book is the platform's; a tenant's staff do not read it.",
                              code="forbidden", status=403)
        money = ("stakes", "worst_case_payout", "net_liability", "percent_of_cap")
        return Response({"markets": [{
            "market_id": m.market_id, "event_id": m.event_id, "event": m.event, "market": m.market,
            "status": m.status, "bets": m.bets, **{k: str(getattr(m, k)) for k in money},
            "outcomes": [{"outcome_id": o.outcome_id, "name": o.name, "price": str(o.price), "bets": o.bets,
                          **{k: str(getattr(o, k)) for k in (*money, "cap")}} for o in m.outcomes],
        } for m in liability_book()]})


class ExportApi(APIView):
    """bets.csv, challenges.csv, ledger.csv and settlements.csv, streamed, filtered by start/end (UTC days)."""

    permission_classes = [permission("betting.export_reports")]
    EXPORTS = {
        "bets": (reports.BET_COLUMNS, reports.bet_export_rows, reports.bet_row),
        "challenges": (reports.CHALLENGE_COLUMNS, reports.challenge_export_rows, reports.challenge_row),
        "ledger": (reports.LEDGER_COLUMNS, reports.ledger_export_rows, reports.ledger_row),
        "settlements": (reports.SETTLEMENT_COLUMNS, reports.settlement_export_rows, reports.settlement_row),
    }
    export_name = ""

    @extend_schema(parameters=PERIOD, responses={
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="one header row (see betting/reports.py)"),
        **errors(r400="invalid_date", r403="forbidden")})
    def get(self, request):
        header, rows, row = self.EXPORTS[self.export_name]
        params = request.query_params
        records = rows(start=params.get("start"), end=params.get("end"), viewer=request.user)
        return csv_stream(filename=f"{self.export_name}.csv", header=header, rows=records, row=row,
                          asynchronous=served_async(request))


class SettledSerializer(serializers.Serializer):
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    void = serializers.IntegerField()
    staked = serializers.DecimalField(max_digits=18, decimal_places=2)
    returned = serializers.DecimalField(max_digits=18, decimal_places=2)
    profit = serializers.DecimalField(max_digits=18, decimal_places=2, help_text="returned − staked")


class SportsbookStatsSerializer(SettledSerializer):
    bets = serializers.IntegerField()


class ChallengeStatsSerializer(SettledSerializer):
    challenges = serializers.IntegerField(source="bets")


class MeStatsSerializer(serializers.Serializer):
    sportsbook = SportsbookStatsSerializer(source="sports")
    p2p = ChallengeStatsSerializer()


class MeStatsApi(APIView):
    """The caller's settled bets and challenges, all time: counts, money staked and returned, profit.
    A staff account has none, so it reads zeros, as its wallet does."""

    @extend_schema(responses={200: MeStatsSerializer, **errors()})
    def get(self, request):
        return Response(MeStatsSerializer(selectors.bettor_stats(user=request.user)).data)


class LeaderboardLineSerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="tied profits share a rank")
    username = serializers.CharField()
    profit = serializers.DecimalField(max_digits=18, decimal_places=2, help_text="returned − staked")
    bets = serializers.IntegerField(help_text="bets and challenges settled in the period")


class LeaderboardSerializer(serializers.Serializer):
    period = serializers.CharField()
    product = serializers.CharField(allow_null=True)
    week = serializers.DateField(allow_null=True, help_text="the Monday (UTC) of the week; null for all time")
    players = LeaderboardLineSerializer(many=True)


class LeaderboardApi(APIView):
    """The players with the highest profit this week (or of all time), usernames only; anyone may read it."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[
        OpenApiParameter("period", str, enum=selectors.LEADERBOARD_PERIODS,
                         description="week (default): settled since Monday 00:00 UTC; all: ever"),
        OpenApiParameter("product", str, enum=BettorStats.Product.values, description="default: both summed")],
        responses={200: LeaderboardSerializer, **errors(r400="invalid_request (period, product)")})
    def get(self, request):
        board = selectors.leaderboard(period=request.query_params.get("period"),
                                      product=request.query_params.get("product"))
        return Response(LeaderboardSerializer(board).data)


class EscrowAuditApi(APIView):
    """The liquidity audit, run now and recorded like the scheduled run (so a mismatch found here stops
    payouts and alerts compliance the same way); ``difference`` is vault − expected per side."""

    permission_classes = [permission("betting.view_escrowaudit")]
    SIDES = inline_serializer("EscrowSides", {"internal": serializers.CharField(),
                                              "external": serializers.CharField()})

    @extend_schema(responses={200: inline_serializer("EscrowAudit", {
        "ok": serializers.BooleanField(), "vault_balance": SIDES, "expected": SIDES, "difference": SIDES,
        "ledger_mirror_external": serializers.CharField(), "problems": serializers.ListField(
            child=serializers.CharField()), "checked_at": serializers.DateTimeField()}),
        **errors(r403="forbidden")})
    def get(self, request):
        run = escrow_audit_run()
        return Response({
            "ok": run.ok,
            "vault_balance": {"internal": str(run.vault_internal), "external": str(run.vault_external)},
            "expected": {"internal": str(run.expected_internal), "external": str(run.expected_external)},
            "difference": {"internal": str(run.difference_internal), "external": str(run.difference_external)},
            "ledger_mirror_external": str(run.mirror_external), "problems": run.problems,
            "checked_at": run.checked_at})
