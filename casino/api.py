"""The casino sandbox's API (API.md "Casino sandbox"): thin views over casino.services and casino.selectors."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import Actor
from casino import selectors
from casino.fairness import ROULETTE_MULTIPLIERS
from casino.models import Round, SeedPair
from casino.services import (
    ROULETTE_MAX_BETS,
    RoundPlayed,
    casino_client_seed_set,
    casino_round_play,
    casino_seed_get,
    casino_seed_rotate,
)
from core.api import RawValue, errors, idempotency_key, money_text, time_text


def seed_out(pair: SeedPair) -> dict[str, Any]:
    return {"server_seed_hash": pair.server_seed_hash, "client_seed": pair.client_seed, "nonce": pair.next_nonce}


def round_out(played: Round, *, balance: Any = None) -> dict[str, Any]:
    """A round as the API shows it: the dice roll (with target, direction) or the roulette number (with
    the bets), and what it was drawn from."""
    body: dict[str, Any] = {
        "id": played.pk, "game": played.game, "stake": money_text(played.stake),
        "payout": money_text(played.payout), "won": played.won, "multiplier": str(played.multiplier),
    }
    if played.game == Round.Game.DICE:
        body.update(roll=str(played.roll), target=str(played.target), direction=played.direction)
    else:
        body.update(number=played.number, bets=played.bets)
    pair = played.seed_pair
    body.update(server_seed_hash=pair.server_seed_hash, client_seed=played.client_seed, nonce=played.nonce,
                server_seed=pair.server_seed if pair.revealed else None, created_at=time_text(played.created_at))
    if balance is not None:
        body["balance"] = money_text(balance)
    return body


# --- schema -------------------------------------------------------------------------------------

class SeedSerializer(serializers.Serializer):
    server_seed_hash = serializers.CharField(help_text="SHA-256 (hex) of the server seed's 64 ASCII characters.")
    client_seed = serializers.CharField()
    nonce = serializers.IntegerField(help_text="The nonce of the next round.")


class RevealedSeedSerializer(serializers.Serializer):
    server_seed = serializers.CharField()
    server_seed_hash = serializers.CharField()
    client_seed = serializers.CharField()
    last_nonce = serializers.IntegerField(allow_null=True, help_text="The last round's nonce; null if none was played.")


class RotationSerializer(serializers.Serializer):
    previous = RevealedSeedSerializer()
    current = SeedSerializer()


class BetInputSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=list(ROULETTE_MULTIPLIERS))
    value = serializers.IntegerField(required=False, allow_null=True,
                                     help_text="straight: 0-36; dozen, column: 1-3; the even chances: none.")
    stake = serializers.CharField(help_text='Exact decimal string, e.g. "1.00".')


@extend_schema_field(BetInputSerializer(many=True))
class RawBets(RawValue):
    """Documented as a list of bets; parsed (and refused with its own codes) by the service."""


class RoundInputSerializer(serializers.Serializer):
    game = RawValue(help_text="dice or roulette")
    stake = RawValue(required=False, help_text='dice: exact decimal string, e.g. "10.00".')
    target = RawValue(required=False, help_text='dice: 0.00-99.99, e.g. "49.50"; win chance 0.01%-98%.')
    direction = RawValue(required=False, help_text="dice: under (roll < target) or over (roll > target).")
    bets = RawBets(required=False, help_text=f"roulette: 1 to {ROULETTE_MAX_BETS} bets.")


class BetLineSerializer(serializers.Serializer):
    type = serializers.CharField()
    value = serializers.IntegerField(allow_null=True)
    stake = serializers.DecimalField(max_digits=18, decimal_places=2)
    payout = serializers.DecimalField(max_digits=18, decimal_places=2)


class RoundSerializer(serializers.Serializer):
    """Documents ``round_out``'s shape."""

    id = serializers.IntegerField()
    game = serializers.ChoiceField(choices=Round.Game.values)
    stake = serializers.DecimalField(max_digits=18, decimal_places=2)
    payout = serializers.DecimalField(max_digits=18, decimal_places=2)
    won = serializers.BooleanField()
    multiplier = serializers.DecimalField(max_digits=12, decimal_places=4)
    roll = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, help_text="dice")
    target = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, help_text="dice")
    direction = serializers.CharField(required=False, help_text="dice")
    number = serializers.IntegerField(required=False, help_text="roulette")
    bets = BetLineSerializer(many=True, required=False, help_text="roulette")
    server_seed_hash = serializers.CharField()
    client_seed = serializers.CharField()
    nonce = serializers.IntegerField()
    server_seed = serializers.CharField(allow_null=True, help_text="Shown once the seed pair was rotated.")
    created_at = serializers.DateTimeField()
    balance = serializers.DecimalField(max_digits=18, decimal_places=2, required=False,
                                       help_text="The wallet's balance after the round (POST only).")


