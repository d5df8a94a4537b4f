"""Streamed CSV: rows are read in chunks and written one at a time, so memory stays flat."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(
    *, filename: str, header: list[str], rows: Iterable[Any], row: Callable[[Any], list[Any]]
) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for item in rows:
            yield writer.writerow(row(item))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


AUDIT_LOG_COLUMNS = [
    "id", "created_at", "actor_id", "actor", "actor_role", "ip_address", "user_agent", "action",
    "category", "severity", "outcome", "resource_type", "resource_id", "resource_label",
    "details", "expires_at",
]


def audit_log_row(record) -> list[Any]:
    return [
        record.id, record.created_at.isoformat(), record.actor_id or "", record.actor_label,
        record.actor_role, record.ip_address or "", record.user_agent, record.action,
        record.category, record.severity, record.outcome, record.resource_type,
        record.resource_id, record.resource_label,
        json.dumps(record.details, sort_keys=True, default=str), record.expires_at.isoformat(),
    ]
