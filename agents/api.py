"""Commission statements over the API (API.md "Tenants, agents, commissions, bonuses"): compliance and
admins run a period and decide statements, agents read their own, regulators read; the CSV export."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import CommissionLine, CommissionStatement
from agents.selectors import COMMISSION_COLUMNS, commission_export_rows, commission_row, commission_statement_list
from agents.services import REASON_MAX, commission_approve, commission_reject, commissions_run
from audit.context import Actor, role_of
from audit.exports import csv_stream, served_async
from core.api import errors, permission

VIEW_STATEMENTS = "agents.view_commissionstatement"
DECIDE_STATEMENTS = "agents.change_commissionstatement"
EXPORT_REPORTS = "betting.export_reports"


class AgentOrReader(BasePermission):
    """An agent (their own statements), or staff holding the view permission (compliance, regulator, admin)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated
                    and (role_of(user) == "agent" or user.has_perm(VIEW_STATEMENTS)))


class CommissionLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = CommissionLine
        fields = ["kind", "base", "rate", "amount"]


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="first day (UTC), included")
    end = serializers.DateField(help_text="the day after the last (UTC), not included")


class CommissionStatementSerializer(serializers.ModelSerializer):
    agent_id = serializers.IntegerField()
    agent = serializers.CharField(source="agent.username")
    tenant = serializers.CharField(source="tenant.slug")
    period = serializers.SerializerMethodField()
    lines = CommissionLineSerializer(many=True)
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    transfer = serializers.SerializerMethodField()

    class Meta:
        model = CommissionStatement
        fields = ["id", "agent_id", "agent", "tenant", "period", "deposits", "turnover", "ggr", "carried_in",
                  "carried_out", "lines", "amount", "status", "reason", "decided_by", "decided_at", "transfer",
                  "created_at"]

    @extend_schema_field(PeriodSerializer)
    def get_period(self, statement) -> dict:
        return {"start": statement.period_start.isoformat(), "end": statement.period_end.isoformat()}

    def get_transfer(self, statement) -> str | None:
        """The ledger reference of the payment (LDG-…), once paid."""
        return statement.transfer.reference if statement.transfer_id else None


def _fresh(statements: list[CommissionStatement], user) -> list[CommissionStatement]:
    """The statements as the list reads them (lines, agent, tenant) after a write, in one read, by agent;
    of the tenants ``user`` sees."""
    return list(CommissionStatement.objects.visible_to(user).filter(pk__in=[s.pk for s in statements])
                .select_related("agent", "tenant", "decided_by", "transfer").prefetch_related("lines")
                .order_by("agent_id", "id"))


class CommissionRunApi(APIView):
    """Write the statements of a period [start, end) for every agent with players; a period run again
    returns the statements it wrote the first time."""

    permission_classes = [permission(DECIDE_STATEMENTS)]

    class CommissionRunSerializer(serializers.Serializer):
        start = serializers.CharField(help_text="first day, YYYY-MM-DD (UTC), included")
        end = serializers.CharField(help_text="the day after the last, YYYY-MM-DD (UTC), not included; by tomorrow")

    @extend_schema(request=CommissionRunSerializer, responses={
        201: CommissionStatementSerializer(many=True),
        **errors(r400="invalid_request, invalid_date, invalid_period", r403="forbidden",
                 r409="commission_period_overlap, concurrent_change")})
    def post(self, request):
        data = self.CommissionRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        statements = commissions_run(start=data.validated_data["start"], end=data.validated_data["end"],
                                     actor=Actor.from_request(request))
        return Response(CommissionStatementSerializer(_fresh(statements, request.user), many=True).data,
                        status=status.HTTP_201_CREATED)


class CommissionListApi(ListAPIView):
    permission_classes = [AgentOrReader]
    serializer_class = CommissionStatementSerializer

    def get_queryset(self):
        return commission_statement_list(user=self.request.user, filters=self.request.query_params.dict())

    @extend_schema(parameters=[
        OpenApiParameter("agent", int, description="the agent's user id"),
        OpenApiParameter("status", str, enum=CommissionStatement.Status.values)],
        responses={200: CommissionStatementSerializer(many=True),
                   **errors(r400="invalid_request (agent, status)", r403="forbidden")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CommissionDecisionApi(APIView):
    """Approve (pays the agent: one ledger transfer from the commission pool) or reject a pending statement."""

    permission_classes = [permission(DECIDE_STATEMENTS)]
    decision = ""
    DECISIONS = {"approve": commission_approve, "reject": commission_reject}

    class CommissionDecisionSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=True,
                                       help_text=f"Why (required, at most {REASON_MAX} characters); audited.")

    @extend_schema(request=CommissionDecisionSerializer, responses={200: CommissionStatementSerializer, **errors(
        r400="invalid_request, reason_required", r403="forbidden", r404="not_found",
        r409="commission_not_pending, concurrent_change")})
    def post(self, request, pk: int):
        data = self.CommissionDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        statement = self.DECISIONS[self.decision](statement_id=pk, reason=data.validated_data["reason"],
                                                  actor=Actor.from_request(request))
        return Response(CommissionStatementSerializer(_fresh([statement], request.user)[0]).data)


class CommissionExportApi(APIView):
    """commissions.csv, streamed: the statements (of the tenants one sees) whose period starts in
    [start, end] (UTC days, inclusive), one row each with its three lines."""

    permission_classes = [permission(EXPORT_REPORTS, VIEW_STATEMENTS)]

    @extend_schema(parameters=[
        OpenApiParameter("start", OpenApiTypes.DATE, description="periods starting on or after this day (UTC)"),
        OpenApiParameter("end", OpenApiTypes.DATE, description="periods starting on or before this day (UTC)"),
        OpenApiParameter("agent", int, description="the agent's user id"),
        OpenApiParameter("status", str, enum=CommissionStatement.Status.values)],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR,
                                                      description="columns: " + ", ".join(COMMISSION_COLUMNS)),
                   **errors(r400="invalid_date, invalid_request", r403="forbidden")})
    def get(self, request):
        params = request.query_params
        rows = commission_export_rows(user=request.user, start=params.get("start"), end=params.get("end"),
                                      filters={k: params.get(k) for k in ("agent", "status")})
        return csv_stream(filename="commissions.csv", header=COMMISSION_COLUMNS, rows=rows, row=commission_row,
                          asynchronous=served_async(request))
