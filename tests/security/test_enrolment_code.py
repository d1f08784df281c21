"""Enrolling an authenticator app needs a one-time code from the clinic admin (issue
20): whoever has only a member's password cannot enrol their own phone first. The code
is shown once, works once, expires after 24 hours, a wrong one counts toward the
lock-out, issuing it is audited; after a reset the member needs a new one. H12."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.models import AuditRecord, Role, StaffEnrolmentCode
from tests.factories import PASSWORD, UserFactory
from tests.security.two_factor_kit import authenticator_create, code_of, sign_in

pytestmark = pytest.mark.django_db
CODE = re.compile(r"<code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code>")


@pytest.fixture(autouse=True)
def two_factor_on(settings: Any) -> None:
    settings.STAFF_TWO_FACTOR = True


@pytest.fixture
def admin_client(clinic) -> tuple[Client, Any]:  # type: ignore[no-untyped-def]
    admin = UserFactory(clinic=clinic, role=Role.ADMIN)
    device, _codes = authenticator_create(admin)
    client = Client()
    sign_in(client, admin, code_of(device))
    return client, admin


def _issued(admin_client: Client, member_pk: int, action: str = "enrolment-code") -> str:
    response = admin_client.post(f"/profile/staff-sign-in/{member_pk}/{action}/")
    assert response.status_code == 200 and "no-store" in response.get("Cache-Control", "")
    found = CODE.search(response.content.decode())
    assert found, response.content.decode()
    return found.group(1)


def _password_step(member) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    assert client.post("/login/", {"username": member.username, "password": PASSWORD})["Location"] == "/login/enrol/"
    return client


def _enrol(client: Client, member, code: str) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/login/enrol/", {"enrolment_code": code})["Location"] == "/login/enrol/"
    assert "<svg" in client.get("/login/enrol/").content.decode()
    device = TOTPDevice.objects.get(user=member, confirmed=False)
    assert client.post("/login/enrol/", {"code": code_of(device)})["Location"] == "/login/recovery-codes/"
    assert client.session.get("_auth_user_id") == str(member.pk)


def test_the_password_alone_shows_no_qr_code_and_enrols_nothing(clinic):
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    client = _password_step(nurse)
    page = client.get("/login/enrol/").content.decode()
    assert "<svg" not in page and 'name="enrolment_code"' in page
    assert not TOTPDevice.objects.filter(user=nurse).exists()  # no secret made, none shown
    # A first code typed without the enrolment code confirms nothing either.
    refused = client.post("/login/enrol/", {"code": "123456"}).content.decode()
    assert "<svg" not in refused and not TOTPDevice.objects.filter(user=nurse).exists()
    assert "_auth_user_id" not in client.session


def test_the_admin_issues_a_code_once_the_member_enrols_with_it_and_it_is_used_up(admin_client, clinic):
    client_of_admin, admin = admin_client
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    page = client_of_admin.get("/profile/staff-sign-in/").content.decode()
    assert f"/profile/staff-sign-in/{nurse.pk}/enrolment-code/" in page
    code = _issued(client_of_admin, nurse.pk)
    # Only a digest is kept; the code is nowhere in the database.
    stored = StaffEnrolmentCode.objects.get(user=nurse)
    assert code not in stored.digest and code.replace("-", "") not in stored.digest
    assert AuditRecord.objects.filter(
        actor_user_id=admin.pk, action="create", object_type="enrolment_code", object_id=str(nurse.pk)
    ).exists()
    assert "Issued, not used yet" in client_of_admin.get("/profile/staff-sign-in/").content.decode()

    _enrol(_password_step(nurse), nurse, code.lower().replace("-", " "))  # as typed: case, spaces
    assert not StaffEnrolmentCode.objects.filter(user=nurse).exists()
    # Used up: after a reset the old code does not enrol again.
    TOTPDevice.objects.filter(user=nurse).delete()
    again = _password_step(nurse)
    refused = again.post("/login/enrol/", {"enrolment_code": code})
    assert refused.status_code == 200 and "not right" in refused.content.decode()


def test_the_code_expires_after_24_hours(admin_client, clinic, clock):
    clock.at(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    client_of_admin, _admin = admin_client
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    code = _issued(client_of_admin, nurse.pk)
    clock.advance(timedelta(hours=24, minutes=1))
    refused = _password_step(nurse).post("/login/enrol/", {"enrolment_code": code})
    assert refused.status_code == 200 and "expired" in refused.content.decode()
    assert AuditRecord.objects.filter(object_type="sign_in.bad_enrolment_code", actor_user_id=nurse.pk).exists()


def test_wrong_enrolment_codes_lock_the_account(admin_client, clinic):
    client_of_admin, _admin = admin_client
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    code = _issued(client_of_admin, nurse.pk)
    client = _password_step(nurse)
    pages = [client.post("/login/enrol/", {"enrolment_code": "AAAA-BBBB-CCCC"}).content.decode() for _ in range(5)]
    assert "locked" not in pages[3] and "locked" in pages[4]
    assert "locked" in client.post("/login/enrol/", {"enrolment_code": code}).content.decode()
    assert "<svg" not in client.get("/login/enrol/").content.decode()


def test_a_reset_shows_the_new_enrolment_code_and_the_member_needs_it(admin_client, clinic):
    client_of_admin, _admin = admin_client
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    authenticator_create(nurse)
    code = _issued(client_of_admin, nurse.pk, action="reset")
    assert not TOTPDevice.objects.filter(user=nurse, confirmed=True).exists()
    client = _password_step(nurse)
    assert "<svg" not in client.get("/login/enrol/").content.decode()
    _enrol(client, nurse, code)


def test_a_member_with_an_authenticator_gets_no_code_and_another_clinic_admin_none(admin_client, clinic, other_clinic):
    client_of_admin, _admin = admin_client
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    authenticator_create(nurse)
    assert client_of_admin.post(f"/profile/staff-sign-in/{nurse.pk}/enrolment-code/").status_code == 302
    stranger = UserFactory(clinic=other_clinic, role=Role.NURSE)
    assert client_of_admin.post(f"/profile/staff-sign-in/{stranger.pk}/enrolment-code/").status_code == 404
    assert not StaffEnrolmentCode.objects.exists()


def test_the_first_admin_gets_a_code_from_the_console(clinic):
    first_admin = UserFactory(clinic=clinic, role=Role.ADMIN)
    out = StringIO()
    call_command("staff_enrolment_code", first_admin.username, stdout=out, stderr=StringIO())
    _enrol(_password_step(first_admin), first_admin, out.getvalue().strip())
    assert AuditRecord.objects.filter(
        actor_user_id=None, object_type="enrolment_code", object_id=str(first_admin.pk)
    ).exists()


def test_with_two_factor_off_nobody_needs_a_code(settings, clinic):
    """The `make run` demo: the password signs in, no enrolment."""
    settings.STAFF_TWO_FACTOR = False
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    response = Client().post("/login/", {"username": nurse.username, "password": PASSWORD})
    assert response.status_code == 302 and not response["Location"].startswith("/login/")
