"""Websocket routes. Each consumer checks its own credentials and Origin.

AuthMiddlewareStack reads the session cookie (the dashboard page's sign-in) into
scope["user"]; the consumer also takes a knox token in `?token=` and decides itself
which Origin it accepts with which credentials (notifications.consumers)."""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from notifications.consumers import AlertFeedConsumer

websocket_urlpatterns: list = [
    path("ws/alerts/", AuthMiddlewareStack(AlertFeedConsumer.as_asgi())),
]
