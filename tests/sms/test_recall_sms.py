"""Recalls by SMS (followup/sms/recalls.py, issue 16): a red finding proposes a recall
and texts it at once, in the patient's language and time zone, quiet hours or not
(H2); the patient's YES through the signed webhook confirms it; every change reaches
the dashboard as ``appointment.updated`` carrying the appointment as
``GET /api/v1/appointments/{id}/`` returns it. Never to a patient without SMS consent
or after STOP (H11); never into a running SMS check-in, where a YES would be read as
an answer. And the acute/surveillance boundary is the protocol's, not day 90."""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from backend.models import Episode, Patient
from config.asgi import application
from followup.models import Alert, Appointment, CheckIn, Enrollment
from followup.services.appointment_changes import appointment_create
from followup.services.checkins import checkin_submit
from followup.services.protocols import protocol_definition, protocol_version_current
from followup.services.scheduled_checkins import scheduled_checkin_create, scheduled_checkin_send_now
from followup.services.triage import clinic_phone_display
from notifications.models import Event, MessageKind, MessageStatus, OutgoingMessage, SmsConversation
from tests.conftest import token_client
from tests.dashboard.conftest import ORIGIN, session_cookie
from tests.factories import green_answers, last_outbound, red_answers, write_protocol

pytestmark = pytest.mark.django_db

# 19:30 UTC is 23:30 in Baku (UTC+4) and 22:30 at the clinic in Istanbul (UTC+3): inside
# the quiet hours (21:00-08:00) on both clocks.
LATE_EVENING = datetime(2026, 3, 10, 19, 30, tzinfo=UTC)


def _recall_texts(patient: Patient) -> list[OutgoingMessage]:
    return list(OutgoingMessage.objects.filter(patient=patient, kind=MessageKind.RECALL).order_by("id"))


def _appointment_events(appointment: Appointment) -> list[dict[str, Any]]:
    return list(
        Event.objects.filter(type="appointment.updated", data__id=appointment.pk)
        .order_by("seq")
        .values_list("data", flat=True)
    )


def _api(user: Any, appointment: Appointment) -> dict[str, Any]:
    response = token_client(user).get(f"/api/v1/appointments/{appointment.pk}/")
    assert response.status_code == 200, response.content
    return response.json()


# --- (a) a red check-in texts the recall -----------------------------------------------------------------


def test_a_red_check_in_texts_the_recall_at_once_in_the_patients_zone_and_language_even_in_quiet_hours(
    make_enrolled: Callable[..., Patient], nurse: Any
) -> None:
    """H2, H10, H11: at 23:30 on the patient's clock (Baku; the clinic is in Istanbul)
    the recall goes now, not at 08:00, saying the appointment's time as the patient
    reads it, in Azerbaijani, YES to confirm; undelivered, staff are told to phone."""
    with time_machine.travel(LATE_EVENING, tick=False):
        patient = make_enrolled(clinic=nurse.clinic, language="az", timezone="Asia/Baku")
        assert patient.clinic.timezone == "Europe/Istanbul"
        result = checkin_submit(patient_id=patient.pk, answers=red_answers(), channel="app")

        recall = Appointment.objects.get(patient=patient, kind=Appointment.Kind.RECALL)
        assert result.recall == recall and recall.status == Appointment.Status.PROPOSED
        [text] = _recall_texts(patient)
        assert text.send_after is None and text.status == MessageStatus.QUEUED
        assert text.reach_alert and text.appointment_id == recall.pk and text.to_phone == str(patient.phone)
        local = recall.starts_at.astimezone(zoneinfo.ZoneInfo("Asia/Baku"))
        assert local.strftime("%H:%M") == "23:30"
        assert text.body == (
            f"{patient.clinic.name}: həkimləriniz sizi 10.03.2026 23:30 klinikaya dəvət edir. "
            f"Təsdiq üçün BƏLİ yazın və ya zəng edin: {clinic_phone_display(clinic=patient.clinic)}."
        )
        assert "BƏLİ" in text.body and "22:30" not in text.body  # the patient's clock, not the clinic's

        # The dashboard heard of the proposal, as the API returns it.
        assert _appointment_events(recall) == [_api(nurse, recall)]

        # Judged again (the same finding, another red one): no second recall, no second text.
        checkin_submit(patient_id=patient.pk, answers=red_answers(), channel="app")
        checkin_submit(patient_id=patient.pk, answers=green_answers(vomit_blood=True), channel="app")
        assert Appointment.objects.filter(patient=patient, kind=Appointment.Kind.RECALL).count() == 1
        assert len(_recall_texts(patient)) == 1
        assert len(_appointment_events(recall)) == 1


