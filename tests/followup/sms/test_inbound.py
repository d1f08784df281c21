"""Who wrote, and what it means: on-call ACKs, shared family phones, strangers, free
text and YES to a recall."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from backend.models import Role
from followup.models import Alert, Appointment, EscalationStep, WorklistItem
from followup.services.checkins import checkin_submit
from followup.services.escalations import escalations_advance
from followup.services.triage import clinic_phone_display
from followup.sms.conversations import conversation_start
from followup.sms.recalls import recall_sms_send
from notifications.models import (
    InboundMessage,
    MessageHistoryEntry,
    MessageKind,
    OutgoingMessage,
    SmsConversation,
)
from tests.factories import CareTeamFactory, ClinicFactory, UserFactory, last_outbound, red_answers

pytestmark = pytest.mark.django_db


# --- on-call ACK ------------------------------------------------------------------------------


@pytest.fixture
def red_alert(make_enrolled: Any) -> Alert:
    """A red alert from a real check-in (jaundice), paged to the on-call surgeon."""
    patient = make_enrolled()
    team = CareTeamFactory(clinic=patient.clinic)
    patient.care_team = team
    patient.save()
    surgeon = UserFactory(clinic=patient.clinic, role=Role.SURGEON, phone="+905559990001")
    backup = UserFactory(clinic=patient.clinic, role=Role.SURGEON, phone="+905559990002")
    now = timezone.now()
    team.on_call_shifts.create(
        user=surgeon, level=1, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=8)
    )
    team.on_call_shifts.create(
        user=backup, level=2, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=8)
    )
    result = checkin_submit(patient_id=patient.pk, answers=red_answers(), channel="app")
    return Alert.objects.get(pk=result.alert_ids[0])


def test_an_on_call_surgeons_ack_acknowledges_the_alert_and_stops_escalation(webhooks: Any, red_alert: Alert) -> None:
    """H1: the reply to a page is the same acknowledgement as the dashboard's."""
    surgeon = red_alert.patient.clinic.staff.get(phone="+905559990001")
    assert red_alert.status == Alert.Status.OPEN and red_alert.next_escalation_at is not None
    page = OutgoingMessage.objects.get(kind=MessageKind.STAFF_PAGE, staff_user=surgeon)
    assert f"ACK {red_alert.ack_code}" in page.body

    webhooks.sms("+905559990001", f"ack {red_alert.ack_code.lower()}")

    red_alert.refresh_from_db()
    assert red_alert.status == Alert.Status.ACKNOWLEDGED
    assert red_alert.acknowledged_by == surgeon
    assert red_alert.next_escalation_at is None
    reply = OutgoingMessage.objects.filter(staff_user=surgeon, kind=MessageKind.REPLY).get()
    assert reply.body == f"Vigil: alert {red_alert.ack_code} acknowledged by you. Escalation stopped."
    inbound = InboundMessage.objects.get()
    assert inbound.handled_as == InboundMessage.HandledAs.ACK and inbound.staff_user == surgeon

    # The deadline passes: nobody else is paged.
    steps = EscalationStep.objects.filter(alert=red_alert).count()
    with time_machine.travel(timezone.now() + timedelta(minutes=30)):
        escalations_advance()
    assert EscalationStep.objects.filter(alert=red_alert).count() == steps
    assert not OutgoingMessage.objects.filter(kind=MessageKind.STAFF_PAGE, staff_user__phone="+905559990002").exists()


def test_an_unknown_ack_code_changes_nothing_and_says_so(webhooks: Any, red_alert: Alert) -> None:
    webhooks.sms("+905559990001", "ACK ZZZZ")
    red_alert.refresh_from_db()
    assert red_alert.status == Alert.Status.OPEN
    assert OutgoingMessage.objects.filter(kind=MessageKind.REPLY).get().body.startswith("Vigil: no open alert")


def test_an_ack_from_another_clinics_staff_does_not_acknowledge(webhooks: Any, red_alert: Alert) -> None:
    UserFactory(clinic=ClinicFactory(), role=Role.SURGEON, phone="+905559990009")
    webhooks.sms("+905559990009", f"ACK {red_alert.ack_code}")
    red_alert.refresh_from_db()
    assert red_alert.status == Alert.Status.OPEN


