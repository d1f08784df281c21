"""Staff two-factor sign-in (issue 20, must show 1): without a confirmed authenticator
no staff page and no API token; five wrong codes lock the account (until the window
passes or the admin unlocks it); recovery codes work once each; every attempt is
audited without the password or the code; production settings cannot turn it off.

The suite runs with two-factor sign-in off (tests/conftest.py); these tests switch it on."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.enrolment_codes import enrolment_code_issue
from backend.models import AuditRecord, Role
from tests.factories import PASSWORD, UserFactory
from tests.security.two_factor_kit import authenticator_create, code_of, sign_in

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
STAFF_ROLES = (Role.NURSE, Role.SURGEON, Role.COORDINATOR, Role.ADMIN, Role.WALL_DISPLAY)


@pytest.fixture(autouse=True)
def two_factor_on(settings: Any) -> None:
    settings.STAFF_TWO_FACTOR = True


# --- no second factor, no staff page ------------------------------------------------------------

# Pages anyone may open: the sign-in steps themselves, the language switch, signing
# out, and the patient's check-in behind its signed SMS link.
_OPEN_PAGES = {"plans-login", "sign-in-code", "sign-in-enrol", "sign-in-recovery-codes", "set_language", "plans-logout"}
_OPEN_PAGES |= {"patient-checkin-form"}


def staff_page_urls() -> list[str]:
    """Every staff page route, with 1 for each id."""
    urls: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and entry.name not in _OPEN_PAGES:
                route = prefix + str(entry.pattern)
                # Not staff pages: APIs (token-judged), Django's admin, webhooks, and the
                # patient app (/app/, its own sign-in by SMS code).
                if route.startswith(("api/", "admin/", "webhooks/", "fhir/", "healthz", "bench/", "app/")):
                    continue
                for converter in ("<int:", "<str:", "<slug:", "<uuid:"):
                    while converter in route:
                        start = route.index(converter)
                        route = route[:start] + "1" + route[route.index(">", start) + 1 :]
                urls.append("/" + route)

    walk(get_resolver().url_patterns, "")
    return sorted(set(urls))


def assert_no_staff_page(client: Client) -> None:
    urls = staff_page_urls()
    assert "/plans/today/" in urls and "/dashboard/" in urls and "/profile/" in urls
    for url in urls:
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if response.status_code == 302:
                assert response["Location"].startswith("/login/"), f"{method} {url} -> {response['Location']}"
            else:
                # A page for another method answers 405 before anything is shown.
                assert response.status_code in (403, 405), f"{method.upper()} {url} -> {response.status_code}"


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_a_staff_user_without_a_confirmed_authenticator_reaches_no_staff_page(clinic, role):
    """H12: the right password alone is half a sign-in: the enrolment comes next, and
    until it is done no staff page opens (every page route walked, GET and POST)."""
    user = UserFactory(clinic=clinic, role=role, **({"phone": ""} if role == Role.WALL_DISPLAY else {}))
    client = Client()
    first = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert first.status_code == 302 and first["Location"] == "/login/enrol/"
    assert "_auth_user_id" not in client.session
    assert_no_staff_page(client)
    # An unconfirmed authenticator (scanned, never typed) is no better.
    issued = enrolment_code_issue(user=user, by=None, audit=None)
    assert client.post("/login/enrol/", {"enrolment_code": issued.code})["Location"] == "/login/enrol/"
    assert b"<svg" in client.get("/login/enrol/").content
    assert TOTPDevice.objects.filter(user=user, confirmed=False).exists()
    assert_no_staff_page(client)


def test_a_session_that_skipped_the_second_factor_is_signed_out(clinic):
    """A session made around the sign-in pages (or before the switch went on) is no
    staff session: the guard signs it out on its first request."""
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    authenticator_create(nurse)
    client = Client()
    client.force_login(nurse)
    assert_no_staff_page(client)
    assert "_auth_user_id" not in client.session


def test_the_api_token_needs_a_confirmed_authenticator_and_its_code(anonymous_client, clinic):
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    credentials = {"username": nurse.username, "password": PASSWORD}
    missing = anonymous_client.post("/api/v1/auth/token/", credentials)
    assert missing.status_code == 403
    assert "authenticator" in missing.json()["otp_token"][0] and "token" not in missing.json()
    assert missing.json()["detail"] == missing.json()["otp_token"][0]

    device, _codes = authenticator_create(nurse)
    no_code = anonymous_client.post("/api/v1/auth/token/", credentials)
    assert no_code.status_code == 400 and list(no_code.json()) == ["otp_token"]
    wrong = anonymous_client.post("/api/v1/auth/token/", {**credentials, "otp_token": "000000"})
    assert wrong.status_code == 400 and list(wrong.json()) == ["otp_token"]
    right = anonymous_client.post("/api/v1/auth/token/", {**credentials, "otp_token": code_of(device)})
    assert right.status_code == 200
    body = right.json()
    assert set(body) == {"token", "expires_at", "user"}
    assert body["user"] == {"id": nurse.pk, "username": nurse.username, "role": "nurse", "clinic": clinic.pk}


def test_a_wall_display_gets_no_api_token(anonymous_client, clinic):
    display = UserFactory(clinic=clinic, role=Role.WALL_DISPLAY, phone="")
    device, _codes = authenticator_create(display)
    response = anonymous_client.post(
        "/api/v1/auth/token/", {"username": display.username, "password": PASSWORD, "otp_token": code_of(device)}
    )
    assert response.status_code == 403


# --- enrolment ---------------------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_and_signs_in_with_the_first_code_and_ten_recovery_codes(clinic):
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    client = Client()
    client.post("/login/", {"username": nurse.username, "password": PASSWORD})
    issued = enrolment_code_issue(user=nurse, by=None, audit=None)
    client.post("/login/enrol/", {"enrolment_code": issued.code})
    page = client.get("/login/enrol/").content.decode()
    assert "<svg" in page and "<script" not in page.split("<main", 1)[1]
    device = TOTPDevice.objects.get(user=nurse, confirmed=False)
    # A wrong first code confirms nothing.
    assert client.post("/login/enrol/", {"code": "000000"}).status_code == 200
    assert not TOTPDevice.objects.filter(user=nurse, confirmed=True).exists()
    response = client.post("/login/enrol/", {"code": code_of(device)})
    assert response.status_code == 302 and response["Location"] == "/login/recovery-codes/"
    shown = client.get("/login/recovery-codes/").content.decode()
    codes = list(StaticToken.objects.filter(device__user=nurse).values_list("token", flat=True))
    assert len(codes) == 10 and all(code in shown for code in codes)
    # Shown once.
    assert client.get("/login/recovery-codes/").status_code == 302
    assert client.get("/plans/today/").status_code == 200


# --- lock-out ------------------------------------------------------------------------------------


def test_five_wrong_codes_lock_the_account_until_the_window_passes(clinic, clock):
    """A guesser with the password gets five tries at the code, then nothing, even with
    the right code; the lock lifts once the failures leave the window (15 minutes)."""
    clock.at(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    device, _codes = authenticator_create(nurse)
    client = Client()
    client.post("/login/", {"username": nurse.username, "password": PASSWORD})
    pages = [client.post("/login/code/", {"code": "123456"}).content.decode() for _ in range(5)]
    assert all("not right" in page for page in pages)
    assert "locked" not in pages[3] and "locked" in pages[4]
    refused = client.post("/login/code/", {"code": code_of(device)}).content.decode()
    assert "locked" in refused and "_auth_user_id" not in client.session
    # The password step is locked too, with the same clear words.
    again = Client().post("/login/", {"username": nurse.username, "password": PASSWORD})
    assert again.status_code == 200 and "locked" in again.content.decode()

    clock.advance(timedelta(minutes=16))
    sign_in(Client(), nurse, code_of(device))


def test_the_clinic_admin_unlocks_a_locked_account_and_it_is_audited(clinic):
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    device, _codes = authenticator_create(nurse)
    admin = UserFactory(clinic=clinic, role=Role.ADMIN)
    admin_device, _admin_codes = authenticator_create(admin)
    for _ in range(5):
        Client().post("/login/", {"username": nurse.username, "password": "wrong"})
    assert "locked" in Client().post("/login/", {"username": nurse.username, "password": PASSWORD}).content.decode()

    admin_client = Client()
    sign_in(admin_client, admin, code_of(admin_device))
    assert "Locked" in admin_client.get("/profile/staff-sign-in/").content.decode()
    assert admin_client.post(f"/profile/staff-sign-in/{nurse.pk}/unlock/").status_code == 302
    assert AuditRecord.objects.filter(actor_user_id=admin.pk, object_type="sign_in_lock", object_id=str(nurse.pk))
    sign_in(Client(), nurse, code_of(device))


def test_failures_from_one_address_lock_that_address(clinic, settings):
    settings.LOCKOUT_ADDRESS_FAILURES = 6
    for attempt in range(6):
        Client().post("/login/", {"username": f"someone-{attempt}", "password": "wrong"})
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    page = Client().post("/login/", {"username": nurse.username, "password": PASSWORD}).content.decode()
    assert "locked" in page


# --- recovery codes ------------------------------------------------------------------------------


def test_recovery_codes_work_once_each(clinic):
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    _device, codes = authenticator_create(nurse)
    assert len(codes) == 10 and len(set(codes)) == 10
    first, second = codes[0], codes[1]
    sign_in(Client(), nurse, first)
    client = Client()
    client.post("/login/", {"username": nurse.username, "password": PASSWORD})
    reused = client.post("/login/code/", {"code": first})
    assert reused.status_code == 200 and "_auth_user_id" not in client.session
    sign_in(Client(), nurse, second.upper())  # as printed or typed: case and spaces do not matter
    assert StaticToken.objects.filter(device__user=nurse).count() == 8


def test_the_admin_resets_a_lost_authenticator_and_it_is_audited(clinic, other_clinic):
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    authenticator_create(nurse)
    admin = UserFactory(clinic=clinic, role=Role.ADMIN)
    admin_device, _codes = authenticator_create(admin)
    other_admin = UserFactory(clinic=other_clinic, role=Role.ADMIN)
    other_device, _other_codes = authenticator_create(other_admin)

    stranger = Client()
    sign_in(stranger, other_admin, code_of(other_device))
    assert stranger.post(f"/profile/staff-sign-in/{nurse.pk}/reset/").status_code == 404
    assert TOTPDevice.objects.filter(user=nurse, confirmed=True).exists()

    admin_client = Client()
    sign_in(admin_client, admin, code_of(admin_device))
    reset = admin_client.post(f"/profile/staff-sign-in/{nurse.pk}/reset/")
    # The page shows the member's new enrolment code (tests/security/test_enrolment_code.py).
    assert reset.status_code == 200 and "Enrolment code" in reset.content.decode()
    assert not TOTPDevice.objects.filter(user=nurse).exists()
    assert not StaticToken.objects.filter(device__user=nurse).exists()
    assert AuditRecord.objects.filter(
        actor_user_id=admin.pk, action="delete", object_type="two_factor_device", object_id=str(nurse.pk)
    ).exists()
    # The nurse sets up a new authenticator at the next sign-in.
    client = Client()
    assert client.post("/login/", {"username": nurse.username, "password": PASSWORD})["Location"] == "/login/enrol/"


# --- the audit trail -----------------------------------------------------------------------------


def test_every_sign_in_attempt_is_audited_without_the_password_or_the_code(clinic, anonymous_client):
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    device, codes = authenticator_create(nurse)
    wrong_password, wrong_code = "Tr0ub4dor&3-wrong", "654321"
    Client().post("/login/", {"username": "nobody-at-all", "password": wrong_password})
    Client().post("/login/", {"username": nurse.username, "password": wrong_password})
    client = Client()
    client.post("/login/", {"username": nurse.username, "password": PASSWORD})
    client.post("/login/code/", {"code": wrong_code})
    client.post("/login/code/", {"code": codes[0]})
    anonymous_client.post(
        "/api/v1/auth/token/", {"username": nurse.username, "password": PASSWORD, "otp_token": code_of(device)}
    )
    anonymous_client.post("/api/v1/auth/token/", {"username": nurse.username, "password": wrong_password})
    for _ in range(4):
        Client().post("/login/", {"username": nurse.username, "password": wrong_password})
    Client().post("/login/", {"username": nurse.username, "password": PASSWORD})  # locked by now

    rows = list(AuditRecord.objects.filter(action="login").order_by("id"))
    outcomes = [row.object_type for row in rows]
    assert outcomes == [
        "sign_in.bad_password",  # an unknown username: a row naming no one
        "sign_in.bad_password",
        "sign_in.bad_code",
        "sign_in.succeeded",
        "sign_in.succeeded",  # the API token
        "sign_in.bad_password",
        "sign_in.bad_password",
        "sign_in.bad_password",
        "sign_in.bad_password",
        "sign_in.bad_password",
        "sign_in.locked",
    ]
    assert rows[0].actor_user_id is None and rows[0].actor_username == ""
    assert all(row.actor_user_id == nurse.pk for row in rows[1:])
    assert all(row.ip_address == "127.0.0.1" for row in rows)
    secrets = [PASSWORD, wrong_password, wrong_code, codes[0], "nobody-at-all", device.key]
    for row in AuditRecord.objects.all():
        text = " ".join(str(getattr(row, f.attname)) for f in AuditRecord._meta.fields if isinstance(f, models.Field))
        assert not any(secret in text for secret in secrets), text


# --- the switch ----------------------------------------------------------------------------------


def _settings_load(**env: str) -> subprocess.CompletedProcess[str]:
    base = {
        key: value for key, value in os.environ.items() if key not in ("VIGIL_TEST_RUN", "DEBUG", "VIGIL_STAFF_2FA")
    }
    base.update({"DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x" * 50, **env})
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.STAFF_TWO_FACTOR)"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_refuse_to_load_with_two_factor_off():
    refused = _settings_load(VIGIL_STAFF_2FA="0", DATABASE_URL="postgres://vigil@127.0.0.1:5432/vigil")
    assert refused.returncode != 0 and "VIGIL_STAFF_2FA cannot be off" in refused.stderr
    # Even claiming to be the demo: the demo is the embedded SQLite, never PostgreSQL.
    pretending = _settings_load(
        VIGIL_STAFF_2FA="0", VIGIL_EMBEDDED_DEMO="1", DATABASE_URL="postgres://vigil@127.0.0.1:5432/vigil"
    )
    assert pretending.returncode != 0
    assert _settings_load(DATABASE_URL="postgres://vigil@127.0.0.1:5432/vigil").stdout.strip() == "True"
    demo = _settings_load(VIGIL_STAFF_2FA="0", VIGIL_EMBEDDED_DEMO="1", DATABASE_URL="sqlite:////tmp/demo.sqlite3")
    assert demo.returncode == 0 and demo.stdout.strip() == "False"


def test_with_two_factor_off_every_staff_page_says_so(settings, nurse, client):
    settings.STAFF_TWO_FACTOR = False
    banner = "two-factor sign-in is off"
    assert banner in client.get("/login/").content.decode()
    client.force_login(nurse)
    assert banner in client.get("/plans/today/").content.decode()
    settings.STAFF_TWO_FACTOR = True
    assert banner not in Client().get("/login/").content.decode()
