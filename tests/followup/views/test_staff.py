"""Staff pages: sign-in, the clinic's day, a patient's plan and its forms (H5, H10,
H12, H14)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client

from backend.models import AuditRecord
from backend.services import patient_user_get_or_create
from followup.models import Appointment, ScheduledCheckIn, WorklistItem
from notifications.models import Event
from tests.factories import PASSWORD, EpisodeFactory, PatientFactory, local

pytestmark = pytest.mark.django_db

TZ = "Europe/Istanbul"
DISCHARGE = date(2026, 6, 1)
NOW = local(DISCHARGE + timedelta(days=2), "12:00", TZ)


@pytest.fixture
def enrolled(make_enrollment, clock, patient):
    clock.at(NOW)
    patient.timezone = TZ
    patient.save()
    return make_enrollment(discharge=DISCHARGE, patient=patient)


@pytest.fixture
def staff(client: Client, nurse) -> Client:
    client.force_login(nurse)
    return client


def plan_url(patient) -> str:
    return f"/plans/patients/{patient.pk}/"


# --- who may see the pages ---------------------------------------------------------------------


def test_signed_out_staff_are_sent_to_the_sign_in_page(client, enrolled):
    response = client.get("/plans/today/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/plans/today/")


def test_a_patient_session_is_refused(client, enrolled):
    client.force_login(patient_user_get_or_create(enrolled.patient))
    assert client.get("/plans/today/").status_code == 403
    assert client.get(plan_url(enrolled.patient)).status_code == 403


def test_staff_sign_in_with_password_and_the_sign_in_is_audited(client, nurse):
    page = client.get("/login/")
    assert page.status_code == 200 and b'name="password"' in page.content
    response = client.post("/login/", {"username": nurse.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/plans/today/"
    assert AuditRecord.objects.filter(action="login", actor_user_id=nurse.pk).exists()
    assert client.get("/plans/today/").status_code == 200


def test_a_wrong_password_or_a_non_staff_account_does_not_sign_in(client, nurse, other_patient):
    assert client.post("/login/", {"username": nurse.username, "password": "wrong"}).status_code == 200
    user = patient_user_get_or_create(other_patient)
    user.set_password(PASSWORD)
    user.save()
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200 and b"errorlist" in response.content
    assert "_auth_user_id" not in client.session


def test_another_clinics_patient_is_404(client, other_nurse, enrolled):
    """H12."""
    client.force_login(other_nurse)
    assert client.get(plan_url(enrolled.patient)).status_code == 404
    appointment = Appointment.objects.filter(enrollment=enrolled).first()
    response = client.post(
        f"/plans/patients/{enrolled.patient_id}/appointments/{appointment.pk}/move/",
        {"patient": enrolled.patient_id, "starts_at": "2026-06-09T10:00"},
    )
    assert response.status_code == 404
    assert Appointment.objects.get(pk=appointment.pk).starts_at == appointment.starts_at


# --- the clinic's day --------------------------------------------------------------------------


def test_the_day_view_shows_what_is_due_across_the_clinic(staff, enrolled, make_enrollment, clinic, other_clinic):
    second = make_enrollment(discharge=DISCHARGE, tz=TZ)
    foreign = PatientFactory(clinic=other_clinic, given_name="Foreign")
    WorklistItem.objects.create(patient=second.patient, clinic=clinic, kind="no_response", detail="Check-in missed")
    WorklistItem.objects.create(patient=foreign, clinic=other_clinic, kind="no_response")

    response = staff.get("/plans/today/")
    assert response.status_code == 200
    page = response.content.decode()
    for patient in (enrolled.patient, second.patient):
        assert patient.mrn in page and patient.family_name in page
    assert "Foreign" not in page
    assert "Check-in missed" in page
    day = response.context["day"]
    assert {row.day for row in day.check_ins} == {2}
    assert len(day.check_ins) == 2 and len(day.worklist) == 1
    assert AuditRecord.objects.filter(action="read", object_type="scheduled_check_in").count() == 2


def test_the_day_view_costs_the_same_queries_for_more_patients(
    staff, enrolled, make_enrollment, django_assert_max_num_queries
):
    with django_assert_max_num_queries(14):
        staff.get("/plans/today/")
    for _ in range(5):
        make_enrollment(discharge=DISCHARGE, tz=TZ)
    with django_assert_max_num_queries(14):
        assert len(staff.get("/plans/today/").context["day"].check_ins) == 6


def test_another_day_can_be_shown(staff, enrolled):
    response = staff.get("/plans/today/", {"day": "2026-06-08"})
    assert {row.plan_key for row in response.context["day"].appointments} == {"lab:d007", "telemedicine:d007"}
    assert staff.get("/plans/today/", {"day": "someday"}).status_code == 404


def test_closing_a_worklist_item_from_the_day_view(staff, enrolled, nurse, clinic):
    item = WorklistItem.objects.create(patient=enrolled.patient, clinic=clinic, kind="no_response")
    response = staff.post(f"/plans/worklist/{item.pk}/done/", {"patient": enrolled.patient_id})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "done" and item.done_by == nurse


# --- a patient's plan --------------------------------------------------------------------------


def test_the_plan_page_names_the_patient_and_mrn_before_any_form(staff, enrolled, django_assert_max_num_queries):
    """H5: name and MRN at the top and beside every save button."""
    with django_assert_max_num_queries(20):
        response = staff.get(plan_url(enrolled.patient))
    assert response.status_code == 200
    page = response.content.decode()
    patient = enrolled.patient
    banner = page.index('class="patient-banner"')
    assert page.index(patient.mrn, banner) < page.index("<form", banner)
    assert page.count(f"MRN {patient.mrn}") >= 3
    assert "Europe/Istanbul" in page
    assert AuditRecord.objects.filter(action="read", object_type="patient", patient_id=patient.pk).exists()


def test_a_nurse_moves_an_appointment_with_the_form(staff, enrolled, nurse):
    """Times on the form are the patient's wall clock (H10): 10:30 Istanbul is 07:30 UTC."""
    lab = Appointment.objects.get(enrollment=enrolled, plan_key="lab:d007")
    response = staff.post(
        f"/plans/patients/{enrolled.patient_id}/appointments/{lab.pk}/move/",
        {"patient": enrolled.patient_id, "starts_at": "2026-06-09T10:30"},
    )
    assert response.status_code == 302 and response["Location"].endswith("#appointments")
    lab.refresh_from_db()
    assert lab.starts_at == local(date(2026, 6, 9), "10:30", TZ) and lab.moved_by == nurse
    assert Event.objects.filter(type="appointment.updated", data__id=lab.pk).exists()
    follow = staff.get(response["Location"])
    assert f"MRN {enrolled.patient.mrn}" in next(str(message) for message in follow.context["messages"])


