"""Plans API: enrollments, nurse scheduling of check-ins and appointments, send-now,
the worklist and the patient's own view; strict input, scoped output, audit (H5,
H12, H14)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from backend.models import AuditRecord
from backend.services import patient_user_get_or_create
from followup.models import Appointment, Enrollment, ScheduledCheckIn, WorklistItem
from followup.services.checkins import checkin_submit
from notifications.models import Event, OutgoingMessage
from tests.conftest import token_client
from tests.factories import EpisodeFactory, PatientFactory, green_answers, local

pytestmark = pytest.mark.django_db

TZ = "Europe/Istanbul"
DISCHARGE = date(2026, 6, 1)
NOW = local(DISCHARGE + timedelta(days=2), "12:00", TZ)  # day 2, noon


@pytest.fixture
def enrolled(make_enrollment, clock, patient):
    clock.at(NOW)
    patient.timezone = TZ
    patient.save()
    return make_enrollment(discharge=DISCHARGE, patient=patient)


def iso(moment: datetime) -> str:
    return moment.isoformat()


# --- enrollments ------------------------------------------------------------------------------


def test_enrolling_an_episode_answers_201_with_the_plan(nurse_client, patient, clock):
    clock.at(NOW)
    episode = EpisodeFactory(patient=patient, surgery_date=DISCHARGE - timedelta(days=7), discharge_date=DISCHARGE)
    response = nurse_client.post(
        "/api/v1/enrollments/", {"episode": episode.pk, "protocol": "post-hepatectomy", "has_pulse_device": False}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["episode"] == episode.pk and body["patient"] == patient.pk
    assert body["protocol"] == "post-hepatectomy" and body["status"] == "active"
    check_ins = body["plan"]["check_ins"]
    # Enrolled at noon on day 2: day 2's check-in (09:00-21:00) is still open, day 1's is not generated.
    assert check_ins[0]["day"] == 2 and check_ins[0]["status"] == "scheduled"
    assert check_ins[0]["closes_at"] == "2026-06-03T18:00:00Z"
    kinds = {row["kind"] for row in body["plan"]["appointments"]}
    assert kinds == {"telemedicine", "lab", "clinic_visit", "imaging"}
    lab = next(row for row in body["plan"]["appointments"] if row["plan_key"] == "lab:d007")
    assert lab["detail"]["labs"][:2] == ["bilirubin_umol_l", "inr"]
    assert AuditRecord.objects.filter(object_type="enrollment", action="create", patient_id=patient.pk).count() == 1
    assert AuditRecord.objects.filter(object_type="scheduled_check_in", action="create").count() == len(check_ins)


def test_enrolling_an_enrolled_episode_is_a_409_naming_the_episode(nurse_client, enrolled):
    response = nurse_client.post(
        "/api/v1/enrollments/", {"episode": enrolled.episode_id, "protocol": "post-hepatectomy"}
    )
    assert response.status_code == 409
    assert "episode" in response.json() and response.json()["reason"] == "already_enrolled"
    assert Enrollment.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"protocol": "post-hepatectomy"}, "episode"),
        ({"episode": "1"}, "episode"),
        ({"episode": 1, "has_pulse_device": "yes"}, "has_pulse_device"),
        ({"episode": 1, "protocol": "no-such-protocol"}, "protocol"),
        ({"episode": 1, "channel": "fax"}, "channel"),
    ],
)
def test_bad_enrollment_input_is_a_400_naming_the_field(nurse_client, patient, body, field, clock):
    clock.at(NOW)
    episode = EpisodeFactory(patient=patient, discharge_date=DISCHARGE, surgery_date=DISCHARGE - timedelta(days=5))
    if body.get("episode") == 1:
        body = {**body, "episode": episode.pk}
    response = nurse_client.post("/api/v1/enrollments/", body)
    assert response.status_code == 400
    assert field in response.json()
    assert not Enrollment.objects.exists() and not ScheduledCheckIn.objects.exists()


def test_another_clinics_episode_cannot_be_enrolled(nurse_client, other_clinic):
    foreign = EpisodeFactory(patient=PatientFactory(clinic=other_clinic))
    response = nurse_client.post("/api/v1/enrollments/", {"episode": foreign.pk})
    assert response.status_code == 400 and "episode" in response.json()
    assert not Enrollment.objects.exists()


def test_ending_an_enrollment_cancels_what_is_ahead_and_keeps_history(nurse_client, enrolled):
    response = nurse_client.post(f"/api/v1/enrollments/{enrolled.pk}/end/")
    assert response.status_code == 200 and response.json()["status"] == "ended"
    assert not ScheduledCheckIn.objects.filter(enrollment=enrolled, status="scheduled").exists()
    assert ScheduledCheckIn.objects.filter(enrollment=enrolled, status="cancelled").exists()
    assert not Appointment.objects.filter(enrollment=enrolled, status="scheduled").exists()


# --- the plan follows the episode and the patient (H14) ---------------------------------------------


def test_a_corrected_discharge_date_moves_what_has_not_happened_yet(nurse_client, enrolled, clock):
    """H14: the discharge date was typed a day early. The plan moves a day later for
    everything still ahead; the check-in already sent stays; a check-in a nurse moved
    stays where she put it; days that are ahead again are added."""
    day2 = ScheduledCheckIn.objects.get(enrollment=enrolled, day=2)
    ScheduledCheckIn.objects.filter(pk=day2.pk).update(status="sent", announced_at=NOW)
    day5 = ScheduledCheckIn.objects.get(enrollment=enrolled, day=5)
    nurse_client.patch(f"/api/v1/scheduled-check-ins/{day5.pk}/", {"due_at": iso(local(date(2026, 6, 6), "11:00", TZ))})
    day6_before = ScheduledCheckIn.objects.get(enrollment=enrolled, day=6).due_at
    lab_before = Appointment.objects.get(enrollment=enrolled, plan_key="lab:d007").starts_at

    response = nurse_client.patch(f"/api/v1/episodes/{enrolled.episode_id}/", {"discharge_date": "2026-06-02"})
    assert response.status_code == 200

    moved = ScheduledCheckIn.objects.get(enrollment=enrolled, plan_key="check_in:d006")
    assert moved.due_at == day6_before + timedelta(days=1)
    assert Appointment.objects.get(enrollment=enrolled, plan_key="lab:d007").starts_at == lab_before + timedelta(days=1)
    day2.refresh_from_db()
    assert day2.status == "sent" and day2.plan_key == "check_in:d002"
    nurse_moved = ScheduledCheckIn.objects.get(pk=day5.pk)
    assert nurse_moved.due_at == local(date(2026, 6, 6), "11:00", TZ) and nurse_moved.origin == "nurse"
    # Now day 1 is 3 June: its check-in is ahead again and was created.
    day1 = ScheduledCheckIn.objects.get(enrollment=enrolled, plan_key="check_in:d001")
    assert day1.due_at == local(date(2026, 6, 3), "09:00", TZ) and day1.status == "scheduled"
    assert AuditRecord.objects.filter(object_type="scheduled_check_in", action="update", patient_id=enrolled.patient_id)


def test_a_discharge_date_moved_earlier_cancels_what_is_now_past_without_marking_it_missed(nurse_client, enrolled):
    """H8, H14: what falls in the past after the correction was never asked: cancelled,
    not missed, so no one is called about it."""
    response = nurse_client.patch(f"/api/v1/episodes/{enrolled.episode_id}/", {"discharge_date": "2026-05-28"})
    assert response.status_code == 200
    assert not ScheduledCheckIn.objects.filter(status="missed").exists()
    first_open = ScheduledCheckIn.objects.filter(enrollment=enrolled, status="scheduled").order_by("due_at").first()
    assert first_open.plan_key == "check_in:d006" and first_open.due_at == local(date(2026, 6, 3), "09:00", TZ)
    assert ScheduledCheckIn.objects.filter(enrollment=enrolled, plan_key="check_in:d003", status="cancelled").exists()
    assert not WorklistItem.objects.exists()


def test_a_new_time_zone_keeps_check_ins_at_nine_local(nurse_client, enrolled):
    """H10, H14: the patient went home to Baku: the check-ins still ahead stay at 09:00,
    now Baku time (05:00 UTC instead of 06:00)."""
    response = nurse_client.patch(f"/api/v1/patients/{enrolled.patient_id}/", {"timezone": "Asia/Baku"})
    assert response.status_code == 200
    ahead = ScheduledCheckIn.objects.filter(enrollment=enrolled, status="scheduled", day__gte=3)
    assert {row.due_at.astimezone(UTC).hour for row in ahead} == {5}


def test_a_patient_edit_that_does_not_touch_the_time_zone_leaves_the_plan_alone(nurse_client, enrolled):
    before = list(ScheduledCheckIn.objects.order_by("id").values_list("due_at", "updated_at"))
    assert nurse_client.patch(f"/api/v1/patients/{enrolled.patient_id}/", {"language": "tr"}).status_code == 200
    assert list(ScheduledCheckIn.objects.order_by("id").values_list("due_at", "updated_at")) == before


# --- scheduled check-ins ---------------------------------------------------------------------------


def test_nurse_lists_and_filters_scheduled_check_ins(nurse_client, enrolled, django_assert_max_num_queries):
    url = "/api/v1/scheduled-check-ins/"
    with django_assert_max_num_queries(12):
        body = nurse_client.get(url, {"patient": enrolled.patient_id, "limit": 100}).json()
    assert body["count"] == ScheduledCheckIn.objects.filter(enrollment=enrolled).count()
    window = nurse_client.get(
        url, {"due_after": "2026-06-04T00:00:00+03:00", "due_before": "2026-06-06T00:00:00+03:00"}
    ).json()
    assert [row["day"] for row in window["results"]] == [3, 4]
    assert nurse_client.get(url, {"status": "sent"}).json()["count"] == 0
    assert nurse_client.get(url, {"status": "bogus"}).status_code == 400
    assert nurse_client.get(url, {"due_after": "yesterday"}).status_code == 400
    # One audit row per check-in shown, none for a refused query.
    shown = body["count"] + len(window["results"])
    assert AuditRecord.objects.filter(object_type="scheduled_check_in", action="read").count() == shown


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"due_after": "1866-05-26T23:18:16-20:13"}, 200),  # an offset PostgreSQL would refuse: queried in UTC
        ({"due_before": "0001-01-01T00:00:00+05:00"}, 400),  # falls off the calendar in UTC
        ({"patient": "99999999999999999999"}, 400),  # no such id can exist
    ],
)
def test_odd_but_valid_filter_times_never_crash_the_list(nurse_client, enrolled, params, status):
    assert nurse_client.get("/api/v1/scheduled-check-ins/", params).status_code == status


def test_a_far_offset_on_input_is_stored_as_the_same_instant(nurse_client, enrolled):
    response = nurse_client.post(
        "/api/v1/scheduled-check-ins/", {"patient": enrolled.patient_id, "due_at": "2026-06-04T09:00:00+15:30"}
    )
    assert response.status_code == 201 and response.json()["due_at"] == "2026-06-03T17:30:00Z"
    out_of_range = nurse_client.post(
        "/api/v1/scheduled-check-ins/", {"patient": enrolled.patient_id, "due_at": "9999-12-31T23:00:00-05:00"}
    )
    assert out_of_range.status_code == 400 and "due_at" in out_of_range.json()


def test_nurse_adds_a_check_in_which_is_scheduled(nurse_client, enrolled, nurse):
    response = nurse_client.post(
        "/api/v1/scheduled-check-ins/",
        {
            "patient": enrolled.patient_id,
            "due_at": "2026-06-03T18:00:00+03:00",
            "window_minutes": 240,
            "channel": "sms",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["origin"], body["day"], body["window_minutes"]) == ("scheduled", "nurse", 2, 240)
    assert body["created_by"] == nurse.pk
    assert AuditRecord.objects.filter(object_type="scheduled_check_in", object_id=str(body["id"]), action="create")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"due_at": "2026-06-03T18:00:00"}, "due_at"),  # no offset
        ({"due_at": "2026-06-01T08:00:00+03:00"}, "due_at"),  # window already closed
        ({"window_minutes": "240"}, "window_minutes"),
        ({"window_minutes": 5}, "window_minutes"),
        ({"channel": "pigeon"}, "channel"),
        ({"status": "completed"}, "status"),
        ({"patient": "1"}, "patient"),
    ],
)
def test_bad_check_in_input_is_a_400_naming_the_field_and_stores_nothing(nurse_client, enrolled, body, field):
    before = ScheduledCheckIn.objects.count()
    payload = {"patient": enrolled.patient_id, "due_at": "2026-06-03T18:00:00+03:00", **body}
    response = nurse_client.post("/api/v1/scheduled-check-ins/", payload)
    assert response.status_code == 400
    assert field in response.json()
    assert ScheduledCheckIn.objects.count() == before


def test_staff_may_enter_a_past_check_in_as_missed(nurse_client, enrolled):
    response = nurse_client.post(
        "/api/v1/scheduled-check-ins/",
        {"patient": enrolled.patient_id, "due_at": "2026-06-02T09:00:00+03:00", "status": "missed"},
    )
    assert response.status_code == 201 and response.json()["status"] == "missed"
    assert not WorklistItem.objects.exists()


def test_nurse_moves_a_check_in_and_the_plan_recompute_keeps_it(nurse_client, enrolled):
    row = ScheduledCheckIn.objects.get(enrollment=enrolled, day=4)
    response = nurse_client.patch(
        f"/api/v1/scheduled-check-ins/{row.pk}/", {"due_at": "2026-06-05T14:00:00+03:00", "window_minutes": 360}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["origin"] == "nurse" and response.json()["due_at"] == "2026-06-05T11:00:00Z"
    assert nurse_client.patch(f"/api/v1/scheduled-check-ins/{row.pk}/", {"plan_key": "x"}).status_code == 400


def test_a_sent_check_in_cannot_be_moved(nurse_client, enrolled):
    row = ScheduledCheckIn.objects.get(enrollment=enrolled, day=2)
    ScheduledCheckIn.objects.filter(pk=row.pk).update(status="sent", announced_at=NOW)
    response = nurse_client.patch(f"/api/v1/scheduled-check-ins/{row.pk}/", {"due_at": "2026-06-05T14:00:00+03:00"})
    assert response.status_code == 409 and response.json()["reason"] == "already_sent"


def test_delete_cancels_and_keeps_the_row(nurse_client, enrolled):
    row = ScheduledCheckIn.objects.get(enrollment=enrolled, day=3)
    response = nurse_client.delete(f"/api/v1/scheduled-check-ins/{row.pk}/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    row.refresh_from_db()
    assert row.status == "cancelled" and row.closed_at is not None
    assert nurse_client.delete(f"/api/v1/scheduled-check-ins/{row.pk}/").status_code == 200  # again: no-op


def test_staff_may_mark_a_due_check_in_missed_but_not_one_to_come(nurse_client, enrolled):
    """Day 2's check-in was due at 09:00 and never went out (say the patient has no
    phone signal): staff may close it as missed. Day 3's is not due yet: 400."""
    due = ScheduledCheckIn.objects.get(enrollment=enrolled, day=2)
    response = nurse_client.patch(f"/api/v1/scheduled-check-ins/{due.pk}/", {"status": "missed"})
    assert response.status_code == 200 and response.json()["status"] == "missed"
    ahead = ScheduledCheckIn.objects.get(enrollment=enrolled, day=3)
    response = nurse_client.patch(f"/api/v1/scheduled-check-ins/{ahead.pk}/", {"status": "missed"})
    assert response.status_code == 400 and "status" in response.json()
    assert ScheduledCheckIn.objects.get(pk=ahead.pk).status == "scheduled"


