"""Staff see a partial SMS check-in as partial, with the questions left unanswered
(H16), and read the patient's messages as one append-only thread that a worklist item
points to and is bumped by, never rewritten (H17). Another clinic's staff see nothing
of it (H12)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.models import AuditRecord, Patient
from followup.models import Enrollment, ScheduledCheckIn, WorklistItem
from followup.services.checkins import checkin_submit
from notifications.models import InboundMessage, MessageHistoryEntry
from tests.factories import ABSENT, green_answers

pytestmark = pytest.mark.django_db

PARTIAL = 'data-partial="true"'


def signed_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def partial_check_in(patient: Patient, **fields):  # type: ignore[no-untyped-def]
    """An SMS conversation that ended before the dark-urine question was answered."""
    return checkin_submit(
        patient_id=patient.pk,
        answers=green_answers(dark_urine=ABSENT),
        channel="sms",
        partial=True,
        unanswered=["dark_urine"],
        **fields,
    )


def inbound(patient: Patient, body: str, sid: str) -> MessageHistoryEntry:
    """A message from the patient, attributed as followup/sms/inbound.py does."""
    message = InboundMessage.objects.create(
        message_sid=sid,
        from_phone=str(patient.phone),
        body=body,
        clinic_id=patient.clinic_id,
        patient=patient,
        handled_as=InboundMessage.HandledAs.FREE_TEXT,
    )
    return MessageHistoryEntry.objects.create(
        patient=patient, inbound=message, direction=MessageHistoryEntry.Direction.INBOUND
    )


def patient_page(user, patient: Patient) -> str:  # type: ignore[no-untyped-def]
    response = signed_in(user).get(f"/dashboard/patients/{patient.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_h16_a_partial_check_in_shows_as_partial_with_its_unanswered_question(nurse, enrolled):
    partial_check_in(enrolled)
    html = patient_page(nurse, enrolled)
    assert html.count(PARTIAL) == 1
    assert ">partial<" in html
    # The protocol's label, not the question id.
    assert re.search(r"Not answered:\s*Dark urine", html)


def test_a_complete_check_in_has_no_partial_badge(nurse, enrolled):
    checkin_submit(patient_id=enrolled.pk, answers=green_answers(), channel="sms")
    html = patient_page(nurse, enrolled)
    assert PARTIAL not in html and "Not answered" not in html


def test_h17_the_thread_shows_each_message_in_order_and_only_to_the_clinic(nurse, other_nurse, enrolled):
    first = inbound(enrolled, "Pain since last night", "SM" + "1" * 32)
    second = inbound(enrolled, "Now I feel dizzy too", "SM" + "2" * 32)
    html = patient_page(nurse, enrolled)
    section = html[html.index('id="messages"') :]
    assert section.index("Pain since last night") < section.index("Now I feel dizzy too")
    assert section.count('data-direction="inbound"') == 2
    assert section.count("From the patient") == 2
    # Each message read is audited, as in the messages API (H12).
    audited = AuditRecord.objects.filter(actor_user_id=nurse.pk, object_type="sms_message")
    assert sorted(audited.values_list("object_id", flat=True)) == sorted([str(first.pk), str(second.pk)])
    assert signed_in(other_nurse).get(f"/dashboard/patients/{enrolled.pk}/").status_code == 404


def test_the_thread_shows_message_text_as_text(nurse, enrolled):
    inbound(enrolled, "<script>alert(1)</script>", "SM" + "3" * 32)
    html = patient_page(nurse, enrolled)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_patient_page_reads_the_same_queries_for_one_and_for_many(nurse, make_enrolled):
    """No query per check-in, label or message."""
    counts = []
    for rows in (1, 12):
        patient = make_enrolled()
        for index in range(rows):
            partial_check_in(patient, taken_at=timezone.now() - timedelta(minutes=index + 1))
            inbound(patient, f"message {index}", f"SM{patient.pk:08d}{index:024d}")
        client = signed_in(nurse)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/dashboard/patients/{patient.pk}/")
        assert response.status_code == 200
        assert response.content.decode().count(PARTIAL) == rows
        counts.append(len(captured))
    assert counts[0] == counts[1]


def _bumped_message_item(patient: Patient) -> WorklistItem:
    item = WorklistItem.objects.create(
        patient=patient,
        clinic_id=patient.clinic_id,
        kind=WorklistItem.Kind.PATIENT_MESSAGE,
        detail="SMS from the patient: Pain since last night",
    )
    item.bumped_at = item.created_at + timedelta(minutes=40)
    item.save(update_fields=["bumped_at"])
    return item


def test_h17_a_bumped_patient_message_item_links_to_the_thread(nurse, enrolled):
    _bumped_message_item(enrolled)
    link = f'href="/dashboard/patients/{enrolled.pk}/#messages"'
    today = signed_in(nurse).get("/plans/today/").content.decode()
    assert link in today and "updated " in today
    assert "SMS from the patient: Pain since last night" in today  # the item's own text, unchanged
    plan = signed_in(nurse).get(f"/plans/patients/{enrolled.pk}/").content.decode()
    assert link in plan and "updated " in plan


def test_an_item_not_bumped_since_it_opened_shows_no_update(nurse, enrolled):
    """The first message opens the item with ``bumped_at`` set a moment before its
    creation (followup/sms/inbound.py): that is not an update."""
    WorklistItem.objects.create(
        patient=enrolled,
        clinic_id=enrolled.clinic_id,
        kind=WorklistItem.Kind.PATIENT_MESSAGE,
        detail="SMS from the patient: hello",
        bumped_at=timezone.now(),
    )
    today = signed_in(nurse).get("/plans/today/").content.decode()
    assert f"/dashboard/patients/{enrolled.pk}/#messages" in today
    assert "updated " not in today


def test_h16_the_plan_page_shows_a_partial_scheduled_check_in_as_partial(nurse, enrolled):
    enrollment = Enrollment.objects.get(patient=enrolled)
    scheduled = ScheduledCheckIn.objects.create(
        patient=enrolled,
        enrollment=enrollment,
        due_at=timezone.now() - timedelta(hours=1),
        window_minutes=60 * 12,
        status=ScheduledCheckIn.Status.SENT,
    )
    partial_check_in(enrolled, scheduled_check_in_id=scheduled.pk)
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledCheckIn.Status.COMPLETED
    # Past the window, the answered check-in is listed among the past ones.
    ScheduledCheckIn.objects.filter(pk=scheduled.pk).update(due_at=timezone.now() - timedelta(days=1))
    html = signed_in(nurse).get(f"/plans/patients/{enrolled.pk}/").content.decode()
    assert html.count(PARTIAL) == 1
    assert re.search(r"Not answered:\s*Dark urine", html)
