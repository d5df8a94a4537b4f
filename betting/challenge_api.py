"""/api/v1/challenges: peer-to-peer challenges (API.md "Peer-to-peer challenges")."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import Actor
from betting.challenge_money import challenge_payout
from betting.challenge_selectors import challenge_get, challenge_list, challenges_with_transfers
from betting.challenges import challenge_accept, challenge_cancel, challenge_create
from betting.models import Challenge
from betting.news import challenge_selection
from core.api import LeanPost, RawValue, errors, idempotency_key, money_text, time_text
from wallet.models import Gateway

MONEY = {"max_digits": 18, "decimal_places": 2}
IDEMPOTENCY = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                               description="Same key and body: the same challenge again. Same key, other body: 409.")


def _funding() -> RawValue:
    return RawValue(help_text=f"The wallet the stake comes from: {' | '.join(Gateway.values)} "
                    "(anything else: 400 invalid_funding).")


class ChallengeTransferSerializer(serializers.Serializer):
    """Documents a transfer of ``challenge_out``."""

    direction = serializers.CharField(help_text="in: into escrow; out: out of it")
    party = serializers.CharField(help_text="creator | acceptor | platform")
    gateway = serializers.CharField()
    amount = serializers.DecimalField(**MONEY)
    network_fee = serializers.DecimalField(**MONEY)
    status = serializers.CharField(help_text="pending | confirmed | failed")
    tx_id = serializers.CharField()


SELECTION = inline_serializer("ChallengeSelection", {
    "outcome_id": serializers.IntegerField(required=False), "market_id": serializers.IntegerField(required=False),
    "name": serializers.CharField(required=False), "price": serializers.CharField(required=False),
    "player_id": serializers.IntegerField(required=False), "player": serializers.CharField(required=False),
    "stat": serializers.CharField(required=False), "line": serializers.CharField(required=False),
    "side": serializers.CharField(required=False)})


@extend_schema_field(SELECTION)
class SelectionField(serializers.Field):
    """The outcome backed (``outcome_id, market_id, name, price``) or the proposition (``player_id,
    player, stat, line, side``)."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, challenge: Challenge) -> dict:
        return challenge_selection(challenge)


class ChallengeSerializer(serializers.Serializer):
    """Documents ``challenge_out``'s shape in the OpenAPI schema (tests/betting/test_challenges_api.py
    checks that the two agree)."""

    id = serializers.IntegerField()
    event_id = serializers.IntegerField()
    creator_id = serializers.IntegerField()
    acceptor_id = serializers.IntegerField(allow_null=True)
    selection = SelectionField()
    stake = serializers.DecimalField(**MONEY)
    pot = serializers.DecimalField(**MONEY)
    fee = serializers.DecimalField(**MONEY, help_text="The platform's share of the pot (pot − payout).")
    status = serializers.CharField()
    result = serializers.CharField(allow_null=True, help_text="won | lost, from the creator's side")
    winner_id = serializers.IntegerField(allow_null=True)
    payout = serializers.DecimalField(**MONEY, allow_null=True)
    transfers = ChallengeTransferSerializer(many=True)
    created_at = serializers.DateTimeField()
    matched_at = serializers.DateTimeField(allow_null=True)
    settled_at = serializers.DateTimeField(allow_null=True)
    money_waiting = serializers.ChoiceField(
        Challenge.Waiting.values[1:], allow_null=True,
        help_text="null, or why money this challenge owes is still in escrow with nothing on its way: "
                  "escrow_audit (a refund waits for escrow to balance), operator (a transfer out failed "
                  "every retry; an operator will ask again)")


def challenge_out(challenge: Challenge) -> dict:
    """The challenge as answered (documented by ChallengeSerializer), built by hand: a challenge is
    answered on every create and accept, and building a serializer's fields for it cost more than the
    database call. Its transfers are read unless the service that changed it knew them."""
    if not hasattr(challenge, "transfer_list"):
        challenges_with_transfers([challenge])
    parties = {challenge.creator_id: "creator", challenge.acceptor_id: "acceptor", None: "platform"}
    fee = challenge.fee if challenge.fee is not None else challenge_payout(challenge.stake)[2]
    return {
        "id": challenge.pk, "event_id": challenge.event_id, "creator_id": challenge.creator_id,
        "acceptor_id": challenge.acceptor_id, "selection": challenge_selection(challenge),
        "stake": money_text(challenge.stake), "pot": money_text(challenge.pot), "fee": money_text(fee),
        "status": challenge.status, "result": challenge.result, "winner_id": challenge.winner_id,
        "payout": money_text(challenge.payout),
        "transfers": [{"direction": moved.direction, "party": parties.get(moved.user_id, "acceptor"),
                       "gateway": moved.gateway, "amount": money_text(moved.amount),
                       "network_fee": money_text(moved.network_fee), "status": moved.status, "tx_id": moved.tx_id}
                      for moved in challenge.transfer_list],
        "created_at": time_text(challenge.created_at), "matched_at": time_text(challenge.matched_at),
        "settled_at": time_text(challenge.settled_at), "money_waiting": challenge.money_waiting or None,
    }


