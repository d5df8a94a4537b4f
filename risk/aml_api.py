"""AML alerts over the API (API.md "Compliance"): compliance and admins list and work them, regulators
read them; the CSV export takes the list's filters."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import Actor
from audit.exports import csv_stream, served_async
from core.api import errors, permission
from risk.aml import (
    AML_ALERT_COLUMNS,
    REASON_MAX,
    STEPS,
    aml_alert_export_rows,
    aml_alert_list,
    aml_alert_row,
    aml_alert_update,
)
from risk.models import AmlAlert

VIEW_ALERTS = "risk.view_amlalert"
WORK_ALERTS = "risk.change_amlalert"

FILTERS = [
    OpenApiParameter("status", str, enum=AmlAlert.Status.values),
    OpenApiParameter("rule", str, enum=AmlAlert.Rule.values),
    OpenApiParameter("user", int, description="the alerted user's id"),
]


class AmlAlertSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField()

    class Meta:
        model = AmlAlert
        fields = ["id", "rule", "user_id", "severity", "status", "details", "created_at", "closed_reason"]


class AmlAlertListApi(ListAPIView):
    permission_classes = [permission(VIEW_ALERTS)]
    serializer_class = AmlAlertSerializer

    def get_queryset(self):
        return aml_alert_list(filters=self.request.query_params.dict(), viewer=self.request.user)

    @extend_schema(parameters=FILTERS, responses={
        200: AmlAlertSerializer(many=True), **errors(r400="invalid_request (status, rule, user)", r403="forbidden")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AmlAlertUpdateApi(APIView):
    """Move an alert on: open → investigating → closed (closing needs a reason); audited."""

    permission_classes = [permission(WORK_ALERTS)]

    class AmlAlertUpdateSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=list(STEPS))
        reason = serializers.CharField(max_length=REASON_MAX, required=False, allow_blank=True, default="")

    @extend_schema(request=AmlAlertUpdateSerializer, responses={200: AmlAlertSerializer, **errors(
        r400="invalid_request, reason_required", r403="forbidden", r404="not_found", r409="invalid_alert_state")})
    def post(self, request, pk: int):
        data = self.AmlAlertUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = aml_alert_update(alert_id=pk, actor=Actor.from_request(request), **data.validated_data)
        return Response(AmlAlertSerializer(alert).data)


class AmlAlertExportApi(APIView):
    """aml-alerts.csv, streamed (one header row; columns in risk.aml.AML_ALERT_COLUMNS), the list's filters."""

    permission_classes = [permission(VIEW_ALERTS)]

    @extend_schema(parameters=FILTERS, responses={
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="columns: " + ", ".join(AML_ALERT_COLUMNS)),
        **errors(r400="invalid_request (status, rule, user)", r403="forbidden")})
    def get(self, request):
        rows = aml_alert_export_rows(filters=request.query_params.dict(), viewer=request.user)
        return csv_stream(filename="aml-alerts.csv", header=AML_ALERT_COLUMNS, rows=rows, row=aml_alert_row,
                          asynchronous=served_async(request))