def test_send_now_texts_the_patient_at_once_even_in_quiet_hours(nurse_client, enrolled, clock):
    """H10 does not hold back a nurse's explicit send: at 23:00 local it goes now."""
    clock.at(local(date(2026, 6, 3), "23:00", TZ))
    row = ScheduledCheckIn.objects.get(enrollment=enrolled, day=4)
    response = nurse_client.post(f"/api/v1/scheduled-check-ins/{row.pk}/send-now/")
    assert response.status_code == 202 and response.json()["status"] == "sent"
    row.refresh_from_db()
    assert row.status == "sent" and row.announced_at == local(date(2026, 6, 3), "23:00", TZ)
    assert row.due_at == row.announced_at and row.origin == "nurse"
    assert OutgoingMessage.objects.filter(patient=enrolled.patient).count() == 1
    again = nurse_client.post(f"/api/v1/scheduled-check-ins/{row.pk}/send-now/")
    assert again.status_code == 409 and again.json()["reason"] == "already_sent"
    assert OutgoingMessage.objects.filter(patient=enrolled.patient).count() == 1


def test_send_now_of_an_answered_check_in_is_a_409(nurse_client, enrolled):
    row = ScheduledCheckIn.objects.get(enrollment=enrolled, day=2)
    checkin_submit(patient_id=enrolled.patient.pk, answers=green_answers(), scheduled_check_in_id=row.pk, channel="web")
    response = nurse_client.post(f"/api/v1/scheduled-check-ins/{row.pk}/send-now/")
    assert response.status_code == 409 and response.json()["reason"] == "already_answered"


