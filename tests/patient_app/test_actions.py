"""What the app's buttons and forms change: Confirm is the SMS YES's state change
(with its ``appointment.updated``), "I can't come" declines and asks a nurse to call
(red after a red finding, H2), a message joins the thread and the worklist (H17), a
staff reply shows as unread at home, a video visit's Join shows from 15 minutes
before, and the check-in API takes the app's session with its CSRF token."""

from __future__ import annotations

import json
import uuid
import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone

from followup.models import Appointment, CheckIn, WorklistItem
from followup.services.checkins import checkin_submit
from followup.services.staff_replies import staff_reply_send
from notifications.models import Event, InboundMessage, MessageHistoryEntry
from tests.answers import green_answers

pytestmark = pytest.mark.django_db


def _red_recall(patient) -> Appointment:  # type: ignore[no-untyped-def]
    result = checkin_submit(patient_id=patient.pk, answers=green_answers(jaundice=True), channel="app")
    assert result.level == "red" and result.recall is not None
    return result.recall


def test_confirm_is_the_sms_yes_state_change_and_the_dashboard_hears_it(enrolled, app_client):
    recall = _red_recall(enrolled)
    client = app_client(enrolled)
    plan = client.get("/app/plan/").content.decode()
    assert f"/app/appointments/{recall.pk}/confirm/" in plan
    before = Event.objects.filter(type="appointment.updated").count()
    assert client.post(f"/app/appointments/{recall.pk}/confirm/").status_code == 302
    recall.refresh_from_db()
    assert recall.status == Appointment.Status.CONFIRMED
    event = Event.objects.filter(type="appointment.updated").order_by("-seq").first()
    assert Event.objects.filter(type="appointment.updated").count() == before + 1
    assert event.data["id"] == recall.pk and event.data["status"] == "confirmed"
    # Answered: no second answer is offered, and a second post changes nothing.
    assert f"/app/appointments/{recall.pk}/confirm/" not in client.get("/app/plan/").content.decode()
    client.post(f"/app/appointments/{recall.pk}/decline/")
    recall.refresh_from_db()
    assert recall.status == Appointment.Status.CONFIRMED


def test_i_cannot_come_after_a_red_finding_puts_a_red_call_on_the_worklist(enrolled, app_client):
    """H2: the recall the patient cannot attend still needs a nurse to call today."""
    recall = _red_recall(enrolled)
    client = app_client(enrolled)
    assert client.post(f"/app/appointments/{recall.pk}/decline/").status_code == 302
    recall.refresh_from_db()
    assert recall.status == Appointment.Status.DECLINED
    item = WorklistItem.objects.get(patient=enrolled, kind=WorklistItem.Kind.NURSE_CALL, alert=recall.origin_alert)
    assert item.severity == "red" and item.status == WorklistItem.Status.OPEN
    assert Event.objects.filter(type="appointment.updated").order_by("-seq").first().data["status"] == "declined"


def test_a_proposed_visit_declined_asks_an_amber_call(enrolled, app_client):
    visit = Appointment.objects.create(
        patient=enrolled,
        kind=Appointment.Kind.IMAGING,
        status=Appointment.Status.PROPOSED,
        starts_at=timezone.now() + timedelta(days=5),
    )
    client = app_client(enrolled)
    client.post(f"/app/appointments/{visit.pk}/decline/")
    item = WorklistItem.objects.get(patient=enrolled, kind=WorklistItem.Kind.NURSE_CALL)
    assert item.severity == "amber"