def test_a_form_posted_for_another_patient_changes_nothing(staff, enrolled, make_enrollment):
    """H5: a move form left open on patient A's page cannot land on patient B."""
    lab = Appointment.objects.get(enrollment=enrolled, plan_key="lab:d007")
    other = make_enrollment(discharge=DISCHARGE, tz=TZ).patient
    response = staff.post(
        f"/plans/patients/{enrolled.patient_id}/appointments/{lab.pk}/move/",
        {"patient": other.pk, "starts_at": "2026-06-09T10:30"},
    )
    assert response.status_code == 400
    assert "another patient" in response.content.decode()
    assert Appointment.objects.get(pk=lab.pk).starts_at == lab.starts_at


def test_a_local_time_that_does_not_exist_is_refused(staff, make_enrollment, clock):
    """H10, H14: 02:30 on 29 March 2026 does not exist in Berlin (clocks go forward)."""
    clock.at(local(date(2026, 3, 20), "12:00", "Europe/Berlin"))
    enrollment = make_enrollment(discharge=date(2026, 3, 20), tz="Europe/Berlin")
    lab = Appointment.objects.get(enrollment=enrollment, plan_key="lab:d007")
    response = staff.post(
        f"/plans/patients/{enrollment.patient_id}/appointments/{lab.pk}/move/",
        {"patient": enrollment.patient_id, "starts_at": "2026-03-29T02:30"},
    )
    assert response.status_code == 400 and "does not exist" in response.content.decode()
    assert Appointment.objects.get(pk=lab.pk).starts_at == lab.starts_at


