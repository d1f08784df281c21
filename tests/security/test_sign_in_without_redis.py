"""Staff sign-in while Redis is away (H1: a Redis outage turns no request into a 500).

The lock-out keeps holding: its counts come from the audit trail, which has a row for
every attempt (backend.lockout_fallback). A websocket ticket cannot be made (the feed
needs Redis too): 503 naming the cause, with Retry-After. Redis is taken away for real,
as tests/backend/test_token_auth.py does: the project's Redis URL and the cache point at
a closed port (nothing of ours is mocked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from backend.models import AuditRecord, Role
from backend.ws_tickets import ws_ticket_consume
from tests.factories import PASSWORD, UserFactory
from tests.security.two_factor_kit import authenticator_create, code_of, sign_in

pytestmark = pytest.mark.django_db
CLOSED = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def two_factor_on(settings: Any) -> None:
    settings.STAFF_TWO_FACTOR = True


def redis_away(settings: Any) -> None:
    settings.REDIS_URL = CLOSED
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED,
            "KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        }
    }


def _password(username: str, password: str) -> str:
    response = Client().post("/login/", {"username": username, "password": password})
    assert response.status_code in (200, 302)
    return response.content.decode()


def test_without_redis_five_wrong_passwords_still_lock_the_account(clinic, settings, clock):
    """H1 with H12: the outage neither fails the sign-in page nor lifts the lock-out."""
    clock.at(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    redis_away(settings)
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    device, _codes = authenticator_create(nurse)
    pages = [_password(nurse.username, "wrong") for _ in range(5)]
    assert "locked" not in pages[3] and "locked" in pages[4]
    client = Client()
    refused = client.post("/login/", {"username": nurse.username, "password": PASSWORD})
    assert refused.status_code == 200 and "locked" in refused.content.decode()
    assert AuditRecord.objects.filter(object_type="sign_in.locked", actor_user_id=nurse.pk).count() == 1
    # The username as typed otherwise (case, spaces) is the same account.
    assert "locked" in _password(f" {nurse.username.upper()} ", PASSWORD)
    # The failures leave the window: signing in works again, still without Redis.
    clock.advance(timedelta(minutes=16))
    sign_in(Client(), nurse, code_of(device))


def test_failures_counted_before_the_outage_still_count_during_it(clinic, settings):
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    authenticator_create(nurse)
    for _ in range(4):
        _password(nurse.username, "wrong")  # with Redis
    redis_away(settings)
    assert "locked" in _password(nurse.username, "wrong")


def test_without_redis_five_wrong_codes_lock_and_the_right_code_is_refused(clinic, settings):
    redis_away(settings)
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    device, _codes = authenticator_create(nurse)
    client = Client()
    assert client.post("/login/", {"username": nurse.username, "password": PASSWORD})["Location"] == "/login/code/"
    pages = [client.post("/login/code/", {"code": "123456"}).content.decode() for _ in range(5)]
    assert "locked" not in pages[3] and "locked" in pages[4]
    refused = client.post("/login/code/", {"code": code_of(device)})
    assert "locked" in refused.content.decode() and "_auth_user_id" not in client.session


def test_without_redis_a_full_sign_in_clears_the_accounts_count(clinic, settings):
    redis_away(settings)
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    device, _codes = authenticator_create(nurse)
    for _ in range(4):
        _password(nurse.username, "wrong")
    sign_in(Client(), nurse, code_of(device))
    for _ in range(4):
        assert "locked" not in _password(nurse.username, "wrong")
    assert "locked" in _password(nurse.username, "wrong")


def test_without_redis_one_address_is_locked_after_its_failures(clinic, settings):
    redis_away(settings)
    settings.LOCKOUT_ADDRESS_FAILURES = 6
    for attempt in range(6):
        _password(f"someone-{attempt}", "wrong")
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    assert "locked" in _password(nurse.username, PASSWORD)


def test_without_redis_the_admin_sees_and_lifts_a_lock(clinic, settings):
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    device, _codes = authenticator_create(nurse)
    admin = UserFactory(clinic=clinic, role=Role.ADMIN)
    admin_device, _admin_codes = authenticator_create(admin)
    admin_client = Client()
    sign_in(admin_client, admin, code_of(admin_device))
    redis_away(settings)
    for _ in range(5):
        _password(nurse.username, "wrong")
    page = admin_client.get("/profile/staff-sign-in/")
    assert page.status_code == 200 and "Locked" in page.content.decode()
    assert admin_client.post(f"/profile/staff-sign-in/{nurse.pk}/unlock/").status_code == 302
    sign_in(Client(), nurse, code_of(device))


def test_without_redis_the_token_api_signs_in_and_locks(clinic, settings):
    redis_away(settings)
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    device, _codes = authenticator_create(nurse)
    api = APIClient()
    good = {"username": nurse.username, "password": PASSWORD, "otp_token": code_of(device)}
    assert api.post("/api/v1/auth/token/", good).status_code == 200
    for _ in range(5):
        assert api.post("/api/v1/auth/token/", {**good, "password": "wrong"}).status_code == 400
    locked = api.post("/api/v1/auth/token/", good)
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0


def test_without_redis_a_websocket_ticket_is_a_503_naming_the_cause(clinic, settings):
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    device, _codes = authenticator_create(nurse)
    api = APIClient()
    token = api.post(
        "/api/v1/auth/token/", {"username": nurse.username, "password": PASSWORD, "otp_token": code_of(device)}
    ).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.post("/api/v1/ws-tickets/").status_code == 201
    ticket = api.post("/api/v1/ws-tickets/").json()["ticket"]
    redis_away(settings)
    response = api.post("/api/v1/ws-tickets/")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "ticket_store_unavailable" and "Redis" in body["detail"]
    assert int(response["Retry-After"]) > 0
    # A ticket made before cannot be checked now: nobody is let in on it.
    assert ws_ticket_consume(ticket=ticket, origin="") is None


def test_an_unlock_during_the_outage_still_holds_once_redis_is_back(clinic, settings):
    """The admin lifted the lock while Redis was away; Redis still has the failures
    from before: they no longer count."""
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    device, _codes = authenticator_create(nurse)
    admin = UserFactory(clinic=clinic, role=Role.ADMIN)
    admin_device, _admin_codes = authenticator_create(admin)
    admin_client = Client()
    sign_in(admin_client, admin, code_of(admin_device))
    for _ in range(5):
        _password(nurse.username, "wrong")  # with Redis: locked
    assert "locked" in _password(nurse.username, PASSWORD)
    working = {"REDIS_URL": settings.REDIS_URL, "CACHES": settings.CACHES}
    redis_away(settings)
    assert admin_client.post(f"/profile/staff-sign-in/{nurse.pk}/unlock/").status_code == 302
    settings.REDIS_URL, settings.CACHES = working["REDIS_URL"], working["CACHES"]
    sign_in(Client(), nurse, code_of(device))
