"""SMS check-in conversations, driven end to end through the signed inbound webhook."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from followup.models import Alert, CheckIn, ScheduledCheckIn, WorklistItem
from followup.services.triage import clinic_phone_display
from followup.sms.conversations import conversation_remind, conversation_start
from followup.sms.expiry import conversations_expire_run
from notifications.models import MessageKind, MessageStatus, OutgoingMessage, SmsConversation
from tests.factories import last_outbound, outbound

pytestmark = pytest.mark.django_db

# What a Turkish patient types, question by question (with their own spelling).
TURKISH_ANSWERS = {
    "temperature_c": "37,2",
    "chills": "hayır",
    "jaundice": "Evet",
    "dark_urine": "hayir",
    "itching": "yok",
    "abdominal_pain": "2",
    "right_upper_pain": "HAYIR",
    "abdominal_swelling": "1",
    "nausea": "hayır",
    "vomiting_episodes_24h": "1",
    "fluids_kept_down": "evet",
    "vomit_blood": "hayır",
    "black_stools": "hayır",
    "bowel_movement_days": "1",
    "appetite": "2",
    "weight_kg": "79,5 kg",
    "confusion": "hayır",
    "shortness_of_breath": "hayır",
    "leg_swelling": "1",
    "swallowing_difficulty": "hayır",
    "wound": "normal",
    "patient_urgent": "evet",
}
# The acute form with the skip logic applied: no pulse device, no drain, and one
# vomiting episode brings in fluids_kept_down.
TURKISH_ORDER = list(TURKISH_ANSWERS)
# An English patient's replies where "no" does not answer.
ENGLISH_ANSWERS = {
    "temperature_c": "37",
    "abdominal_pain": "1",
    "abdominal_swelling": "1",
    "vomiting_episodes_24h": "0",
    "bowel_movement_days": "1",
    "appetite": "normal",
    "weight_kg": "80",
    "leg_swelling": "none",
    "wound": "1",
}


def answer_until_done(
    webhooks: Any, patient: Any, answers: dict[str, str], garble: dict[str, str] | None = None
) -> list[str]:
    """Reply to each question the patient is sent; returns the question ids asked."""
    garble = dict(garble or {})
    asked: list[str] = []
    for _ in range(60):
        conversation = SmsConversation.objects.filter(patient=patient, state=SmsConversation.State.ACTIVE).first()
        if conversation is None:
            return asked
        question_id = last_outbound(patient).question_id
        assert question_id == conversation.current_question  # H6: the message names its question
        if question_id in garble:
            webhooks.sms(str(patient.phone), garble.pop(question_id))
            continue
        asked.append(question_id)
        webhooks.sms(str(patient.phone), answers[question_id])
    raise AssertionError("the conversation did not end")


def test_a_turkish_sms_check_in_with_one_garbled_reply_ends_in_triage_and_red_advice(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    """H2, H6, H16: a full check-in by SMS in Turkish. The garbled temperature is asked
    again with the protocol's Turkish example; every question message keeps its question
    id; the red advice in Turkish with the clinic's phone goes out as soon as jaundice is
    answered; the answers go down the check-in path (stored, judged: jaundice is red)."""
    patient = make_enrolled(language="tr")
    scheduled = make_due_check_in(patient)

    first = conversation_start(scheduled_check_in=scheduled)
    assert first is not None and first.question_id == "temperature_c"
    assert "ameliyatınızdan sonra" in first.body  # the protocol's Turkish intro
    assert "Şu anki ateşiniz kaç °C?" in first.body

    asked = answer_until_done(webhooks, patient, TURKISH_ANSWERS, garble={"temperature_c": "ateşim yüksek galiba"})

    assert asked == TURKISH_ORDER
    reask = OutgoingMessage.objects.get(patient=patient, idempotency_key__contains=":reask:temperature_c:")
    assert "Üzgünüz, bu yanıtı anlayamadık." in reask.body
    assert "Lütfen 37,5 gibi bir sayı yazın." in reask.body
    assert reask.question_id == "temperature_c"

    check_in = CheckIn.objects.get(patient=patient)
    assert check_in.channel == "sms"
    assert check_in.scheduled_check_in_id == scheduled.pk
    assert check_in.answers["temperature_c"] == 37.2
    assert check_in.answers["jaundice"] is True
    assert check_in.answers["vomiting_episodes_24h"] == 1
    assert check_in.answers["fluids_kept_down"] is True
    assert check_in.answers["appetite"] == "reduced"
    assert check_in.answers["weight_kg"] == 79.5
    assert check_in.level == "red"
    conversation = SmsConversation.objects.get(patient=patient)
    assert conversation.state == SmsConversation.State.COMPLETED
    assert conversation.check_in_id == check_in.pk
    assert check_in.taken_at == conversation.last_answer_at
    assert Alert.objects.filter(patient=patient, rule_id="jaundice", severity="red").exists()
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledCheckIn.Status.COMPLETED

    # The red advice went out once, when jaundice was answered (H16), before the next
    # question; the end of the conversation does not send it again.
    (advice,) = OutgoingMessage.objects.filter(patient=patient, kind=MessageKind.ADVICE)
    next_question = OutgoingMessage.objects.get(patient=patient, idempotency_key__endswith=":q:dark_urine")
    assert advice.pk < next_question.pk
    assert advice.body.startswith("Hemen kliniği arayın:")
    assert clinic_phone_display(clinic=patient.clinic) in advice.body
    assert advice.reach_alert  # H11: staff are told if it does not arrive
    assert advice.send_after is None  # a reply: quiet hours do not hold it (H2)
    assert advice.status == MessageStatus.QUEUED


def test_each_question_is_asked_in_the_patients_language_with_numbered_choices(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    """H6: the protocol's SMS wording in German; choices numbered from their labels."""
    patient = make_enrolled(language="de")
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    for question_id in ("temperature_c", "chills", "jaundice", "dark_urine", "itching", "abdominal_pain"):
        assert last_outbound(patient).question_id == question_id
        webhooks.sms(str(patient.phone), {"temperature_c": "36,9", "abdominal_pain": "0"}.get(question_id, "nein"))
    webhooks.sms(str(patient.phone), "nein")  # right_upper_pain
    message = last_outbound(patient)
    assert message.question_id == "abdominal_swelling"
    assert message.body == "Ist Ihr Bauch geschwollen? 1 nein, 2 etwas, 3 stark"