@pytest.mark.parametrize("reason", ["no_consent", "opted_out"])
def test_a_red_recall_is_not_texted_without_consent_or_after_stop(
    make_enrolled: Callable[..., Patient], reason: str
) -> None:
    """H11: the recall is still proposed (the nurses phone the patient); no text."""
    patient = make_enrolled()
    if reason == "no_consent":
        patient.sms_consent = False
    else:
        patient.sms_opted_out_at = timezone.now()
    patient.save()
    checkin_submit(patient_id=patient.pk, answers=red_answers(), channel="app")
    assert Appointment.objects.filter(patient=patient, kind=Appointment.Kind.RECALL).exists()
    assert _recall_texts(patient) == []


def test_a_recall_a_nurse_adds_in_quiet_hours_is_texted_when_they_end(
    make_enrolled: Callable[..., Patient], nurse: Any
) -> None:
    """H10: unlike the red one, a nurse's recall added at 22:30 on the patient's clock
    (Berlin) is texted at 08:00 there."""
    with time_machine.travel(datetime(2026, 3, 10, 21, 30, tzinfo=UTC), tick=False):
        patient = make_enrolled(clinic=nurse.clinic, language="de", timezone="Europe/Berlin")
        starts = datetime(2026, 3, 11, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
        recall = appointment_create(
            patient=patient, kind=Appointment.Kind.RECALL, starts_at=starts, by=nurse, reason="Wound check"
        )
        [text] = _recall_texts(patient)
        assert text.send_after == datetime(2026, 3, 11, 8, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
        assert "11.03.2026 10:00" in text.body and "JA" in text.body
        assert _appointment_events(recall) == [_api(nurse, recall)]


# --- (b) YES through the webhook confirms, and the dashboard receives it -----------------------------------


@pytest.mark.django_db(transaction=True)
async def test_yes_by_sms_confirms_the_recall_and_the_dashboard_receives_one_update_as_the_api_returns_it(
    make_enrolled: Callable[..., Patient], webhooks: Any, nurse: Any
) -> None:
    """H1, H2: a staff page connected to /ws/alerts/ when the patient answers YES gets
    exactly one ``appointment.updated`` for the confirmation, equal to the GET."""

    def red_check_in() -> Appointment:
        patient = make_enrolled(clinic=nurse.clinic, language="ru", timezone="Europe/Moscow")
        checkin_submit(patient_id=patient.pk, answers=green_answers(vomit_blood=True), channel="app")
        assert len(_recall_texts(patient)) == 1
        return Appointment.objects.select_related("patient").get(patient=patient, kind=Appointment.Kind.RECALL)

    recall = await database_sync_to_async(red_check_in)()
    patient = recall.patient
    cookie = await database_sync_to_async(session_cookie)(nurse)
    feed = WebsocketCommunicator(
        application, "/ws/alerts/", headers=[(b"origin", ORIGIN), (b"cookie", f"sessionid={cookie}".encode())]
    )
    assert (await feed.connect())[0]

    await database_sync_to_async(webhooks.sms)(str(patient.phone), "Да")

    frames = []
    while not await feed.receive_nothing(timeout=1.0, interval=0.01):
        frames.append(json.loads(await feed.receive_from(timeout=1)))
    await feed.disconnect()
    updates = [frame for frame in frames if frame["type"] == "appointment.updated"]
    assert len(updates) == 1, frames
    api = await database_sync_to_async(_api)(nurse, recall)
    assert api["status"] == Appointment.Status.CONFIRMED
    assert updates[0]["data"] == api
    # Proposed, then confirmed: the same shape both times (the API's).
    events = await database_sync_to_async(_appointment_events)(recall)
    assert [event["status"] for event in events] == ["proposed", "confirmed"]
    assert set(events[0]) == set(api)
    reply = await database_sync_to_async(last_outbound)(patient)
    assert reply.body.startswith("Спасибо, ваш визит") and reply.kind == MessageKind.REPLY


# --- (c) the phase boundary is the protocol's -------------------------------------------------------------


SHORT_ACUTE_LAST_DAY = 60


def _short_acute_phase(data: dict[str, Any]) -> None:
    """The default protocol with an acute phase of 60 days: the boundary moves, and the
    acute schedule entries after day 60 end on it."""
    schedule = data["schedule"]
    schedule["acute_last_day"] = SHORT_ACUTE_LAST_DAY
    for entry in schedule["entries"]:
        if entry["phase"] != "acute":
            continue
        if entry.get("day", 0) > SHORT_ACUTE_LAST_DAY:
            entry["day"] = SHORT_ACUTE_LAST_DAY
        if "days" in entry and entry["days"]["to"] > SHORT_ACUTE_LAST_DAY:
            entry["days"]["to"] = SHORT_ACUTE_LAST_DAY


# Surveillance questions in the order the conversation asks them, answered in English:
# jaundice (a red recall for imaging in surveillance) and 10 % lost since discharge
# (red weight_loss_severe in the acute phase; surveillance compares with the last 90
# days' check-ins, of which there are none).
SURVEILLANCE_REPLIES = {
    "jaundice": "yes",
    "abdominal_pain": "1",
    "right_upper_pain": "no",
    "abdominal_swelling": "1",
    "appetite": "1",
    "weight_kg": "72",
    "dark_urine": "no",
    "itching": "no",
    "patient_urgent": "no",
}


def test_a_check_in_on_the_first_surveillance_day_of_a_protocol_whose_acute_phase_ends_on_day_60_is_asked_and_judged_as_surveillance(  # noqa: E501
    make_enrolled: Callable[..., Patient], webhooks: Any, nurse: Any, tmp_path: Path
) -> None:
    """H3, H14: day 61 is surveillance in this protocol (day 90 is the default's
    boundary, not a constant). A nurse's check-in on that day is planned as
    surveillance, asks the surveillance questions by SMS and is judged with the
    surveillance rules, early (the red jaundice answer) and at the end; the recall the
    red answer proposed is held while the conversation runs, then texted once."""
    variant = protocol_version_current(
        "post-hepatectomy", data_dir=write_protocol(tmp_path / "post-hepatectomy", _short_acute_phase).parent
    )
    assert protocol_definition(variant).schedule.acute_last_day == SHORT_ACUTE_LAST_DAY
    with time_machine.travel(datetime(2026, 5, 20, 9, 0, tzinfo=UTC), tick=False):
        patient = make_enrolled(clinic=nurse.clinic)
        discharge = date(2026, 5, 20) - timedelta(days=SHORT_ACUTE_LAST_DAY + 1)
        Episode.objects.filter(patient=patient).update(
            discharge_date=discharge, surgery_date=discharge - timedelta(days=7)
        )
        Enrollment.objects.filter(patient=patient).update(protocol_version=variant)

        scheduled = scheduled_checkin_create(patient=patient, due_at=timezone.now(), by=nurse, channel="sms")
        assert (scheduled.day, scheduled.phase) == (SHORT_ACUTE_LAST_DAY + 1, "surveillance")
        scheduled_checkin_send_now(scheduled_check_in=scheduled, by=nurse)
        assert last_outbound(patient).question_id == "jaundice"  # the surveillance form's first question

        webhooks.sms(str(patient.phone), SURVEILLANCE_REPLIES["jaundice"])
        alert = Alert.objects.get(patient=patient)
        assert (alert.rule_id, alert.severity, alert.action) == ("jaundice", "red", "imaging")
        recall = Appointment.objects.get(patient=patient, kind=Appointment.Kind.RECALL)
        assert recall.reason.startswith("Recall for imaging")
        assert _recall_texts(patient) == []  # a YES now would answer the next question

        for _ in range(len(SURVEILLANCE_REPLIES) - 1):
            webhooks.sms(str(patient.phone), SURVEILLANCE_REPLIES[last_outbound(patient).question_id])

        assert SmsConversation.objects.get(patient=patient).state == SmsConversation.State.COMPLETED
        check_in = CheckIn.objects.get(patient=patient)
        assert (check_in.phase, check_in.level, check_in.complete) == ("surveillance", "red", True)
        assert check_in.protocol_version == variant
        assert list(Alert.objects.filter(patient=patient).values_list("rule_id", flat=True)) == ["jaundice"]
        [text] = _recall_texts(patient)
        assert text.appointment_id == recall.pk and text.send_after is None
        assert last_outbound(patient) == text  # after the conversation's last message