def test_send_now_to_an_opted_out_patient_is_a_409(nurse_client, enrolled):
    """H11: STOP is honoured even for a nurse's send."""
    patient = enrolled.patient
    patient.sms_opted_out_at = NOW
    patient.save()
    row = ScheduledCheckIn.objects.get(enrollment=enrolled, day=3)
    response = nurse_client.post(f"/api/v1/scheduled-check-ins/{row.pk}/send-now/")
    assert response.status_code == 409 and response.json()["reason"] == "opted_out"
    assert "opted out" in response.json()["detail"]
    assert not OutgoingMessage.objects.exists()
    row.refresh_from_db()
    assert row.status == "scheduled"


# --- appointments --------------------------------------------------------------------------------


def test_nurse_books_a_video_visit_and_the_dashboard_hears_of_it(nurse_client, enrolled):
    response = nurse_client.post(
        "/api/v1/appointments/",
        {
            "patient": enrolled.patient_id,
            "kind": "telemedicine",
            "starts_at": "2026-06-05T10:30:00+03:00",
            "status": "confirmed",
            "reason": "Wound check",
            "video_url": "https://video.example.org/room/42",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["starts_at"] == "2026-06-05T07:30:00Z" and body["status"] == "confirmed"
    assert body["video_url"] == "https://video.example.org/room/42"
    event = Event.objects.filter(type="appointment.updated").latest("seq")
    assert event.data["id"] == body["id"] and event.data["starts_at"] == body["starts_at"]
    assert event.clinic_id == enrolled.patient.clinic_id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"video_url": "http://video.example.org/room/42"}, "video_url"),
        ({"video_url": "not a url"}, "video_url"),
        ({"kind": "lab", "video_url": "https://video.example.org/x"}, "video_url"),
        ({"status": "confirmed", "video_url": ""}, "video_url"),
        ({"kind": "surgery"}, "kind"),
        ({"starts_at": "2026-06-05 10:30"}, "starts_at"),
        ({"status": "attended"}, "status"),  # in the future
        ({"reason": 42}, "reason"),
    ],
)
def test_bad_appointment_input_is_a_400_naming_the_field(nurse_client, enrolled, body, field):
    before = Appointment.objects.count()
    payload = {
        "patient": enrolled.patient_id,
        "kind": "telemedicine",
        "starts_at": "2026-06-05T10:30:00+03:00",
        **body,
    }
    response = nurse_client.post("/api/v1/appointments/", payload)
    assert response.status_code == 400
    assert field in response.json()
    assert Appointment.objects.count() == before
    assert not Event.objects.filter(type="appointment.updated").exists()


