import gc
import os
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oddslab.settings")
django.setup(set_prefix=False)  # before importing consumers


class RequestHandler(ASGIHandler):
    """Django's ASGI handler, less two costs it adds to every request (bench/RESULTS.md, 2026-12-07):

    - one hop into a thread per request, not three. Two of the middleware are sync-only, so Django
      ran the chain in a thread, hopped back to the event loop for its async inner handler, and into
      the thread again for the (sync) view. Here the chain is built sync, view included, as under
      WSGI, and entered once.
    - that thread is kept. Django gives each request a thread-sensitive context with a new
      one-thread executor (a new thread, started and joined per request); here each request takes an
      idle executor from the process's free list and gives it back, so a thread serves many requests
      one after another and as many run at once as requests are in flight.
    """

    def __init__(self) -> None:
        self._idle: list[ThreadPoolExecutor] = []
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self._idle.append(executor)


django_asgi_app = RequestHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from accounts.consumers import TokenAuthMiddleware  # noqa: E402
from core.sockets import BrowserOriginValidator  # noqa: E402
from oddslab.routing import public_websocket_urlpatterns, websocket_urlpatterns  # noqa: E402

websocket_application = URLRouter([
    # The public odds stream needs no user: its frames skip the session middleware's check on every send.
    *public_websocket_urlpatterns,
    # Session cookie (pages) or Authorization: Token (API clients) on the handshake.
    re_path(r"", AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))),
])

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": BrowserOriginValidator(websocket_application),
})

# A server process holds thousands of long-lived objects per thousand sockets. The collector's
# default (a young-generation pass every 700 allocations, each older pass walking every socket's
# objects) took a tenth of a busy socket process; what was loaded at start-up is never garbage.
# bench/RESULTS.md: p99 at 1,000 clients 289 -> 148 ms.
gc.freeze()
gc.set_threshold(50_000, 20, 20)
