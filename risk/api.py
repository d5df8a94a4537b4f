"""The player's safer-gambling settings over the API (API.md "Responsible gambling"): limits with
their pending loosenings and what the rolling periods used, the time-out and the self-exclusion."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import Actor
from core.api import RawValue, errors
from risk.models import PLAYER_LIMITS
from risk.rules import PERIODS
from risk.safer import PlayerLimits, limits_of, limits_set, self_exclude, time_out


def _json_value(value: Decimal | int | None) -> str | int | None:
    """Money as an exact string; minutes (whole numbers) and unset (null) as they are."""
    return str(value) if isinstance(value, Decimal) else value


def limits_out(limits: PlayerLimits) -> dict:
    """The API's shape of a player's limits: money as exact strings, unset as null."""
    values = limits.values
    return {
        "deposit": {period: _json_value(values[f"deposit_{period}"]) for period in PERIODS},
        "loss": {period: _json_value(values[f"loss_{period}"]) for period in PERIODS},
        "max_stake": _json_value(values["max_stake"]),
        "session_minutes": values["session_minutes"],
        "reality_check_minutes": values["reality_check_minutes"],
        "pending": [{"limit": change.limit, "value": _json_value(change.limit_value),
                     "effective_at": change.effective_at} for change in limits.pending],
        "used": {kind: {period: str(amount) for period, amount in periods.items()}
                 for kind, periods in limits.used.items()},
        "timed_out_until": limits.timed_out_until,
        "self_excluded_until": limits.self_excluded_until,
    }


_PERIODS = inline_serializer("Periods", {period: serializers.CharField(allow_null=True) for period in PERIODS})
_LIMITS = inline_serializer("PlayerLimits", {
    "deposit": _PERIODS, "loss": _PERIODS,
    "max_stake": serializers.CharField(allow_null=True),
    "session_minutes": serializers.IntegerField(allow_null=True),
    "reality_check_minutes": serializers.IntegerField(allow_null=True),
    "pending": inline_serializer("PendingLimit", {"limit": serializers.CharField(),
                                                  "value": serializers.CharField(allow_null=True),
                                                  "effective_at": serializers.DateTimeField()}, many=True),
    "used": inline_serializer("LimitsUsed", {"deposit": _PERIODS, "loss": _PERIODS}),
    "timed_out_until": serializers.DateTimeField(allow_null=True),
    "self_excluded_until": serializers.DateTimeField(allow_null=True),
})
_UNTIL = inline_serializer("Until", {"until": serializers.DateTimeField()})


# Any subset of the limits, each a value ("500.00"; minutes a whole number) or null to remove it. The
# body goes to the service as sent, so an unknown name is refused rather than dropped.
_LIMITS_INPUT = type("LimitsInputSerializer", (serializers.Serializer,),
                     {name: RawValue(required=False) for name in PLAYER_LIMITS})


class MeLimitsApi(APIView):

    @extend_schema(responses={200: _LIMITS, **errors()})
    def get(self, request):
        return Response(limits_out(limits_of(player=request.user)))

    @extend_schema(request=_LIMITS_INPUT, responses={
        200: _LIMITS, **errors(r400="invalid_request, invalid_amount", r403="not_a_player")})
    def put(self, request):
        changes = request.data if isinstance(request.data, dict) else None
        limits = limits_set(player=request.user, changes=changes, actor=Actor.from_request(request))
        return Response(limits_out(limits))


class TimeOutApi(APIView):
    class TimeOutInputSerializer(serializers.Serializer):
        days = RawValue(help_text="A whole number of days, 1 to 42.")

    @extend_schema(request=TimeOutInputSerializer,
                   responses={200: _UNTIL, **errors(r400="invalid_request", r403="not_a_player")})
    def post(self, request):
        data = self.TimeOutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        until = time_out(player=request.user, days=data.validated_data["days"], actor=Actor.from_request(request))
        return Response({"until": until})


class SelfExclusionApi(APIView):
    class SelfExclusionInputSerializer(serializers.Serializer):
        months = RawValue(help_text="6, 12 or 60.")

    @extend_schema(request=SelfExclusionInputSerializer,
                   responses={200: _UNTIL, **errors(r400="invalid_request", r403="not_a_player")})
    def post(self, request):
        data = self.SelfExclusionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        until = self_exclude(player=request.user, months=data.validated_data["months"],
                             actor=Actor.from_request(request))
        return Response({"until": until})
