"""Idle sign-out per clinic, the wall display role, and a member's own sessions and
tokens (issue 20). The suite runs with the idle sign-out off (tests/conftest.py);
these tests switch it on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from backend.models import AuditRecord, Role
from backend.sessions import TOKEN_ID_LENGTH
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def idle_sign_out_on(settings: Any) -> None:
    settings.STAFF_IDLE_SIGN_OUT = True


def signed_in(user: Any) -> Client:
    """Signed in through the sign-in page (two-factor sign-in off here: its own tests
    are in test_two_factor.py), so the session is listed like a real one."""
    client = Client(HTTP_USER_AGENT="Firefox on the ward PC")
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and "/login" not in response["Location"]
    return client


# --- idle sign-out -------------------------------------------------------------------------------


def test_staff_pages_sign_out_after_the_clinics_idle_time(clinic, nurse, clock):
    clock.at(START)
    client = signed_in(nurse)
    assert client.get("/plans/today/").status_code == 200
    clock.advance(timedelta(minutes=20))
    assert client.get("/plans/today/").status_code == 200  # a request resets the idle time
    clock.advance(timedelta(minutes=29))
    assert client.get("/plans/today/").status_code == 200
    clock.advance(timedelta(minutes=31))
    response = client.get("/plans/today/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/plans/today/")
    assert "_auth_user_id" not in client.session
    assert "signed out after 30 minutes without activity" in client.get(response["Location"]).content.decode()


def test_the_idle_time_is_the_clinics_own(clinic, nurse, clock):
    clinic.idle_timeout_minutes = 5
    clinic.save()
    clock.at(START)
    client = signed_in(nurse)
    assert client.get("/plans/today/").status_code == 200
    clock.advance(timedelta(minutes=6))
    assert client.get("/plans/today/").status_code == 302


def test_an_idle_session_is_refused_by_the_api_too(clinic, nurse, clock):
    clock.at(START)
    client = signed_in(nurse)
    assert client.get("/api/v1/staff/me/").status_code == 200
    clock.advance(timedelta(minutes=31))
    assert client.get("/api/v1/staff/me/").status_code in (401, 403)


# --- the wall display ----------------------------------------------------------------------------


@pytest.fixture
def wall_display(clinic) -> Any:
    return UserFactory(clinic=clinic, role=Role.WALL_DISPLAY, phone="")


def test_a_wall_display_watches_the_dashboard_past_any_idle_time(wall_display, clock):
    clock.at(START)
    client = Client()
    landing = client.post("/login/", {"username": wall_display.username, "password": PASSWORD})
    assert landing["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    clock.advance(timedelta(hours=10))
    assert client.get("/dashboard/").status_code == 200


def test_a_wall_display_acknowledges_nothing_and_opens_no_other_page(wall_display, population_alert):
    client = signed_in(wall_display)
    assert client.post(f"/dashboard/alerts/{population_alert.pk}/acknowledge/").status_code == 403
    assert client.post(f"/dashboard/alerts/{population_alert.pk}/resolve/", {"outcome": "advised"}).status_code == 403
    assert client.get(f"/dashboard/alerts/{population_alert.pk}/card/").status_code == 200
    for url in ("/plans/today/", f"/dashboard/alerts/{population_alert.pk}/", "/profile/", "/api/v1/alerts/"):
        assert client.get(url).status_code == 403, url
    assert client.post("/api/v1/ws-tickets/").status_code == 403
    population_alert.refresh_from_db()
    assert population_alert.status == "open"


def test_a_wall_display_has_no_phone(clinic):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(clinic=clinic, role=Role.WALL_DISPLAY, phone="+442079460123")


@pytest.fixture
def population_alert(make_enrolled) -> Any:
    from followup.models import Alert
    from followup.services.checkins import checkin_submit
    from tests.answers import red_answers

    patient = make_enrolled()
    result = checkin_submit(
        patient_id=patient.pk,
        answers=red_answers(),
        scheduled_check_in_id=None,
        channel="app",
        submitted_by=None,
        taken_at=None,
        audit=None,
    )
    return Alert.objects.get(pk=result.alert_ids[0])


# --- own sessions and tokens ---------------------------------------------------------------------


def test_a_member_sees_and_ends_their_own_sessions(clinic, nurse):
    laptop, ward_pc = signed_in(nurse), signed_in(nurse)
    other = signed_in(UserFactory(clinic=clinic, role=Role.NURSE))
    listed = laptop.get("/api/v1/auth/sessions/").json()
    assert len(listed["sessions"]) == 2
    assert [row["current"] for row in listed["sessions"]].count(True) == 1
    assert all(row["user_agent"] == "Firefox on the ward PC" for row in listed["sessions"])
    ward_pc_id = next(row["id"] for row in listed["sessions"] if not row["current"])

    other_id = other.get("/api/v1/auth/sessions/").json()["sessions"][0]["id"]
    assert laptop.delete(f"/api/v1/auth/sessions/{other_id}/").status_code == 404
    assert other.get("/plans/today/").status_code == 200

    assert laptop.delete(f"/api/v1/auth/sessions/{ward_pc_id}/").status_code == 204
    assert ward_pc.get("/plans/today/").status_code == 302
    assert laptop.get("/plans/today/").status_code == 200
    assert AuditRecord.objects.filter(actor_user_id=nurse.pk, action="delete", object_type="session").exists()
    assert len(laptop.get("/api/v1/auth/sessions/").json()["sessions"]) == 1


def test_a_member_sees_and_revokes_their_own_tokens(clinic, nurse, other_nurse):
    keys = [AuthToken.objects.create(user=nurse)[1] for _ in range(2)]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {keys[0]}")
    tokens = api.get("/api/v1/auth/sessions/").json()["tokens"]
    assert len(tokens) == 2 and all(len(row["id"]) == TOKEN_ID_LENGTH for row in tokens)
    assert not any(key[:8] in row["id"] for key in keys for row in tokens)  # a digest, not the token
    other_id = next(row["id"] for row in tokens if not row["current"])

    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=other_nurse)[1]}")
    assert stranger.delete(f"/api/v1/auth/tokens/{other_id}/").status_code == 404

    assert api.delete(f"/api/v1/auth/tokens/{other_id}/").status_code == 204
    revoked = APIClient()
    revoked.credentials(HTTP_AUTHORIZATION=f"Token {keys[1]}")
    assert revoked.get("/api/v1/staff/me/").status_code == 401
    assert api.get("/api/v1/staff/me/").status_code == 200


def test_the_sessions_page_lists_and_ends_sessions_and_tokens(clinic, nurse):
    AuthToken.objects.create(user=nurse)
    laptop, ward_pc = signed_in(nurse), signed_in(nurse)
    page = laptop.get("/profile/sessions/").content.decode()
    assert "This browser" in page and "Firefox on the ward PC" in page and "Revoke" in page
    ward_pc_id = next(
        row["id"] for row in laptop.get("/api/v1/auth/sessions/").json()["sessions"] if not row["current"]
    )
    assert laptop.post(f"/profile/sessions/{ward_pc_id}/end/").status_code == 302
    assert ward_pc.get("/profile/sessions/").status_code == 302
