"""100,000 ledger rows export through the HTTP endpoint with flat memory, under WSGI-style and ASGI serving.

The figures are printed (run with ``-s`` to see them) and recorded in docs/exports.md under "Memory".
"""

import gc
import tracemalloc

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncClient

from ledger.models import Account, Transfer

PATH = "/api/v1/exports/ledger.csv"
MB = 1024 * 1024


def insert_transfers(count: int) -> None:
    """Append ``count`` house-to-house transfers in one set-based INSERT (the table is append-only;
    inserting is all it allows). Amounts 0.01..10.00, so the rows are valid double entries."""
    cashier, revenue = (Account.objects.get(code=f"house:{code}").pk for code in ("cashier", "revenue"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {Transfer._meta.db_table}
                    (debit_account_id, credit_account_id, amount, kind, reference_type, reference_id,
                     created_at, metadata)
                SELECT %s, %s, ((i %% 1000) + 1)::numeric / 100, 'correction', 'memtest', i::text, now(), '{{}}'
                FROM generate_series(1, %s) AS i""",
            [cashier, revenue, count])


def measure(consume) -> dict[str, int]:
    """Peak traced Python memory while ``consume()`` requests the export and reads the whole stream."""
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        size, lines = consume()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"peak": peak - base, "bytes": size, "lines": lines}


def sync_export(client):
    def consume():
        response = client.get(PATH)
        assert response.status_code == 200 and response.streaming and not response.is_async
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        return size, lines

    return consume


def asgi_export(client):
    """What Daphne does: the ASGI handler iterates ``async for part in response``."""

    async def consume_async():
        async_client = AsyncClient()
        async_client.cookies = client.cookies  # the same logged-in session
        response = await async_client.get(PATH)
        assert response.status_code == 200 and response.streaming and response.is_async
        size = lines = 0
        async for chunk in response:
            size += len(chunk)
            lines += chunk.count(b"\n")
        return size, lines

    return async_to_sync(consume_async)


@pytest.mark.timeout(900)  # writes and streams 100,000 rows: minutes on a busy two-core box
def test_a_100000_row_ledger_export_streams_with_flat_memory(client, make_user):
    client.force_login(make_user("regulator"))
    figures = {}
    # a first request of each kind warms up imports and caches, so they do not count as the export's
    sync_export(client)()
    asgi_export(client)()
    # given 10,000 transfers, then 100,000
    insert_transfers(10_000)
    figures["sync", 10_000] = measure(sync_export(client))
    figures["asgi", 10_000] = measure(asgi_export(client))
    insert_transfers(90_000)
    figures["sync", 100_000] = measure(sync_export(client))
    figures["asgi", 100_000] = measure(asgi_export(client))
    for (mode, rows), f in figures.items():
        print(f"\nledger.csv {mode:4} {rows:>7,} rows: {f['bytes'] / MB:6.1f} MB of CSV, "
              f"peak traced Python memory {f['peak'] / MB:5.2f} MB")
    for mode in ("sync", "asgi"):
        small, large = figures[mode, 10_000], figures[mode, 100_000]
        # every row came through, one header line on top
        assert (small["lines"], large["lines"]) == (10_001, 100_001)
        # the peak is far below the size of the whole CSV ...
        assert large["peak"] < large["bytes"] / 4, (mode, large)
        # ... and ten times the rows costs barely more memory than a tenth of them
        assert large["peak"] < small["peak"] * 1.5 + 2 * MB, (mode, small, large)
