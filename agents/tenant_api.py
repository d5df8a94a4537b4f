"""POST /api/v1/tenants (the platform admin) and GET /api/v1/tenants (admins, regulators): agents/tenants.py."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.tenants import PLAN_FIELDS, TenantView, tenant_create, tenant_list
from audit.context import Actor
from core.api import RawValue, errors
from core.errors import InvalidInput

RATE_HELP = 'A fraction from 0 to 1 as a decimal string, e.g. "0.02" (2%).'
MONEY_HELP = 'An amount as a decimal string, e.g. "10.00".'


class TenantPermission(BasePermission):
    """Reading tenants: ``accounts.view_tenant`` (admins, regulators); creating one: ``accounts.add_tenant``
    (admins), and then the service lets only the platform admin through (a tenant's admin: 403)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        needed = "accounts.view_tenant" if request.method in ("GET", "HEAD", "OPTIONS") else "accounts.add_tenant"
        return bool(user and user.is_authenticated and user.has_perm(needed))


class CommissionInputSerializer(serializers.Serializer):
    """Any of the plan's fields; those left out keep API.md's default plan."""

    deposit_rate = RawValue(required=False, help_text=RATE_HELP)
    deposit_floor = RawValue(required=False, help_text=MONEY_HELP)
    deposit_cap = RawValue(required=False, help_text=MONEY_HELP)
    turnover_rate = RawValue(required=False, help_text=RATE_HELP)
    turnover_floor = RawValue(required=False, help_text=MONEY_HELP)
    turnover_cap = RawValue(required=False, help_text=MONEY_HELP)
    ggr_share = RawValue(required=False, help_text=RATE_HELP)


class CommissionPlanSerializer(serializers.Serializer):
    deposit_rate = serializers.DecimalField(max_digits=7, decimal_places=4)
    deposit_floor = serializers.DecimalField(max_digits=18, decimal_places=2)
    deposit_cap = serializers.DecimalField(max_digits=18, decimal_places=2)
    turnover_rate = serializers.DecimalField(max_digits=7, decimal_places=4)
    turnover_floor = serializers.DecimalField(max_digits=18, decimal_places=2)
    turnover_cap = serializers.DecimalField(max_digits=18, decimal_places=2)
    ggr_share = serializers.DecimalField(max_digits=7, decimal_places=4)


class TenantSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="tenant.pk")
    slug = serializers.CharField(source="tenant.slug")
    name = serializers.CharField(source="tenant.name")
    colour = serializers.CharField(source="tenant.colour")
    created_at = serializers.DateTimeField(source="tenant.created_at")
    max_winning = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True,
                                           help_text="The tenant's own limit profile's max winning; null: "
                                                     "the global limit applies.")
    commission = CommissionPlanSerializer(source="plan", allow_null=True)


class TenantInputSerializer(serializers.Serializer):
    # Raw values: the service refuses each with its own code (invalid_slug, invalid_rate, ...).
    slug = RawValue(help_text="Lower-case ASCII letters, digits and inner hyphens, 1 to 40.")
    name = RawValue(help_text="What the player pages show, 1 to 80 characters.")
    colour = RawValue(required=False, help_text="The player pages' colour, #rrggbb.")
    max_winning = RawValue(required=False, help_text="The tenant's max winning a bet (" + MONEY_HELP + ")")
    commission = CommissionInputSerializer(required=False, help_text="The commission plan; defaults for the rest.")


class TenantListApi(APIView):
    permission_classes = [TenantPermission]

    @extend_schema(responses={200: TenantSerializer(many=True), **errors(r403="forbidden")},
                   description="The tenants the caller may see: all for the platform admin and regulators, "
                               "a tenant's admin their own.")
    def get(self, request):
        return Response(TenantSerializer(tenant_list(viewer=request.user), many=True).data)

    @extend_schema(
        request=TenantInputSerializer,
        responses={201: TenantSerializer,
                   **errors(r400="invalid_request, invalid_slug, invalid_name, invalid_colour, invalid_rate, "
                                 "invalid_amount",
                            r403="forbidden (only the platform admin creates tenants)", r409="tenant_exists")},
        description="Creates a tenant with its commission plan (API.md's default plan for the fields not "
                    f"given: {', '.join(PLAN_FIELDS)}) and, with max_winning, its own limit profile.",
    )
    def post(self, request):
        # The input serializer documents the body; the service validates every field with its own code.
        data = request.data
        if not isinstance(data, dict):
            raise InvalidInput("Send a JSON object.", code="invalid_request")
        view: TenantView = tenant_create(
            slug=data.get("slug"), name=data.get("name"), colour=data.get("colour"),
            max_winning=data.get("max_winning"), commission=data.get("commission"),
            actor=Actor.from_request(request))
        return Response(TenantSerializer(view).data, status=status.HTTP_201_CREATED)
