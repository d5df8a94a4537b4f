"""casino-rounds.csv over the API (docs/exports.md): the export permission the other exports use, named
by its string (casino and betting are siblings and import neither way)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.views import APIView

from audit.exports import csv_stream, served_async
from casino.exports import COLUMNS, round_export_rows, round_row
from core.api import errors, permission

EXPORT_REPORTS = "betting.export_reports"


class CasinoRoundExportApi(APIView):
    """casino-rounds.csv, streamed: the rounds (of the tenants one sees) played in [start, end] (UTC days,
    inclusive), one row each; a round names its seed pair by the server seed's hash only."""

    permission_classes = [permission(EXPORT_REPORTS)]

    @extend_schema(parameters=[
        OpenApiParameter("start", OpenApiTypes.DATE, description="first day, inclusive (UTC)"),
        OpenApiParameter("end", OpenApiTypes.DATE, description="last day, inclusive (UTC)")],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="columns: " + ", ".join(COLUMNS)),
                   **errors(r400="invalid_date", r403="forbidden")})
    def get(self, request):
        params = request.query_params
        rows = round_export_rows(start=params.get("start"), end=params.get("end"), viewer=request.user)
        return csv_stream(filename="casino-rounds.csv", header=COLUMNS, rows=rows, row=round_row,
                          asynchronous=served_async(request))
