"""Websocket routes. Each consumer checks its own credentials and Origin."""

websocket_urlpatterns: list = []