def test_a_second_ack_is_answered_already_acknowledged(webhooks: Any, red_alert: Alert) -> None:
    webhooks.sms("+905559990001", f"ACK {red_alert.ack_code}")
    webhooks.sms("+905559990002", f"ACK {red_alert.ack_code}")
    red_alert.refresh_from_db()
    assert red_alert.acknowledged_by.phone == "+905559990001"
    assert OutgoingMessage.objects.filter(staff_user__phone="+905559990002", kind=MessageKind.REPLY).get().body == (
        f"Vigil: alert {red_alert.ack_code} was already acknowledged."
    )


def test_a_staff_text_that_is_not_an_ack_is_told_how_to_ack_and_stop_gets_no_answer(webhooks: Any, db: None) -> None:
    nurse = UserFactory(role=Role.NURSE, phone="+905559990011")
    webhooks.sms("+905559990011", "who is this?")
    webhooks.sms("+905559990011", "STOP")
    replies = OutgoingMessage.objects.filter(staff_user=nurse)
    assert [reply.body for reply in replies] == [
        "Vigil: reply ACK followed by the code in the page (for example ACK 4F7K) to acknowledge an alert."
    ]
    assert set(InboundMessage.objects.values_list("handled_as", flat=True)) == {"staff_other"}


# --- a family phone (H5) ---------------------------------------------------------------------------


