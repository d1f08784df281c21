"""STOP / START / HELP, at any time, in the carriers' English and the protocol's words."""

from __future__ import annotations

from typing import Any

import pytest

from backend.models import AuditRecord
from followup.models import ScheduledCheckIn, WorklistItem
from followup.services.timekeeping import scheduled_checkins_tick
from followup.services.triage import clinic_phone_display
from followup.sms.conversations import conversation_start
from notifications.backends import locmem
from notifications.delivery import outbox_deliver
from notifications.models import MessageKind, MessageStatus, OutgoingMessage, SmsConversation
from notifications.services import sms_enqueue
from tests.factories import last_outbound, outbound

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("word", ["STOP", "stop", " Stop. ", "UNSUBSCRIBE", "cancel", "quit", "end", "stopall"])
def test_the_carriers_stop_words_opt_the_patient_out(webhooks: Any, make_enrolled: Any, word: str) -> None:
    patient = make_enrolled()
    webhooks.sms(str(patient.phone), word)
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is not None


@pytest.mark.parametrize(
    ("language", "word"),
    [("tr", "dur"), ("tr", "IPTAL"), ("de", "Stopp"), ("ru", "стоп"), ("uk", "СТОП"), ("az", "dayan")],
)
def test_the_protocols_stop_words_work_in_each_language(
    webhooks: Any, make_enrolled: Any, language: str, word: str
) -> None:
    patient = make_enrolled(language=language)
    webhooks.sms(str(patient.phone), word)
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is not None


def test_stop_is_confirmed_once_in_the_patients_language_and_audited(webhooks: Any, make_enrolled: Any) -> None:
    """H11: the confirmation is the one message an opted-out patient still gets."""
    patient = make_enrolled(language="tr")
    webhooks.sms(str(patient.phone), "DUR")
    webhooks.sms(str(patient.phone), "STOP")
    confirmations = [m for m in outbound(patient) if m.kind == MessageKind.KEYWORD_REPLY]
    assert len(confirmations) == 1
    assert confirmations[0].status == MessageStatus.QUEUED
    assert confirmations[0].body.startswith(f"{patient.clinic.name} size artık mesaj göndermeyecek")
    assert AuditRecord.objects.filter(object_type="patient_sms_opt_out", patient_id=patient.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_after_stop_a_due_check_in_sends_nothing_and_start_resumes(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    """H11: STOP is honoured at once; nothing reaches the patient until START."""
    patient = make_enrolled()
    webhooks.sms(str(patient.phone), "STOP")
    confirmation = last_outbound(patient)
    outbox_deliver_all()
    assert [m.body for m in locmem.outbox] == [confirmation.body]
    locmem.reset()

    # The clock announces the check-in due now: nothing is texted, no conversation.
    scheduled = make_due_check_in(patient)
    scheduled.status = ScheduledCheckIn.Status.SCHEDULED
    scheduled.announced_at = None
    scheduled.save()
    scheduled_checkins_tick()
    # Even a direct start (a nurse's send-now) only stores the message as suppressed.
    held = conversation_start(scheduled_check_in=scheduled)
    assert held.status == MessageStatus.SUPPRESSED
    assert not SmsConversation.objects.exists()
    outbox_deliver_all()
    assert locmem.outbox == []

    webhooks.sms(str(patient.phone), "START")
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is None
    assert last_outbound(patient).body == f"You will get messages from {patient.clinic.name} again. Reply STOP to stop."
    again = conversation_start(scheduled_check_in=make_due_check_in(patient))
    assert again.status == MessageStatus.QUEUED
    assert SmsConversation.objects.get(patient=patient).state == SmsConversation.State.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_a_message_queued_before_stop_is_not_sent_after_it(webhooks: Any, make_enrolled: Any) -> None:
    patient = make_enrolled()
    message = sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body="Your appointment is tomorrow",
        kind=MessageKind.REMINDER,
        idempotency_key="reminder-before-stop",
        patient=patient,
    )
    webhooks.sms(str(patient.phone), "STOP")
    outbox_deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.SUPPRESSED
    assert "Your appointment is tomorrow" not in [m.body for m in locmem.outbox]


def test_stop_ends_an_active_conversation_with_its_answers_kept(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    patient = make_enrolled()
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    webhooks.sms(str(patient.phone), "37.3")
    webhooks.sms(str(patient.phone), "STOP")
    conversation = SmsConversation.objects.get(patient=patient)
    assert conversation.state == SmsConversation.State.STOPPED
    assert conversation.answers == {"temperature_c": 37.3}


def test_help_answers_with_the_clinic_and_how_to_stop_and_changes_nothing(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    patient = make_enrolled(language="de")
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    before = SmsConversation.objects.get(patient=patient)
    webhooks.sms(str(patient.phone), "hilfe")

    reply = last_outbound(patient)
    assert reply.kind == MessageKind.KEYWORD_REPLY
    assert patient.clinic.name in reply.body
    assert "STOPP" in reply.body
    assert clinic_phone_display(clinic=patient.clinic) in reply.body
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is None
    after = SmsConversation.objects.get(patient=patient)
    assert (after.state, after.current_question, after.answers, after.reask_count) == (
        before.state,
        before.current_question,
        before.answers,
        before.reask_count,
    )
    assert not WorklistItem.objects.exists()


def test_a_word_inside_a_sentence_is_not_a_keyword(webhooks: Any, make_enrolled: Any) -> None:
    patient = make_enrolled()
    webhooks.sms(str(patient.phone), "please stop the pain")
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is None
    assert WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE).exists()


def test_stop_from_a_shared_phone_opts_out_everyone_on_it(webhooks: Any, make_enrolled: Any) -> None:
    first = make_enrolled(phone="+905301110000")
    second = make_enrolled(phone="+905301110000")
    webhooks.sms("+905301110000", "STOP")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.sms_opted_out_at is not None and second.sms_opted_out_at is not None
    assert OutgoingMessage.objects.filter(kind=MessageKind.KEYWORD_REPLY).count() == 1


def outbox_deliver_all() -> None:
    """What the workers would do after commit, run here (the db fixture never commits)."""
    for message_id in OutgoingMessage.objects.filter(status=MessageStatus.QUEUED).values_list("pk", flat=True):
        outbox_deliver(message_id=message_id)
