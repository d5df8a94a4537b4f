from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import Actor
from core.api import RawValue, errors, permission
from events import selectors, services
from events.models import Event, Player
from events.rosters import NAME_MAX, ROSTER_MAX


class OutcomeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    name = serializers.CharField()
    price = serializers.DecimalField(max_digits=8, decimal_places=3)
    status = serializers.CharField()
    pinned = serializers.BooleanField()


class MarketSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.IntegerField()
    kind = serializers.CharField()
    line = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    name = serializers.CharField()
    status = serializers.CharField()
    outcomes = OutcomeSerializer(many=True)


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    home_team = serializers.CharField(source="home")
    away_team = serializers.CharField(source="away")
    sport = serializers.CharField(source="sport.key")
    competition = serializers.CharField(source="competition.name")
    start_time = serializers.DateTimeField()
    status = serializers.CharField()
    home_score = serializers.IntegerField(allow_null=True)
    away_score = serializers.IntegerField(allow_null=True)
    score = serializers.CharField(source="current_score", allow_null=True,
                                  help_text="The running score while live, the final one once resulted.")
    clock = serializers.CharField(help_text="The running clock while live: 63' (football), Q3 07:12 (basketball).")
    markets = MarketSerializer(many=True)


class PlayerSerializer(serializers.Serializer):
    class StatsSerializer(serializers.Serializer):
        points = serializers.IntegerField()
        rebounds = serializers.IntegerField()
        assists = serializers.IntegerField()

    player_id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    team = serializers.ChoiceField(choices=Player.Team.values)
    stats = StatsSerializer()


class EventListApi(ListAPIView):
    """Events with their markets, outcomes and current prices; anyone may read them."""

    permission_classes = [AllowAny]
    serializer_class = EventSerializer

    def get_queryset(self):
        return selectors.event_list(status=self.request.query_params.get("status"))

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=Event.Status.values)],
                   responses={200: EventSerializer(many=True), **errors(r400="invalid_request")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    class CreateSerializer(serializers.Serializer):
        class MarketInput(serializers.Serializer):
            kind = serializers.CharField()
            line = RawValue(required=False)
            prices = serializers.DictField(child=RawValue())

        class PlayerInput(serializers.Serializer):
            name = serializers.CharField(max_length=NAME_MAX)
            team = serializers.ChoiceField(choices=Player.Team.values)

        home_team = serializers.CharField(max_length=120)
        away_team = serializers.CharField(max_length=120)
        sport = serializers.CharField(max_length=40)
        competition = serializers.CharField(max_length=120)
        start_time = serializers.DateTimeField()
        markets = MarketInput(many=True, allow_empty=False, max_length=100)
        players = PlayerInput(many=True, required=False, max_length=ROSTER_MAX,
                              help_text="The roster, for player propositions and stat lines.")

    def get_permissions(self):
        if self.request.method == "POST":
            return [permission("events.add_event")()]
        return super().get_permissions()

    @extend_schema(request=CreateSerializer, responses={201: EventSerializer, **errors(
        r400="invalid_request, unknown_sport, unknown_market_kind, invalid_line, invalid_prices, "
             "invalid_price, duplicate_market, invalid_event, invalid_players", r403="forbidden")})
    def post(self, request):
        data = self.CreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        event = services.event_create(
            home_team=values["home_team"], away_team=values["away_team"], sport=values["sport"],
            competition=values["competition"], start_time=values["start_time"],
            markets=[services.MarketSpec(kind=m["kind"], prices=m["prices"], line=m.get("line"))
                     for m in values["markets"]],
            actor=Actor.from_request(request), players=values.get("players"),
        )
        return Response(EventSerializer(selectors.event_get(event_id=event.pk)).data,
                        status=status.HTTP_201_CREATED)


class EventDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: EventSerializer, **errors(r404="not_found")})
    def get(self, request, pk: int):
        return Response(EventSerializer(selectors.event_get(event_id=pk)).data)


