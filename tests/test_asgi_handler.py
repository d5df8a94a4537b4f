"""oddslab.asgi.RequestHandler: Django's ASGI handler entered once per request, on a kept thread."""

import asyncio

import pytest
from asgiref.testing import ApplicationCommunicator

from oddslab.asgi import RequestHandler

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the view runs on a thread of its own


async def _get(app, path: str = "/healthz") -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
             "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 1234), "server": ("localhost", 80)}
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(10)
    await communicator.receive_output(10)  # the body
    await communicator.wait(10)
    return start["status"]


def test_requests_one_after_another_share_one_thread(settings):
    # given the handler as the server runs it
    settings.ALLOWED_HOSTS = ["localhost"]
    app = RequestHandler()
    # when five requests come one after another
    statuses = asyncio.run(_run_sequentially(app, 5))
    # then each was answered, and one executor (one thread) served them all
    assert statuses == [200] * 5
    assert len(app._idle) == 1


async def _run_sequentially(app, count: int) -> list[int]:
    return [await _get(app) for _ in range(count)]


def test_requests_at_the_same_time_each_have_a_thread(settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    app = RequestHandler()

    async def together():
        return await asyncio.gather(*(_get(app) for _ in range(3)))

    assert asyncio.run(together()) == [200] * 3
    assert 1 <= len(app._idle) <= 3  # as many threads as were in flight at once, then kept


def test_an_unknown_path_still_gets_the_error_shape(settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    assert asyncio.run(_get(RequestHandler(), "/api/v1/nothing-here")) == 404