def test_a_message_joins_the_thread_and_the_worklist_and_a_reply_is_unread_at_home(enrolled, nurse, app_client):
    """H17: each message its own row in the thread; the open item is bumped, not rewritten."""
    client = app_client(enrolled)
    assert client.post("/app/messages/", {"body": "  "}).status_code == 400
    assert client.post("/app/messages/", {"body": "Yaram kızardı"}).status_code == 302
    assert client.post("/app/messages/", {"body": "Ve şişti"}).status_code == 302
    entries = MessageHistoryEntry.objects.filter(patient=enrolled, direction="inbound").order_by("id")
    assert [entry.inbound.body for entry in entries] == ["Yaram kızardı", "Ve şişti"]
    assert {entry.inbound.handled_as for entry in entries} == {InboundMessage.HandledAs.FREE_TEXT}
    [item] = WorklistItem.objects.filter(patient=enrolled, kind=WorklistItem.Kind.PATIENT_MESSAGE)
    assert "Yaram kızardı" in item.detail and item.bumped_at is not None
    staff_reply_send(patient=enrolled, body="Please send a photo", by=nurse)
    home = client.get("/app/").content.decode()
    assert "1 new message from the clinic" in home
    thread = client.get("/app/messages/").content.decode()
    assert "Please send a photo" in thread
    assert "1 new message from the clinic" not in client.get("/app/").content.decode()


def test_a_video_visit_shows_join_from_fifteen_minutes_before(enrolled, app_client):
    client = app_client(enrolled)
    visit = Appointment.objects.create(
        patient=enrolled,
        kind=Appointment.Kind.TELEMEDICINE,
        status=Appointment.Status.SCHEDULED,
        starts_at=timezone.now() + timedelta(minutes=20),
        video_url="https://video.example.org/room/42",
    )
    assert "https://video.example.org/room/42" not in client.get("/app/plan/").content.decode()
    visit.starts_at = timezone.now() + timedelta(minutes=14)
    visit.save()
    assert 'href="https://video.example.org/room/42"' in client.get("/app/plan/").content.decode()


def test_the_check_in_api_takes_the_app_session_with_its_csrf_token(enrolled, app_client, make_due_check_in):
    due = make_due_check_in(enrolled, channel="app")
    client = app_client(enrolled, enforce_csrf=True)
    page = client.get("/app/check-in/").content.decode()
    assert f'"scheduled_check_in": {due.pk}' in page
    token = client.cookies["csrftoken"].value
    body = json.dumps({"answers": green_answers(), "scheduled_check_in": due.pk})
    refused = client.post("/api/v1/check-ins/", body, content_type="application/json")
    assert refused.status_code == 403 and not CheckIn.objects.exists()
    key = str(uuid.uuid4())
    headers = {"HTTP_X_CSRFTOKEN": token, "HTTP_IDEMPOTENCY_KEY": key}
    sent = client.post("/api/v1/check-ins/", body, content_type="application/json", **headers)
    assert sent.status_code == 201, sent.content
    again = client.post("/api/v1/check-ins/", body, content_type="application/json", **headers)
    assert again.json()["id"] == sent.json()["id"] and CheckIn.objects.count() == 1
    result = client.get(f"/app/check-ins/{sent.json()['id']}/").content.decode()
    assert sent.json()["triage"]["advice"].split("\n")[0][:30] in result.replace("&#x27;", "'")


def test_the_nurse_reads_i_cannot_come_in_her_own_language(enrolled, app_client):
    """H6: the worklist says why to call in the reader's language, not the alert's rule."""
    from django.utils import translation

    from followup.dashboard.worklist_texts import worklist_details

    recall = _red_recall(enrolled)
    app_client(enrolled).post(f"/app/appointments/{recall.pk}/decline/")
    item = WorklistItem.objects.get(patient=enrolled, kind=WorklistItem.Kind.NURSE_CALL, alert=recall.origin_alert)
    with translation.override("de"):
        text = worklist_details(items=[item], language="de")[item.pk]
    local = timezone.localtime(recall.starts_at, timezone=zoneinfo.ZoneInfo(enrolled.timezone))
    assert text.startswith("Der Patient kann den Termin am ") and local.strftime("%d.%m.%Y %H:%M") in text
    assert "(Einbestellung)" in text


def test_a_patient_without_a_plan_signs_in_and_finds_nothing_to_answer(patient, app_client):
    client = app_client(patient)
    assert client.get("/app/").status_code == 200
    page = client.get("/app/check-in/")
    assert page.status_code == 200 and "not on a follow-up plan" in page.content.decode()
    assert 'id="app-checkin"' not in page.content.decode()