def test_moving_an_appointment_clears_its_reminder_and_pins_it(nurse_client, enrolled, nurse):
    lab = Appointment.objects.get(enrollment=enrolled, plan_key="lab:d007")
    Appointment.objects.filter(pk=lab.pk).update(reminded_at=NOW)
    response = nurse_client.patch(f"/api/v1/appointments/{lab.pk}/", {"starts_at": "2026-06-09T08:00:00+03:00"})
    assert response.status_code == 200
    lab.refresh_from_db()
    assert lab.reminded_at is None and lab.moved_by == nurse
    assert Event.objects.filter(type="appointment.updated", data__id=lab.pk).exists()


def test_a_cancelled_appointment_stays_cancelled(nurse_client, enrolled):
    lab = Appointment.objects.get(enrollment=enrolled, plan_key="lab:d007")
    assert nurse_client.patch(f"/api/v1/appointments/{lab.pk}/", {"status": "cancelled"}).status_code == 200
    response = nurse_client.patch(f"/api/v1/appointments/{lab.pk}/", {"starts_at": "2026-06-09T08:00:00+03:00"})
    assert response.status_code == 409


def test_an_appointment_without_a_link_says_null_not_an_empty_url(nurse_client, enrolled):
    lab = Appointment.objects.get(enrollment=enrolled, plan_key="lab:d007")
    assert nurse_client.get(f"/api/v1/appointments/{lab.pk}/").json()["video_url"] is None


