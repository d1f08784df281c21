"""Websocket tickets for tests that open /ws/alerts/ as an API client would: a token
in the Authorization header buys a single-use ticket (POST /api/v1/ws-tickets/), and
the handshake presents `?ticket=` (a long-lived token is never put in a URL)."""

from __future__ import annotations

from knox.models import AuthToken
from rest_framework.test import APIClient

from backend.models import User


def ws_ticket(user: User, *, origin: bytes | str | None, token: str | None = None) -> str:
    """A ticket for ``user``, made from ``origin`` (None: a program, no Origin header),
    through the API with ``token`` (a new token of the user when not given)."""
    if token is None:
        _instance, token = AuthToken.objects.create(user=user)
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"}
    if origin is not None:
        headers["HTTP_ORIGIN"] = origin.decode() if isinstance(origin, bytes) else origin
    response = APIClient().post("/api/v1/ws-tickets/", **headers)
    assert response.status_code == 201, response.content
    return str(response.json()["ticket"])
