from django.urls import path

from oddslab.sockets import MeConsumer, OddsConsumer

websocket_urlpatterns = [
    path("ws/v1/odds", OddsConsumer.as_asgi()),
    path("ws/v1/me", MeConsumer.as_asgi()),
]
