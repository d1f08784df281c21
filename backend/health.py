"""GET /healthz: is each part Vigil needs to deliver an alert answering right now?"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from config.celery import app as celery_app

_extra_checks: list[Callable[[], dict[str, object]]] = []


def register_health_check(check: Callable[[], dict[str, object]]) -> None:
    """Apps above the core add their own figures (the alert auditor) without the core
    importing them."""
    _extra_checks.append(check)


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


async def _channel_layer_roundtrip() -> dict:
    layer = get_channel_layer()
    channel = f"healthz.{uuid.uuid4().hex}"
    await layer.send(channel, {"type": "healthz.ping"})
    return await asyncio.wait_for(layer.receive(channel), timeout=2)


def _channel_layer() -> str:
    message = async_to_sync(_channel_layer_roundtrip)()
    return "ok" if message.get("type") == "healthz.ping" else "no echo"


CHECKS: dict[str, Callable[[], str]] = {
    "database": _database,
    "broker": _broker,
    "channel_layer": _channel_layer,
}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            checks[name] = check()
        except Exception as error:  # each failure is reported by name, not raised
            checks[name] = f"error: {type(error).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {"status": "ok" if healthy else "error", "checks": checks}
    for extra in _extra_checks:
        body.update(extra())
    return JsonResponse(body, status=200 if healthy else 503)
