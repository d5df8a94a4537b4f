from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import Actor
from betting import selectors
from betting.models import Bet
from betting.services import bet_place, bet_validate
from betting.slips import odds_text
from oddslab.api import RawValue, errors, idempotency_key

REFUSALS = errors(
    r400="invalid_request, invalid_amount, invalid_price, invalid_idempotency_key",
    r403="self_excluded, geo_blocked",
    r404="not_found (unknown outcome)",
    r409="market_unavailable, odds_changed (details.prices), idempotency_conflict",
    r422="insufficient_funds, stake_below_min, stake_above_max, max_winning_exceeded "
         "(details: potential_return, max_winning, max_allowed_stake), too_many_selections, "
         "odds_below_min, odds_above_max, combined_odds_above_max, related_selections, "
         "exposure_limit (details.max_allowed_stake), loss_limit",
    r429="velocity_limit",
)


class SlipSerializer(serializers.Serializer):
    class SelectionSerializer(serializers.Serializer):
        outcome_id = serializers.IntegerField()
        price = RawValue(help_text='The price the player saw, e.g. "2.50".')

    selections = serializers.ListField(child=serializers.DictField(), allow_empty=False)
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
    legs = LegSerializer(many=True)
    rejection_reason = serializers.CharField()
    placed_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    rejected_at = serializers.DateTimeField(allow_null=True)
    settled_at = serializers.DateTimeField(allow_null=True)

    def get_total_odds(self, bet: Bet) -> str:
        return odds_text(bet.total_odds)


class ValidationSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    total_odds = serializers.CharField()
    potential_return = serializers.DecimalField(max_digits=18, decimal_places=2)
    max_allowed_stake = serializers.DecimalField(max_digits=18, decimal_places=2)
    violations = serializers.ListField(child=serializers.DictField())


def _slip(request) -> dict:
    data = SlipSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return {**data.validated_data, "player": request.user, "actor": Actor.from_request(request)}


class BetValidateApi(APIView):
    @extend_schema(request=SlipSerializer, responses={200: ValidationSerializer, **errors(
        r400="invalid_request, invalid_amount, invalid_price", r404="not_found (unknown outcome)")})
    def post(self, request):
        return Response(ValidationSerializer(bet_validate(**_slip(request))).data)


class BetListApi(ListAPIView):
    serializer_class = BetSerializer

    def get_queryset(self):
        return selectors.bet_list(user=self.request.user, status=self.request.query_params.get("status"))

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=Bet.Status.values)],
                   responses={200: BetSerializer(many=True), **errors(r400="invalid_request")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=SlipSerializer, parameters=[OpenApiParameter(
        "Idempotency-Key", str, OpenApiParameter.HEADER,
        description="Same key and body: the same bet again. Same key, other body: 409.")],
        responses={201: BetSerializer, **REFUSALS})
    def post(self, request):
        bet = bet_place(**_slip(request), idempotency_key=idempotency_key(request))
        return Response(BetSerializer(selectors.bet_get(user=request.user, bet_id=bet.pk)).data,
                        status=status.HTTP_201_CREATED)


class BetDetailApi(APIView):
    @extend_schema(responses={200: BetSerializer, **errors(r404="not_found")})
    def get(self, request, pk: int):
        return Response(BetSerializer(selectors.bet_get(user=request.user, bet_id=pk)).data)
