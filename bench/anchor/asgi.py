"""The ASGI app the bench serves: Vigil's own (config.asgi) with the anchor's websocket
route added. HTTP is Vigil's app unchanged (the anchor's HTTP route is in config/urls.py
behind VIGIL_BENCH_ANCHOR), and /ws/alerts/ is Vigil's route unchanged, so Vigil and the
anchor are served by the same process in the same way."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("VIGIL_BENCH_ANCHOR", "1")

from config.asgi import django_asgi_app  # sets Django up: import it first

# isort: split
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from bench.anchor.consumers import AnchorFeedConsumer
from config.websocket_urls import websocket_urlpatterns

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([path("ws/bench-anchor/", AnchorFeedConsumer.as_asgi()), *websocket_urlpatterns]),
    }
)
