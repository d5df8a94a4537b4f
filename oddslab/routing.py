from django.urls import path

from accounts.consumers import PlayerMeConsumer
from core.sockets import ChallengesConsumer, OddsConsumer
from oddslab.web.consumers import PageChallengesConsumer, PageMeConsumer, PageOddsConsumer

# Public: no session or user (oddslab/asgi.py routes it before the session middleware).
public_websocket_urlpatterns = [
    path("ws/v1/odds", OddsConsumer.as_asgi()),
    path("ws/v1/challenges", ChallengesConsumer.as_asgi()),
]

websocket_urlpatterns = [
    path("ws/v1/me", PlayerMeConsumer.as_asgi()),
    # The same messages as server-rendered HTML fragments for the htmx ws extension (player pages).
    path("ws/pages/odds", PageOddsConsumer.as_asgi()),
    path("ws/pages/me", PageMeConsumer.as_asgi()),
    path("ws/pages/challenges", PageChallengesConsumer.as_asgi()),
]
