import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oddslab.settings")
django_asgi_app = get_asgi_application()  # set up Django before importing consumers

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from oddslab.routing import websocket_urlpatterns  # noqa: E402
from oddslab.sockets import BrowserOriginValidator, TokenAuthMiddleware  # noqa: E402

# Session cookie (pages) or Authorization: Token (API clients) on the handshake.
websocket_application = AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": BrowserOriginValidator(websocket_application),
})