def test_three_unreadable_replies_in_a_row_hand_over_with_the_answers_stored_and_a_nurse_item(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    """H16: the answers given are stored as a partial check-in and judged; the nurse's
    item lists them and what is unanswered; the patient is told a nurse will call."""
    patient = make_enrolled(language="en")
    scheduled = make_due_check_in(patient)
    conversation_start(scheduled_check_in=scheduled)
    webhooks.sms(str(patient.phone), "37.1")
    webhooks.sms(str(patient.phone), "maybe")
    webhooks.sms(str(patient.phone), "I don't know")
    webhooks.sms(str(patient.phone), "what?")

    conversation = SmsConversation.objects.get(patient=patient)
    assert conversation.state == SmsConversation.State.HANDED_OVER
    assert conversation.answers == {"temperature_c": 37.1}
    assert conversation.skipped == ["chills"]
    item = WorklistItem.objects.get(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE)
    assert "Answers given: Temperature: 37.1" in item.detail
    assert "Chills or night sweats" in item.detail and "Jaundice" in item.detail
    assert item.scheduled_check_in_id == scheduled.pk
    assert "A nurse will call you" in last_outbound(patient).body
    check_in = CheckIn.objects.get(patient=patient)
    assert check_in.complete is False
    assert check_in.answers == {"temperature_c": 37.1}
    assert check_in.unanswered[:2] == ["chills", "jaundice"]


def test_an_optional_question_is_skipped_after_a_second_unreadable_answer(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    patient = make_enrolled(language="en")
    enrollment = patient.enrollments.get()
    enrollment.has_pulse_device = True
    enrollment.save()
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    for _ in range(16):
        question_id = last_outbound(patient).question_id
        if question_id == "heart_rate_bpm":
            break
        webhooks.sms(str(patient.phone), ENGLISH_ANSWERS.get(question_id, "no"))
    assert last_outbound(patient).question_id == "heart_rate_bpm"
    webhooks.sms(str(patient.phone), "fast")
    webhooks.sms(str(patient.phone), "quite fast")

    conversation = SmsConversation.objects.get(patient=patient)
    assert conversation.state == SmsConversation.State.ACTIVE
    assert conversation.skipped == ["heart_rate_bpm"]
    assert last_outbound(patient).question_id == "confusion"


def test_an_out_of_range_number_is_asked_again_and_never_stored(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    """H4 by SMS: 380 is a typing error, not a fever."""
    patient = make_enrolled(language="en")
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    webhooks.sms(str(patient.phone), "380")
    conversation = SmsConversation.objects.get(patient=patient)
    assert conversation.answers == {}
    assert conversation.current_question == "temperature_c"
    assert "like 37.5" in last_outbound(patient).body


def test_starting_twice_sends_the_first_question_once(make_enrolled: Any, make_due_check_in: Any) -> None:
    patient = make_enrolled()
    scheduled = make_due_check_in(patient)
    first = conversation_start(scheduled_check_in=scheduled)
    again = conversation_start(scheduled_check_in=scheduled)
    assert again == first
    assert len(outbound(patient)) == 1


def test_the_intro_comes_with_the_first_conversation_only(make_enrolled: Any, make_due_check_in: Any) -> None:
    patient = make_enrolled()
    first = conversation_start(scheduled_check_in=make_due_check_in(patient, minutes_ago=60))
    second = conversation_start(scheduled_check_in=make_due_check_in(patient))
    assert "Reply HELP for help" in first.body
    assert second.body == f"{patient.clinic.name}:\nYour temperature now, in °C?"
    # One conversation at a time: the older one gave way.
    states = dict(SmsConversation.objects.values_list("scheduled_check_in__due_at", "state"))
    assert sorted(states.values()) == ["active", "superseded"]


def test_a_reminder_repeats_the_question_waiting_for_an_answer(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    patient = make_enrolled()
    scheduled = make_due_check_in(patient)
    conversation_start(scheduled_check_in=scheduled)
    webhooks.sms(str(patient.phone), "36.8")
    reminder = conversation_remind(scheduled_check_in=scheduled)
    assert reminder.kind == MessageKind.REMINDER
    assert reminder.question_id == "chills"
    assert reminder.body.endswith("Shivering, chills or night sweats since your last answers?")


def test_an_app_check_in_is_invited_with_the_web_form_link(make_enrolled: Any, make_due_check_in: Any) -> None:
    patient = make_enrolled()
    message = conversation_start(scheduled_check_in=make_due_check_in(patient, channel="app"))
    assert "/check-in/" in message.body or "http" in message.body
    assert not SmsConversation.objects.exists()


def test_a_reply_after_the_window_closed_is_free_text_and_the_check_in_is_left_to_the_clock(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    patient = make_enrolled()
    conversation_start(scheduled_check_in=make_due_check_in(patient, minutes_ago=130, window_minutes=120))
    webhooks.sms(str(patient.phone), "37.0")
    conversation = SmsConversation.objects.get(patient=patient)
    assert conversation.state == SmsConversation.State.EXPIRED
    assert conversation.answers == {}
    assert WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE).exists()


def test_a_window_closing_mid_way_makes_the_check_in_missed_with_the_answers_kept(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    """The clock's side: the conversation expires, the scheduled check-in is missed
    through the timekeeping service (which also puts the silence on the worklist)."""
    patient = make_enrolled()
    scheduled = make_due_check_in(patient, minutes_ago=60, window_minutes=120)
    conversation_start(scheduled_check_in=scheduled)
    webhooks.sms(str(patient.phone), "37.6")
    webhooks.sms(str(patient.phone), "no")

    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=1)):
        closed = conversations_expire_run()

    assert closed == 1
    conversation = SmsConversation.objects.get(patient=patient)
    assert conversation.state == SmsConversation.State.EXPIRED
    assert conversation.answers == {"temperature_c": 37.6, "chills": False}
    scheduled.refresh_from_db()
    assert scheduled.status == ScheduledCheckIn.Status.MISSED
    # What was answered is stored and judged all the same (H16), as a partial check-in.
    check_in = CheckIn.objects.get(patient=patient)
    assert check_in.complete is False and check_in.scheduled_check_in_id is None
    assert check_in.answers == {"temperature_c": 37.6, "chills": False}
    # A late reply is free text for a nurse, not an answer.
    webhooks.sms(str(patient.phone), "no")
    assert SmsConversation.objects.get(patient=patient).answers == {"temperature_c": 37.6, "chills": False}


def test_a_conversation_the_check_in_path_refuses_goes_to_a_nurse(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    """The check-in path refuses the answers (the enrollment was ended behind the
    service's back): they are kept on the conversation and listed on a nurse's item,
    the patient is told a nurse will call - nothing is lost in an error."""
    patient = make_enrolled()
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    while (question_id := last_outbound(patient).question_id) != "patient_urgent":
        webhooks.sms(str(patient.phone), ENGLISH_ANSWERS.get(question_id, "no"))
    patient.enrollments.update(status="ended")
    webhooks.sms(str(patient.phone), "no")

    conversation = SmsConversation.objects.get(patient=patient)
    assert conversation.state == SmsConversation.State.COMPLETED
    assert conversation.check_in_id is None
    assert len(conversation.answers) == 21
    assert WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE).exists()
    assert "A nurse will call you" in last_outbound(patient).body


def test_nothing_is_texted_without_the_clinics_sms_consent(make_enrolled: Any, make_due_check_in: Any) -> None:
    patient = make_enrolled(sms_consent=False)
    assert conversation_start(scheduled_check_in=make_due_check_in(patient)) is None
    assert conversation_start(scheduled_check_in=make_due_check_in(patient, channel="app")) is None
    assert not OutgoingMessage.objects.exists()
