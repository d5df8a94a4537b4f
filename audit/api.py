from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.views import APIView

from audit.exports import AUDIT_LOG_COLUMNS, audit_log_row, csv_stream, served_async
from audit.models import AuditLog
from audit.selectors import audit_log_list
from core.api import errors, permission

FILTERS = [
    OpenApiParameter("action", str),
    OpenApiParameter("actor", str, description="user id or username"),
    OpenApiParameter("resource_type", str),
    OpenApiParameter("resource_id", str),
    OpenApiParameter("category", str, enum=AuditLog.Category.values),
    OpenApiParameter("severity", str, enum=AuditLog.Severity.values),
    OpenApiParameter("outcome", str, enum=AuditLog.Outcome.values),
    OpenApiParameter("start", OpenApiTypes.DATE, description="first day, inclusive (UTC)"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="last day, inclusive (UTC)"),
]


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = [
            "id", "created_at", "actor", "actor_label", "actor_role", "ip_address", "user_agent",
            "action", "category", "severity", "outcome", "resource_type", "resource_id",
            "resource_label", "details", "expires_at",
        ]


class AuditLogListApi(ListAPIView):
    permission_classes = [permission("audit.view_auditlog")]
    serializer_class = AuditLogSerializer

    def get_queryset(self):
        return audit_log_list(filters=self.request.query_params.dict(), viewer=self.request.user)

    @extend_schema(parameters=FILTERS, responses={
        200: AuditLogSerializer(many=True), **errors(r400="invalid_date", r403="forbidden")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AuditLogExportApi(APIView):
    """The audit log as CSV, streamed (one header row; columns in AUDIT_LOG_COLUMNS)."""

    permission_classes = [permission("audit.export_auditlog")]

    @extend_schema(parameters=FILTERS, responses={
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR, description="columns: " + ", ".join(AUDIT_LOG_COLUMNS)),
        **errors(r400="invalid_date", r403="forbidden")})
    def get(self, request):
        records = audit_log_list(filters=request.query_params.dict(), viewer=request.user)
        return csv_stream(
            filename="audit-logs.csv", header=AUDIT_LOG_COLUMNS,
            rows=records.iterator(chunk_size=2000), row=audit_log_row, asynchronous=served_async(request),
        )