def test_a_shared_phone_is_asked_which_patient_before_anything_is_recorded(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    """H5: a mother and son share a phone; the son's check-in is running. Nothing is
    recorded for either until the sender says who is answering; then the held answer
    goes to the one named."""
    mother = make_enrolled(given_name="Ayşe", phone="+905301112233", language="tr")
    son = make_enrolled(given_name="Mehmet", phone="+905301112233", language="tr", clinic=mother.clinic)
    first_question = conversation_start(scheduled_check_in=make_due_check_in(son))
    assert first_question.body.startswith("Mehmet: ")  # each question says whose it is

    webhooks.sms("+905301112233", "37,9")

    question = OutgoingMessage.objects.order_by("-id").first()
    assert question.to_phone == "+905301112233"
    assert question.body == (
        "Bu telefon numarası birden fazla hastaya ait. Kim yanıtlıyor? Numarasını yazın: 1 Ayşe, 2 Mehmet"
    )
    assert SmsConversation.objects.get(patient=son).answers == {}
    assert not MessageHistoryEntry.objects.filter(direction="inbound").exists()
    held = InboundMessage.objects.get()
    assert held.handled_as == InboundMessage.HandledAs.HELD and held.patient is None

    webhooks.sms("+905301112233", "2")

    conversation = SmsConversation.objects.get(patient=son)
    assert conversation.answers == {"temperature_c": 37.9}
    held.refresh_from_db()
    assert held.patient == son and held.handled_as == InboundMessage.HandledAs.ANSWER
    assert last_outbound(son).question_id == "chills"
    assert not MessageHistoryEntry.objects.filter(patient=mother).exists()

    # The pick holds for the next replies.
    webhooks.sms("+905301112233", "hayır")
    assert SmsConversation.objects.get(patient=son).answers == {"temperature_c": 37.9, "chills": False}


def test_a_shared_phone_may_answer_with_the_given_name(webhooks: Any, make_enrolled: Any) -> None:
    mother = make_enrolled(given_name="Ayşe", phone="+905301112244", language="tr")
    make_enrolled(given_name="Mehmet", phone="+905301112244", language="tr", clinic=mother.clinic)
    webhooks.sms("+905301112244", "karnım ağrıyor")
    webhooks.sms("+905301112244", "ayse")
    item = WorklistItem.objects.get(kind=WorklistItem.Kind.PATIENT_MESSAGE)
    assert item.patient == mother
    assert "karnım ağrıyor" in item.detail


def test_a_reply_that_names_nobody_asks_again_and_keeps_holding(webhooks: Any, make_enrolled: Any) -> None:
    mother = make_enrolled(given_name="Ayşe", phone="+905301112255")
    make_enrolled(given_name="Mehmet", phone="+905301112255", clinic=mother.clinic)
    webhooks.sms("+905301112255", "hello")
    webhooks.sms("+905301112255", "5")
    assert InboundMessage.objects.filter(handled_as=InboundMessage.HandledAs.HELD).count() == 2
    assert not WorklistItem.objects.exists()
    assert OutgoingMessage.objects.filter(body__contains="1 Ayşe, 2 Mehmet").count() == 2


# --- strangers -------------------------------------------------------------------------------------


def test_an_unknown_number_gets_the_clinics_phone_and_nothing_else_is_stored(webhooks: Any, make_enrolled: Any) -> None:
    patient = make_enrolled()
    first_clinic = patient.clinic
    webhooks.sms("+905559876543", "Merhaba, ameliyat için randevu istiyorum")

    reply = OutgoingMessage.objects.get()
    assert reply.to_phone == "+905559876543"
    assert reply.patient is None
    # Turkish for a Turkish number; the name and phone of the installation's (first)
    # clinic: its number is no clinic's sending identity (issue 19).
    phone = clinic_phone_display(clinic=first_clinic)
    assert (
        reply.body == f"{first_clinic.name}: Bu numarayı bir hastayla eşleştiremedik. Lütfen kliniği arayın: {phone}."
    )
    inbound = InboundMessage.objects.get()
    assert (inbound.from_phone, inbound.body, inbound.patient_id) == ("", "", None)
    assert not WorklistItem.objects.exists()
    assert not MessageHistoryEntry.objects.exists()


def test_patients_of_two_clinics_on_one_phone_are_told_apart_by_clinic(webhooks: Any, make_enrolled: Any) -> None:
    first = make_enrolled(given_name="Ayşe", phone="+905301112266", clinic=ClinicFactory())
    second = make_enrolled(given_name="Ayşe", phone="+905301112266", clinic=ClinicFactory())
    webhooks.sms("+905301112266", "hello")
    question = OutgoingMessage.objects.get()
    assert question.body.endswith(f"1 Ayşe ({first.clinic.name}), 2 Ayşe ({second.clinic.name})")


def test_an_unknown_number_is_answered_once_a_day(webhooks: Any, db: None) -> None:
    ClinicFactory()
    for _ in range(3):
        webhooks.sms("+447700900123", "hello?")
    assert OutgoingMessage.objects.count() == 1


def test_stop_from_an_unknown_number_is_not_answered(webhooks: Any, db: None) -> None:
    ClinicFactory()
    webhooks.sms("+447700900124", "STOP")
    assert not OutgoingMessage.objects.exists()


# --- free text and recalls ----------------------------------------------------------------------------


def test_free_text_outside_a_conversation_goes_to_the_nurses(webhooks: Any, make_enrolled: Any) -> None:
    patient = make_enrolled(language="ru")
    webhooks.sms(str(patient.phone), "Болит живот с утра")
    item = WorklistItem.objects.get(patient=patient)
    assert item.kind == WorklistItem.Kind.PATIENT_MESSAGE and item.severity == "amber"
    assert "Болит живот с утра" in item.detail
    assert last_outbound(patient).body.startswith("Спасибо, ваше сообщение передано медсёстрам.")
    # A second message updates the same item: one line per patient on the list (H7).
    webhooks.sms(str(patient.phone), "И температура")
    assert WorklistItem.objects.filter(patient=patient).count() == 1
    assert OutgoingMessage.objects.filter(patient=patient, kind=MessageKind.REPLY).count() == 1


def test_yes_to_a_recall_confirms_the_appointment(webhooks: Any, make_enrolled: Any) -> None:
    patient = make_enrolled(language="az", timezone="Asia/Baku")
    starts = timezone.now().replace(hour=10, minute=30, second=0, microsecond=0) + timedelta(days=1)
    appointment = Appointment.objects.create(
        patient=patient, kind=Appointment.Kind.RECALL, starts_at=starts, status=Appointment.Status.SCHEDULED
    )
    recall = recall_sms_send(appointment=appointment)
    local = starts.astimezone(zoneinfo.ZoneInfo("Asia/Baku")).strftime("%d.%m.%Y %H:%M")
    assert local in recall.body and "BƏLİ" in recall.body
    assert recall.reach_alert and recall.kind == MessageKind.RECALL

    webhooks.sms(str(patient.phone), "Bəli")

    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    assert last_outbound(patient).body == f"Təşəkkür edirik, {local} tarixli qəbulunuz təsdiqləndi."
    assert not WorklistItem.objects.exists()


def test_no_to_a_recall_is_left_for_a_nurse(webhooks: Any, make_enrolled: Any) -> None:
    patient = make_enrolled()
    appointment = Appointment.objects.create(
        patient=patient,
        kind=Appointment.Kind.RECALL,
        starts_at=timezone.now() + timedelta(hours=3),
        status=Appointment.Status.SCHEDULED,
    )
    recall_sms_send(appointment=appointment)
    webhooks.sms(str(patient.phone), "no")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.SCHEDULED
    assert WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE).exists()
