"""No credentials in URLs (issue 20, must show 2): the /ws/alerts/ handshake refuses
`?token=` even with a valid token; an API client's ticket (POST /api/v1/ws-tickets/)
works once, within 30 s, from the Origin it was made for and no other; a staff page's
session opens the feed only once it passed both factors. H12."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from backend.models import Role
from backend.services import patient_user_get_or_create
from tests.factories import UserFactory
from tests.security.two_factor_kit import authenticator_create, code_of, sign_in
from tests.ws_tickets import ws_ticket

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://testserver"
FOREIGN_ORIGIN_ALLOWED_TOO = "http://localhost"


async def _handshake(query: str, *, origin: str | None, cookie: str | None = None) -> bool:
    from config.asgi import application

    headers = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/alerts/{query}", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return bool(connected)


def handshake(query: str, *, origin: str | None, cookie: str | None = None) -> bool:
    return async_to_sync(_handshake)(query, origin=origin, cookie=cookie)


def test_a_token_in_the_url_is_refused_even_when_valid(nurse):
    _instance, key = AuthToken.objects.create(user=nurse)
    assert not handshake(f"?token={key}", origin=None)
    assert not handshake(f"?token={key}", origin=ORIGIN)
    # The same token in a header buys a ticket that is accepted.
    assert handshake(f"?ticket={ws_ticket(nurse, origin=None, token=key)}", origin=None)


def test_a_ticket_works_once(nurse):
    ticket = ws_ticket(nurse, origin=ORIGIN)
    assert handshake(f"?ticket={ticket}", origin=ORIGIN)
    assert not handshake(f"?ticket={ticket}", origin=ORIGIN)


def test_a_ticket_works_within_30_seconds_and_not_after(nurse):
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        early, late = ws_ticket(nurse, origin=ORIGIN), ws_ticket(nurse, origin=ORIGIN)
    with time_machine.travel(start + timedelta(seconds=29), tick=False):
        assert handshake(f"?ticket={early}", origin=ORIGIN)
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert not handshake(f"?ticket={late}", origin=ORIGIN)


def test_a_ticket_works_only_from_the_origin_it_was_made_for(nurse, settings: Any):
    assert "localhost" in settings.ALLOWED_HOSTS  # an allowed origin, just not this ticket's
    ticket = ws_ticket(nurse, origin=ORIGIN)
    assert not handshake(f"?ticket={ticket}", origin=FOREIGN_ORIGIN_ALLOWED_TOO)
    # Refused, and used up: the right Origin cannot try it again.
    assert not handshake(f"?ticket={ticket}", origin=ORIGIN)
    # A program's ticket (no Origin) is not a browser's, nor the other way round.
    assert not handshake(f"?ticket={ws_ticket(nurse, origin=None)}", origin=ORIGIN)
    assert not handshake(f"?ticket={ws_ticket(nurse, origin=ORIGIN)}", origin=None)
    # And a foreign site is refused whatever it carries.
    assert not handshake(f"?ticket={ws_ticket(nurse, origin='https://evil.example')}", origin="https://evil.example")


def test_only_staff_get_tickets(patient, nurse):
    assert APIClient().post("/api/v1/ws-tickets/").status_code == 401
    _instance, key = AuthToken.objects.create(user=patient_user_get_or_create(patient))
    assert APIClient().post("/api/v1/ws-tickets/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 403
    response = APIClient().post("/api/v1/ws-tickets/", HTTP_AUTHORIZATION=f"Token {ws_key(nurse)}")
    assert response.status_code == 201 and set(response.json()) == {"ticket", "expires_at"}
    assert len(response.json()["ticket"]) >= 40


def ws_key(user: Any) -> str:
    return AuthToken.objects.create(user=user)[1]


def test_a_staff_session_opens_the_feed_only_after_both_factors(clinic, settings: Any):
    settings.STAFF_TWO_FACTOR = True
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    device, _codes = authenticator_create(nurse)
    forced = Client()
    forced.force_login(nurse)  # a session around the sign-in pages: no second factor
    assert not handshake("", origin=ORIGIN, cookie=forced.cookies[settings.SESSION_COOKIE_NAME].value)
    client = Client()
    sign_in(client, nurse, code_of(device))
    assert handshake("", origin=ORIGIN, cookie=client.cookies[settings.SESSION_COOKIE_NAME].value)