class EventPlayersApi(APIView):
    """An event's roster and its players' stat lines (running while live, final once resulted)."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: PlayerSerializer(many=True), **errors(r404="not_found")})
    def get(self, request, pk: int):
        return Response(PlayerSerializer(selectors.event_players(event_id=pk), many=True).data)


class EventStartApi(APIView):
    permission_classes = [permission("events.change_event")]

    @extend_schema(request=None, responses={200: EventSerializer, **errors(
        r403="forbidden", r404="not_found", r409="invalid_event_state")})
    def post(self, request, pk: int):
        services.event_start(event_id=pk, actor=Actor.from_request(request))
        return Response(EventSerializer(selectors.event_get(event_id=pk)).data)


class MarketActionApi(APIView):
    """suspend / resume / close / cancel: one view, the action named in the URL."""

    permission_classes = [permission("events.change_market")]
    action_name = ""
    ACTIONS = {"suspend": services.market_suspend, "resume": services.market_resume,
               "close": services.market_close, "cancel": services.market_cancel}

    class ReasonSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)

    @extend_schema(request=ReasonSerializer, responses={200: MarketSerializer, **errors(
        r400="reason_required (cancel)", r403="forbidden", r404="not_found",
        r409="invalid_market_state")})
    def post(self, request, pk: int):
        data = self.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        market = self.ACTIONS[self.action_name](market_id=pk, actor=Actor.from_request(request),
                                                reason=data.validated_data["reason"])
        return Response(MarketSerializer(selectors.market_get(market_id=market.pk)).data)


class OutcomePriceApi(APIView):
    permission_classes = [permission("events.change_outcome")]

    class PriceSerializer(serializers.Serializer):
        price = RawValue()
        reason = serializers.CharField(max_length=200)

    @extend_schema(request=PriceSerializer, responses={200: OutcomeSerializer, **errors(
        r400="invalid_request, invalid_price", r403="forbidden", r404="not_found")})
    def post(self, request, pk: int):
        data = self.PriceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = services.outcome_price_set(outcome_id=pk, actor=Actor.from_request(request),
                                             **data.validated_data)
        return Response(OutcomeSerializer(outcome).data)


class OutcomeReleaseApi(APIView):
    permission_classes = [permission("events.change_outcome")]

    @extend_schema(request=None, responses={200: OutcomeSerializer, **errors(
        r403="forbidden", r404="not_found", r409="price_not_pinned")})
    def post(self, request, pk: int):
        outcome = services.outcome_price_release(outcome_id=pk, actor=Actor.from_request(request))
        return Response(OutcomeSerializer(outcome).data)


class EventResultApi(APIView):
    """Record the final score; the markets are resulted and settlement runs in the worker (202)."""

    permission_classes = [permission("events.change_event")]

    class ResultSerializer(serializers.Serializer):
        class StatLineInput(serializers.Serializer):
            # Raw: the service takes whole JSON numbers only ("12", "١٢" and 12.0 are refused).
            player_id = RawValue()
            points = RawValue(required=False)
            rebounds = RawValue(required=False)
            assists = RawValue(required=False)

        home_score = RawValue()
        away_score = RawValue()
        player_stats = StatLineInput(many=True, required=False, max_length=ROSTER_MAX,
                                     help_text="The players' final stat lines.")

    @extend_schema(request=ResultSerializer, responses={202: EventSerializer, **errors(
        r400="invalid_request, invalid_result, invalid_player_stats", r403="forbidden", r404="not_found",
        r409="already_resulted, invalid_event_state")})
    def post(self, request, pk: int):
        data = self.ResultSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.event_result_set(event_id=pk, actor=Actor.from_request(request), **data.validated_data)
        return Response(EventSerializer(selectors.event_get(event_id=pk)).data, status=status.HTTP_202_ACCEPTED)


class EventCancelApi(APIView):
    """The event will not be played: its markets are cancelled and every leg on them is void."""

    permission_classes = [permission("events.change_event")]

    @extend_schema(request=MarketActionApi.ReasonSerializer, responses={200: EventSerializer, **errors(
        r400="reason_required", r403="forbidden", r404="not_found", r409="invalid_event_state")})
    def post(self, request, pk: int):
        data = MarketActionApi.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.event_cancel(event_id=pk, actor=Actor.from_request(request), reason=data.validated_data["reason"])
        return Response(EventSerializer(selectors.event_get(event_id=pk)).data)
