"""POST and GET /api/v1/agent/players: an agent creates players and reads their figures (agents/players.py)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import RegisterApi
from agents.players import agent_player_create, agent_players
from audit.context import Actor, role_of
from core.api import errors


class IsAgent(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and role_of(request.user) == "agent")


class AgentPlayerSerializer(serializers.Serializer):
    """What an agent sees of a player: no email, country or other personal detail."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    deposits = serializers.DecimalField(max_digits=18, decimal_places=2, help_text="Deposits into the wallet.")
    stakes = serializers.DecimalField(max_digits=18, decimal_places=2, help_text="Stakes of settled bets.")
    ggr = serializers.DecimalField(max_digits=18, decimal_places=2,
                                   help_text="Those stakes less their payouts (negative: the player won).")


class AgentPlayerInputSerializer(RegisterApi.RegisterInputSerializer):
    """Registration's fields: the player joins the agent's tenant."""

    tenant = None
    agent_code = None


class AgentPlayerCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


PERIOD = [OpenApiParameter("start", str, description="First day (YYYY-MM-DD, UTC), inclusive; all time if left out."),
          OpenApiParameter("end", str, description="Last day (YYYY-MM-DD, UTC), inclusive.")]


class AgentPlayersApi(APIView):
    permission_classes = [IsAgent]

    @extend_schema(parameters=PERIOD, responses={200: AgentPlayerSerializer(many=True),
                                                 **errors(r400="invalid_date", r403="forbidden")})
    def get(self, request):
        rows = agent_players(agent=request.user, start=request.query_params.get("start") or None,
                             end=request.query_params.get("end") or None)
        return Response(AgentPlayerSerializer(rows, many=True).data)

    @extend_schema(request=AgentPlayerInputSerializer, responses={
        201: AgentPlayerCreatedSerializer,
        **errors(r400="invalid_request, invalid_country, weak_password", r403="forbidden", r409="username_taken")},
        description="A player under the calling agent, in the agent's tenant: registration's rules and wallet.")
    def post(self, request):
        data = AgentPlayerInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = agent_player_create(agent=request.user, **data.validated_data, actor=Actor.from_request(request))
        return Response(AgentPlayerCreatedSerializer(user).data, status=status.HTTP_201_CREATED)