class VerificationSerializer(serializers.Serializer):
    round_id = serializers.IntegerField()
    game = serializers.CharField()
    server_seed = serializers.CharField()
    server_seed_hash = serializers.CharField()
    hash_matches = serializers.BooleanField()
    client_seed = serializers.CharField()
    nonce = serializers.IntegerField()
    hmac = serializers.CharField(help_text="HMAC-SHA256(server seed, \"client_seed:nonce\"), hex.")
    chunk = serializers.IntegerField(help_text="The first five-hex-digit chunk below 1,000,000.")
    roll = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    number = serializers.IntegerField(required=False)
    payout = serializers.DecimalField(max_digits=18, decimal_places=2)
    matches = serializers.BooleanField(help_text="The recomputed outcome and payout are the round's.")


REFUSALS = errors(
    r400="invalid_request, invalid_game, invalid_amount, invalid_target, invalid_direction, invalid_bets, "
         "invalid_bet_type, invalid_bet_value, invalid_idempotency_key",
    r403="not_a_player, self_excluded, geo_blocked, session_limit", r409="idempotency_conflict, concurrent_change",
    r422="stake_below_min, stake_above_max, max_payout_exceeded, loss_limit, insufficient_funds")
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER,
    description="Same key and body: the same round again, nothing changes. Same key, other body: 409.")


# --- views --------------------------------------------------------------------------------------

class CasinoSeedApi(APIView):
    class ClientSeedInputSerializer(serializers.Serializer):
        client_seed = RawValue(help_text="1 to 64 printable ASCII characters.")

    @extend_schema(responses={200: SeedSerializer, **errors(r403="not_a_player")})
    def get(self, request):
        return Response(seed_out(casino_seed_get(player=request.user)))

    @extend_schema(request=ClientSeedInputSerializer, responses={
        200: SeedSerializer, **errors(r400="invalid_request, invalid_client_seed", r403="not_a_player")})
    def put(self, request):
        data = self.ClientSeedInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(seed_out(casino_client_seed_set(player=request.user, client_seed=data.validated_data.get(
            "client_seed"), actor=Actor.from_request(request))))


class CasinoSeedRotateApi(APIView):
    @extend_schema(request=None, responses={200: RotationSerializer, **errors(r403="not_a_player")})
    def post(self, request):
        rotation = casino_seed_rotate(player=request.user, actor=Actor.from_request(request))
        previous = rotation.previous
        return Response({
            "previous": {"server_seed": previous.server_seed, "server_seed_hash": previous.server_seed_hash,
                         "client_seed": previous.client_seed,
                         "last_nonce": previous.next_nonce - 1 if previous.next_nonce else None},
            "current": seed_out(rotation.current)})


class CasinoRoundListApi(ListAPIView):
    serializer_class = RoundSerializer

    def get_queryset(self):
        return selectors.round_list(user=self.request.user, game=self.request.query_params.get("game"))

    def list(self, request, *args, **kwargs):
        return self.get_paginated_response([round_out(r) for r in self.paginate_queryset(self.get_queryset())])

    @extend_schema(parameters=[OpenApiParameter("game", str, enum=Round.Game.values)],
                   responses={200: RoundSerializer(many=True), **errors(r400="invalid_request, invalid_game")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=RoundInputSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: RoundSerializer, **REFUSALS})
    def post(self, request):
        data = RoundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        played: RoundPlayed = casino_round_play(player=request.user, actor=Actor.from_request(request),
                                                idempotency_key=idempotency_key(request), **data.validated_data)
        # a replay answers as the first request did
        return Response(round_out(played.round, balance=played.balance), status=status.HTTP_201_CREATED)


class CasinoRoundVerifyApi(APIView):
    @extend_schema(responses={200: VerificationSerializer, **errors(r404="not_found", r409="seed_not_revealed")})
    def get(self, request, pk: int):
        found = selectors.round_verify(user=request.user, round_id=pk)
        outcome = {"roll": str(found.outcome)} if found.round.game == Round.Game.DICE else {"number": found.outcome}
        return Response({
            "round_id": found.round.pk, "game": found.round.game, "server_seed": found.server_seed,
            "server_seed_hash": found.server_seed_hash, "hash_matches": found.hash_matches,
            "client_seed": found.client_seed, "nonce": found.nonce, "hmac": found.hmac, "chunk": found.chunk,
            **outcome, "payout": money_text(found.payout), "matches": found.matches})