def test_worklist_items_cannot_be_typed_in(nurse_client, enrolled):
    assert nurse_client.post("/api/v1/worklist/", {"patient": enrolled.patient_id}).status_code == 405


def test_appointments_list_filters(nurse_client, enrolled, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        body = nurse_client.get("/api/v1/appointments/", {"patient": enrolled.patient_id, "kind": "lab"}).json()
    assert body["count"] == 16 and {row["kind"] for row in body["results"]} == {"lab"}
    before = nurse_client.get("/api/v1/appointments/", {"starts_before": "2026-07-02T00:00:00Z"}).json()
    assert {row["plan_key"] for row in before["results"]} == {
        "telemedicine:d007",
        "lab:d007",
        "telemedicine:d030",
        "lab:d030",
    }


# --- worklist ---------------------------------------------------------------------------------------


def test_worklist_lists_open_items_and_closes_one_naming_the_nurse(nurse_client, enrolled, nurse):
    item = WorklistItem.objects.create(
        patient=enrolled.patient, clinic=enrolled.patient.clinic, kind="no_response", detail="Check-in on day 1 missed"
    )
    WorklistItem.objects.create(
        patient=enrolled.patient, clinic=enrolled.patient.clinic, kind="nurse_call", status="done"
    )
    body = nurse_client.get("/api/v1/worklist/").json()
    assert [row["id"] for row in body["results"]] == [item.pk]
    assert body["results"][0]["patient_mrn"] == enrolled.patient.mrn
    assert nurse_client.get("/api/v1/worklist/", {"kind": "nurse_call"}).json()["count"] == 0
    assert nurse_client.get("/api/v1/worklist/", {"kind": "nurse_call", "status": "done"}).json()["count"] == 1
    response = nurse_client.post(f"/api/v1/worklist/{item.pk}/done/")
    assert response.status_code == 200
    assert response.json()["status"] == "done" and response.json()["done_by"] == nurse.pk
    assert nurse_client.get("/api/v1/worklist/").json()["count"] == 0


# --- the patient's own view ----------------------------------------------------------------------------


def test_me_shows_the_patient_their_next_check_in_appointments_recall_and_history(enrolled, clock):
    patient = enrolled.patient
    client = token_client(patient_user_get_or_create(patient))
    day2 = ScheduledCheckIn.objects.get(enrollment=enrolled, day=2)
    checkin_submit(patient_id=patient.pk, answers=green_answers(), scheduled_check_in_id=day2.pk, channel="web")
    video = Appointment.objects.get(enrollment=enrolled, plan_key="telemedicine:d007")
    Appointment.objects.filter(pk=video.pk).update(video_url="https://video.example.org/room/7", status="confirmed")
    Appointment.objects.create(
        patient=patient, kind="recall", starts_at=NOW + timedelta(hours=3), status="proposed", reason="Recall"
    )

    response = client.get("/api/v1/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["patient"]["id"] == patient.pk and body["clinic"]["phone"] == str(patient.clinic.phone)
    assert body["next_check_in"]["id"] == ScheduledCheckIn.objects.get(enrollment=enrolled, day=3).pk
    assert "/c/" in body["next_check_in"]["form_url"]
    video_visit = next(row for row in body["upcoming_appointments"] if row["id"] == video.pk)
    assert video_visit["kind"] == "telemedicine" and video_visit["video_url"] == "https://video.example.org/room/7"
    assert body["open_recall"]["kind"] == "recall"
    assert body["check_in_history"]["counts"]["green"] == 1
    assert body["check_in_history"]["recent"][0]["level"] == "green"
    assert AuditRecord.objects.filter(object_type="patient", action="read", patient_id=patient.pk).exists()


def test_me_is_for_patients_only(nurse_client):
    assert nurse_client.get("/api/v1/me/").status_code == 403


# --- who may call what (H12) -------------------------------------------------------------------------------

STAFF_ROUTES = [
    ("get", "/api/v1/enrollments/"),
    ("post", "/api/v1/enrollments/"),
    ("get", "/api/v1/scheduled-check-ins/"),
    ("post", "/api/v1/scheduled-check-ins/"),
    ("get", "/api/v1/appointments/"),
    ("post", "/api/v1/appointments/"),
    ("get", "/api/v1/worklist/"),
]


@pytest.mark.parametrize(("method", "url"), STAFF_ROUTES)
def test_a_patient_token_is_403_on_staff_routes(patient_client, method, url):
    assert getattr(patient_client, method)(url, {}).status_code == 403


@pytest.mark.parametrize(("method", "url"), [*STAFF_ROUTES, ("get", "/api/v1/me/")])
def test_anonymous_is_401(anonymous_client, method, url):
    assert getattr(anonymous_client, method)(url, {}).status_code == 401


def test_another_clinics_rows_are_404_and_never_listed(other_nurse_client, enrolled):
    """H12: staff of another clinic can neither see nor change this clinic's plan."""
    check_in = ScheduledCheckIn.objects.filter(enrollment=enrolled).first()
    appointment = Appointment.objects.filter(enrollment=enrolled).first()
    item = WorklistItem.objects.create(patient=enrolled.patient, clinic=enrolled.patient.clinic, kind="no_response")
    for url in (
        f"/api/v1/scheduled-check-ins/{check_in.pk}/",
        f"/api/v1/appointments/{appointment.pk}/",
        f"/api/v1/worklist/{item.pk}/",
        f"/api/v1/enrollments/{enrolled.pk}/",
    ):
        assert other_nurse_client.get(url).status_code == 404
    assert (
        other_nurse_client.patch(f"/api/v1/scheduled-check-ins/{check_in.pk}/", {"window_minutes": 60}).status_code
        == 404
    )
    assert other_nurse_client.delete(f"/api/v1/scheduled-check-ins/{check_in.pk}/").status_code == 404
    assert other_nurse_client.post(f"/api/v1/scheduled-check-ins/{check_in.pk}/send-now/").status_code == 404
    assert (
        other_nurse_client.patch(f"/api/v1/appointments/{appointment.pk}/", {"status": "cancelled"}).status_code == 404
    )
    assert other_nurse_client.post(f"/api/v1/worklist/{item.pk}/done/").status_code == 404
    assert other_nurse_client.post(f"/api/v1/enrollments/{enrolled.pk}/end/").status_code == 404
    for url in ("/api/v1/scheduled-check-ins/", "/api/v1/appointments/", "/api/v1/worklist/", "/api/v1/enrollments/"):
        assert other_nurse_client.get(url, {"patient": enrolled.patient_id}).json()["count"] == 0
    created = other_nurse_client.post(
        "/api/v1/scheduled-check-ins/", {"patient": enrolled.patient_id, "due_at": "2026-06-05T10:00:00+03:00"}
    )
    assert created.status_code == 400 and "patient" in created.json()
    item.refresh_from_db()
    assert item.status == "open"
    assert ScheduledCheckIn.objects.get(pk=check_in.pk).status == check_in.status


def test_filtering_by_another_clinics_ids_reveals_nothing(other_nurse_client, enrolled):
    """H12: another clinic's patient id and a made-up one answer the same way."""
    for url in ("/api/v1/enrollments/", "/api/v1/scheduled-check-ins/", "/api/v1/appointments/", "/api/v1/worklist/"):
        real = other_nurse_client.get(url, {"patient": enrolled.patient_id})
        made_up = other_nurse_client.get(url, {"patient": enrolled.patient_id + 1000})
        assert real.status_code == made_up.status_code == 200
        assert real.json()["count"] == made_up.json()["count"] == 0


def test_a_patient_cannot_reach_another_patients_rows(patient_client, clock, make_enrollment, other_patient):
    clock.at(NOW)
    enrollment = make_enrollment(discharge=DISCHARGE, patient=other_patient)
    check_in = ScheduledCheckIn.objects.filter(enrollment=enrollment).first()
    assert patient_client.get(f"/api/v1/scheduled-check-ins/{check_in.pk}/").status_code == 403
    assert patient_client.get("/api/v1/me/").json()["next_check_in"] is None


def test_idempotency_key_makes_a_retried_booking_one_booking(nurse_client, enrolled):
    body = {"patient": enrolled.patient_id, "kind": "lab", "starts_at": "2026-06-06T09:00:00+03:00"}
    first = nurse_client.post("/api/v1/appointments/", body, HTTP_IDEMPOTENCY_KEY="book-1")
    second = nurse_client.post("/api/v1/appointments/", body, HTTP_IDEMPOTENCY_KEY="book-1")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert Appointment.objects.filter(patient=enrolled.patient, plan_key="").count() == 1