def test_adding_cancelling_and_sending_check_ins_from_the_plan_page(staff, enrolled):
    patient = enrolled.patient
    added = staff.post(
        f"/plans/patients/{patient.pk}/check-ins/",
        {"patient": patient.pk, "due_at": "2026-06-03T18:00", "window_hours": 4, "channel": "sms"},
    )
    assert added.status_code == 302
    row = ScheduledCheckIn.objects.get(patient=patient, origin="nurse")
    assert row.due_at == local(date(2026, 6, 3), "18:00", TZ) and row.window_minutes == 240

    sent = staff.post(f"/plans/patients/{patient.pk}/check-ins/{row.pk}/send-now/", {"patient": patient.pk})
    assert sent.status_code == 302
    row.refresh_from_db()
    assert row.status == "sent"
    again = staff.post(f"/plans/patients/{patient.pk}/check-ins/{row.pk}/send-now/", {"patient": patient.pk})
    assert again.status_code == 400 and "already went out" in again.content.decode()

    day4 = ScheduledCheckIn.objects.get(enrollment=enrolled, day=4)
    cancelled = staff.post(f"/plans/patients/{patient.pk}/check-ins/{day4.pk}/cancel/", {"patient": patient.pk})
    assert cancelled.status_code == 302
    assert ScheduledCheckIn.objects.get(pk=day4.pk).status == "cancelled"


def test_a_check_in_window_in_the_past_is_shown_as_a_form_error(staff, enrolled):
    response = staff.post(
        f"/plans/patients/{enrolled.patient_id}/check-ins/",
        {"patient": enrolled.patient_id, "due_at": "2026-06-01T08:00", "window_hours": 2, "channel": "sms"},
    )
    assert response.status_code == 400
    assert "already closed" in response.content.decode()
    assert not ScheduledCheckIn.objects.filter(origin="nurse").exists()


def test_enrolling_from_the_plan_page(staff, patient, clock):
    clock.at(NOW)
    episode = EpisodeFactory(patient=patient, discharge_date=DISCHARGE, surgery_date=DISCHARGE - timedelta(days=6))
    page = staff.get(plan_url(patient))
    assert page.context["enroll_form"] is not None
    response = staff.post(
        f"/plans/patients/{patient.pk}/enroll/", {"patient": patient.pk, "episode": episode.pk, "channel": "sms"}
    )
    assert response.status_code == 302
    assert ScheduledCheckIn.objects.filter(patient=patient, enrollment__episode=episode).exists()


def test_pages_are_csrf_protected(nurse, enrolled):
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)
    lab = Appointment.objects.get(enrollment=enrolled, plan_key="lab:d007")
    response = client.post(
        f"/plans/patients/{enrolled.patient_id}/appointments/{lab.pk}/move/",
        {"patient": enrolled.patient_id, "starts_at": "2026-06-09T10:30"},
    )
    assert response.status_code == 403
    assert Appointment.objects.get(pk=lab.pk).starts_at == lab.starts_at


def test_patient_search_finds_by_mrn_and_name_in_the_clinic_only(staff, enrolled, other_clinic):
    foreign = PatientFactory(clinic=other_clinic)
    exact = staff.get("/plans/patients/", {"q": enrolled.patient.mrn})
    assert exact.status_code == 302 and exact["Location"] == plan_url(enrolled.patient)
    assert staff.get("/plans/patients/", {"q": foreign.mrn}).context["patients"] == []
    by_name = staff.get("/plans/patients/", {"q": enrolled.patient.family_name})
    assert by_name.context["patients"] == [enrolled.patient]
