# WebSocket routes of every app (/ws/v1/odds, /ws/v1/me) are added here as the live layer lands.
websocket_urlpatterns: list = []
