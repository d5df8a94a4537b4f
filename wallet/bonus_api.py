"""POST /api/v1/bonuses: a trader or admin credits a player from the bonus pool (wallet/bonuses.py)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import Actor, role_of
from core.api import RawValue, errors, idempotency_key
from wallet.api import IDEMPOTENCY_HEADER, _WalletMoveApi
from wallet.bonuses import REASON_MAX, bonus_credit


class IsTraderOrAdmin(BasePermission):
    """Traders and admins (role_of: the groups, or a superuser). A role check, not a Django permission:
    none of the existing ones fits, and a role check needs no migration."""

    ROLES = ("trader", "admin")

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and role_of(request.user) in self.ROLES)


class BonusApi(APIView):
    permission_classes = [IsTraderOrAdmin]

    class BonusInputSerializer(serializers.Serializer):
        user_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The player's id.")
        amount = RawValue(help_text='Exact decimal string, e.g. "25.00"; at most two decimals.')
        reason = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=True,
                                       help_text=f"Why the bonus is credited (required, at most {REASON_MAX} "
                                                 "characters); it is audited.")

    @extend_schema(
        request=BonusInputSerializer, parameters=[IDEMPOTENCY_HEADER],
        responses={201: _WalletMoveApi.WalletMoveSerializer,
                   **errors(r400="invalid_request, invalid_amount, reason_required, invalid_idempotency_key",
                            r403="forbidden, not_a_player", r404="not_found", r409="idempotency_conflict")},
    )
    def post(self, request):
        data = self.BonusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        movement = bonus_credit(
            user_id=data.validated_data["user_id"], amount=data.validated_data["amount"],
            reason=data.validated_data["reason"], actor=Actor.from_request(request),
            idempotency_key=idempotency_key(request),
        )
        return Response(_WalletMoveApi.WalletMoveSerializer(movement).data, status=status.HTTP_201_CREATED)