REFUSALS = errors(
    r400="invalid_request, invalid_amount, invalid_funding, invalid_selection, invalid_idempotency_key",
    r403="not_a_player, self_excluded, geo_blocked", r404="not_found, external_wallet_not_open",
    r409="challenge_unavailable, market_unavailable, idempotency_conflict",
    r415="unsupported_media_type",
    r422="insufficient_funds, own_challenge, stake_below_min, stake_above_max",
    r503="external_wallet_unavailable")


@extend_schema_field(inline_serializer("Proposition", {
    "player_id": serializers.IntegerField(), "stat": serializers.ChoiceField(Challenge.Stat.values),
    "line": serializers.CharField(help_text='A whole or half number, e.g. "24.5".'),
    "side": serializers.ChoiceField(Challenge.Side.values)}))
class PropositionField(RawValue):
    """Documented as a proposition; checked (and refused with its own codes) by the service."""


class ChallengeListApi(LeanPost, ListAPIView):
    serializer_class = ChallengeSerializer

    class ChallengeCreateSerializer(serializers.Serializer):
        event_id = RawValue(help_text="The event's id.")
        outcome_id = RawValue(required=False, help_text="The outcome backed; or give a proposition.")
        proposition = PropositionField(required=False)
        stake = RawValue(help_text='Exact decimal string, e.g. "10.00".')
        funding = _funding()

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else super().get_permissions()

    def get_queryset(self):
        params = self.request.query_params
        return challenge_list(user=self.request.user, status=params.get("status"), event_id=params.get("event_id"))

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([challenge_out(c) for c in challenges_with_transfers(page)])

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=Challenge.Status.values),
                               OpenApiParameter("event_id", int)],
                   responses={200: ChallengeSerializer(many=True), **errors(r400="invalid_request")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def write(self, request, data):
        body = self.ChallengeCreateSerializer(data=data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        challenge = challenge_create(
            creator=request.user, event_id=values.get("event_id"), outcome_id=values.get("outcome_id"),
            proposition=values.get("proposition"), stake=values.get("stake"), funding=values["funding"],
            actor=Actor.from_request(request), idempotency_key=idempotency_key(request))
        return 201, challenge_out(challenge)

    @extend_schema(request=ChallengeCreateSerializer, parameters=[IDEMPOTENCY], responses={201: ChallengeSerializer,
                                                                                 **REFUSALS})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ChallengeDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: ChallengeSerializer, **errors(r404="not_found")})
    def get(self, request, pk: int):
        return Response(challenge_out(challenge_get(user=request.user, challenge_id=pk)))


class ChallengeAcceptApi(LeanPost):
    class ChallengeAcceptSerializer(serializers.Serializer):
        funding = _funding()

    def write(self, request, data, pk: int):
        body = self.ChallengeAcceptSerializer(data=data)
        body.is_valid(raise_exception=True)
        challenge = challenge_accept(challenge_id=pk, acceptor=request.user, funding=body.validated_data["funding"],
                                     actor=Actor.from_request(request), idempotency_key=idempotency_key(request))
        return 200, challenge_out(challenge)

    @extend_schema(request=ChallengeAcceptSerializer, parameters=[IDEMPOTENCY], responses={200: ChallengeSerializer,
                                                                                 **REFUSALS})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ChallengeCancelApi(APIView):
    @extend_schema(request=None, responses={200: ChallengeSerializer, **errors(
        r403="forbidden (not your challenge)", r404="not_found", r409="challenge_unavailable",
        r503="external_wallet_unavailable")})
    def post(self, request, pk: int):
        return Response(challenge_out(challenge_cancel(challenge_id=pk, actor=Actor.from_request(request))))
