"""Streamed CSV: rows are read in chunks and written one at a time, so memory stays flat."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet must show it: text that would start a formula gets a leading
    apostrophe, as OWASP advises; a plain number such as -520457.22 stays a number."""
    text = value if isinstance(value, str) else None
    if text and text.startswith(_FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


LINES_PER_PULL = 500


def served_async(request: Any) -> bool:
    """Whether the request came through the ASGI handler (Daphne), a DRF Request or a Django one."""
    return isinstance(getattr(request, "_request", request), ASGIRequest)


def csv_stream(
    *, filename: str, header: list[str], rows: Iterable[Any], row: Callable[[Any], list[Any]],
    asynchronous: bool = False,
) -> StreamingHttpResponse:
    """A CSV download written row by row while ``rows`` (a queryset's ``.iterator(chunk_size=...)``) is read.

    Under ASGI pass ``asynchronous=True``: Django's ASGI handler would otherwise turn a synchronous
    iterator into a list first (``StreamingHttpResponse.__aiter__``), holding the whole CSV in memory.
    The asynchronous body pulls ``LINES_PER_PULL`` lines at a time on the request's own sync thread
    (thread-sensitive), so the database cursor stays on the connection that opened it.
    """
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for item in rows:
            yield writer.writerow([safe_cell(value) for value in row(item)])

    def pull(source: Iterator[str]) -> str:
        return "".join(islice(source, LINES_PER_PULL))

    async def alines() -> AsyncIterator[str]:
        source = lines()
        try:
            while chunk := await sync_to_async(pull, thread_sensitive=True)(source):
                yield chunk
        finally:
            await sync_to_async(source.close, thread_sensitive=True)()

    body = alines() if asynchronous else lines()
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
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
