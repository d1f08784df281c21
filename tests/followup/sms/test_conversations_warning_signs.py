"""H16 and H17: a warning sign answered by SMS is acted on at once, and no answer or
message is ever dropped, however the conversation ends. Driven through the signed
inbound webhook, with a real on-call roster so pages are written as in production."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from backend.models import Patient, Role
from followup.models import Alert, AlertOccurrence, CheckIn, Enrollment, ScheduledCheckIn, WorklistItem
from followup.services.checkins import checkin_submit
from followup.services.enrollment import enrollment_end
from followup.services.triage import clinic_phone_display
from followup.sms.conversations import conversation_start
from followup.sms.expiry import conversations_expire_run
from notifications.models import MessageKind, OutgoingMessage, SmsConversation
from tests.factories import CareTeamFactory, UserFactory, green_answers, last_outbound

pytestmark = pytest.mark.django_db

UNREADABLE = "asdf qwerty"
# The Turkish red advice as the protocol words it (its first sentence is enough).
TURKISH_RED_ADVICE_START = "Hemen kliniği arayın"


@pytest.fixture
def on_call_patient(make_enrolled: Callable[..., Patient]) -> Callable[..., Patient]:
    """An enrolled patient whose care team has an on-call surgeon now."""

    def make(**fields: Any) -> Patient:
        patient = make_enrolled(**fields)
        team = CareTeamFactory(clinic=patient.clinic)
        patient.care_team = team
        patient.save()
        surgeon = UserFactory(clinic=patient.clinic, role=Role.SURGEON, phone="+905559990011")
        now = timezone.now()
        team.on_call_shifts.create(
            user=surgeon, level=1, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=8)
        )
        return patient

    return make


def _reply(webhooks: Any, patient: Patient, body: str) -> None:
    webhooks.sms(str(patient.phone), body)


def _answer(webhooks: Any, patient: Patient, replies: dict[str, str]) -> None:
    """Answer the questions named in ``replies``, in the order they are asked."""
    for _ in range(len(replies)):
        question_id = last_outbound(patient).question_id
        _reply(webhooks, patient, replies[question_id])


def _pages(alert: Alert) -> list[OutgoingMessage]:
    return list(OutgoingMessage.objects.filter(kind=MessageKind.STAFF_PAGE, body__contains=alert.ack_code))


def _red_advice(patient: Patient) -> list[OutgoingMessage]:
    return list(OutgoingMessage.objects.filter(patient=patient, kind=MessageKind.ADVICE))


def test_a_turkish_yes_to_jaundice_is_acted_on_before_the_next_question_and_survives_unreadable_replies(
    webhooks: Any, on_call_patient: Callable[..., Patient], make_due_check_in: Any
) -> None:
    """Must show 2 (H16): yes to jaundice early on, then nothing readable. The red alert
    and the on-call page exist before the next question is written; the Turkish red
    advice goes out once; the partial check-in is stored, judged red and joined to the
    same alert: one alert, one page."""
    patient = on_call_patient(language="tr")
    scheduled = make_due_check_in(patient)
    conversation_start(scheduled_check_in=scheduled)
    _answer(webhooks, patient, {"temperature_c": "37,2", "chills": "hayır"})
    assert last_outbound(patient).question_id == "jaundice"

    _reply(webhooks, patient, "evet")

    alert = Alert.objects.get(patient=patient, rule_id="jaundice")
    assert alert.severity == "red" and alert.status == "open"
    next_question = last_outbound(patient)
    assert next_question.question_id == "dark_urine"
    pages = _pages(alert)
    assert len(pages) == 1 and pages[0].pk < next_question.pk  # paged before the next question
    advice = _red_advice(patient)
    assert len(advice) == 1 and advice[0].pk < next_question.pk
    assert TURKISH_RED_ADVICE_START in advice[0].body
    assert clinic_phone_display(clinic=patient.clinic) in advice[0].body
    assert not CheckIn.objects.filter(patient=patient).exists()  # the conversation goes on

    for _ in range(3):  # re-ask, left unanswered, then the third miss in a row
        _reply(webhooks, patient, UNREADABLE)

    conversation = SmsConversation.objects.get(patient=patient)
    assert conversation.state == SmsConversation.State.HANDED_OVER
    check_in = CheckIn.objects.get(patient=patient)
    assert check_in.complete is False
    assert check_in.answers == {"temperature_c": 37.2, "chills": False, "jaundice": True}
    assert {"dark_urine", "itching", "patient_urgent"} <= set(check_in.unanswered)
    assert "jaundice" not in check_in.unanswered
    assert check_in.level == "red"
    assert check_in.scheduled_check_in_id == scheduled.pk
    assert conversation.check_in_id == check_in.pk
    assert Alert.objects.filter(patient=patient).count() == 1
    alert.refresh_from_db()
    assert alert.check_in_id == check_in.pk
    assert list(AlertOccurrence.objects.filter(alert=alert).values_list("check_in_id", flat=True)) == [check_in.pk]
    assert len(_pages(alert)) == 1
    assert len(_red_advice(patient)) == 1
    item = WorklistItem.objects.get(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE)
    assert "Jaundice: yes" in item.detail and "Dark urine" in item.detail
    assert item.severity == "red"


def test_a_reply_not_understood_twice_costs_that_question_only(
    webhooks: Any, make_enrolled: Callable[..., Patient], make_due_check_in: Any
) -> None:
    """The first miss is re-asked with the numbered options; the second moves on and
    the question is listed unanswered; an answer in between resets the run of misses."""
    patient = make_enrolled(language="en")
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    _reply(webhooks, patient, "hot")
    reask = last_outbound(patient)
    assert reask.question_id == "temperature_c" and ":reask:" in reask.idempotency_key
    _reply(webhooks, patient, "very hot")
    assert last_outbound(patient).question_id == "chills"
    _reply(webhooks, patient, "no")
    assert last_outbound(patient).question_id == "jaundice"
    conversation = SmsConversation.objects.get(patient=patient)
    assert conversation.state == SmsConversation.State.ACTIVE
    assert conversation.skipped == ["temperature_c"]
    assert conversation.miss_streak == 0


def test_asking_for_a_call_hands_the_conversation_to_a_nurse(
    webhooks: Any, make_enrolled: Callable[..., Patient], make_due_check_in: Any
) -> None:
    patient = make_enrolled(language="de")
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    _reply(webhooks, patient, "37,1")
    _reply(webhooks, patient, "Bitte rufen Sie mich an")
    conversation = SmsConversation.objects.get(patient=patient)
    assert conversation.state == SmsConversation.State.HANDED_OVER
    check_in = CheckIn.objects.get(patient=patient)
    assert check_in.complete is False and check_in.answers == {"temperature_c": 37.1}
    assert WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE).exists()
    assert last_outbound(patient).kind == MessageKind.REPLY  # "a nurse will call you"


# --- every way a conversation ends, each after a red answer (must show 3) --------------------


def _red_then_stop_at_dark_urine(webhooks: Any, patient: Patient) -> None:
    _answer(webhooks, patient, {"temperature_c": "37", "chills": "no", "jaundice": "yes"})
    assert last_outbound(patient).question_id == "dark_urine"


def _end_completed(webhooks: Any, patient: Patient, scheduled: ScheduledCheckIn) -> None:
    replies = {
        "dark_urine": "no",
        "itching": "no",
        "abdominal_pain": "1",
        "right_upper_pain": "no",
        "abdominal_swelling": "no",
        "nausea": "no",
        "vomiting_episodes_24h": "0",
        "vomit_blood": "no",
        "black_stools": "no",
        "bowel_movement_days": "1",
        "appetite": "normal",
        "weight_kg": "80",
        "confusion": "no",
        "shortness_of_breath": "no",
        "leg_swelling": "no",
        "swallowing_difficulty": "no",
        "wound": "normal",
        "patient_urgent": "no",
    }
    _answer(webhooks, patient, replies)


def _end_handed_over(webhooks: Any, patient: Patient, scheduled: ScheduledCheckIn) -> None:
    for _ in range(3):
        _reply(webhooks, patient, UNREADABLE)


def _end_window_closed(webhooks: Any, patient: Patient, scheduled: ScheduledCheckIn) -> None:
    with time_machine.travel(scheduled.due_at + timedelta(minutes=scheduled.window_minutes, seconds=30)):
        assert conversations_expire_run() == 1


def _end_stop(webhooks: Any, patient: Patient, scheduled: ScheduledCheckIn) -> None:
    _reply(webhooks, patient, "STOP")


def _end_enrollment_ended(webhooks: Any, patient: Patient, scheduled: ScheduledCheckIn) -> None:
    nurse = UserFactory(clinic=patient.clinic, role=Role.NURSE)
    enrollment_end(enrollment=Enrollment.objects.get(patient=patient), by=nurse)


def _end_replaced_by_app(webhooks: Any, patient: Patient, scheduled: ScheduledCheckIn) -> None:
    checkin_submit(patient_id=patient.pk, answers=green_answers(), scheduled_check_in_id=scheduled.pk, channel="app")


def _end_superseded(webhooks: Any, patient: Patient, scheduled: ScheduledCheckIn) -> None:
    enrollment = Enrollment.objects.get(patient=patient)
    later = ScheduledCheckIn.objects.create(
        patient=patient,
        enrollment=enrollment,
        due_at=timezone.now(),
        window_minutes=720,
        channel="sms",
        status=ScheduledCheckIn.Status.SENT,
    )
    conversation_start(scheduled_check_in=later)


ENDINGS = {
    SmsConversation.State.COMPLETED: _end_completed,
    SmsConversation.State.HANDED_OVER: _end_handed_over,
    SmsConversation.State.EXPIRED: _end_window_closed,
    SmsConversation.State.STOPPED: _end_stop,
    SmsConversation.State.ENROLLMENT_ENDED: _end_enrollment_ended,
    SmsConversation.State.REPLACED: _end_replaced_by_app,
    SmsConversation.State.SUPERSEDED: _end_superseded,
}


@pytest.mark.parametrize("state", list(ENDINGS), ids=[str(state) for state in ENDINGS])
def test_every_way_a_conversation_ends_keeps_its_red_answer(
    state: str, webhooks: Any, on_call_patient: Callable[..., Patient], make_due_check_in: Any
) -> None:
    """Must show 3 (H16): a yes to jaundice, then the conversation ends one way or
    another. In every case the red alert exists, the SMS answers are stored as a
    check-in (partial unless completed) judged red, and the alert is one alert."""
    patient = on_call_patient(language="en")
    scheduled = make_due_check_in(patient)
    conversation_start(scheduled_check_in=scheduled)
    _red_then_stop_at_dark_urine(webhooks, patient)

    ENDINGS[state](webhooks, patient, scheduled)

    conversation = SmsConversation.objects.get(scheduled_check_in=scheduled)
    assert conversation.state == state
    alerts = Alert.objects.filter(patient=patient, rule_id="jaundice")
    assert alerts.count() == 1 and alerts[0].severity == "red"
    sms_check_in = CheckIn.objects.get(pk=conversation.check_in_id)
    assert sms_check_in.channel == "sms"
    assert sms_check_in.answers["jaundice"] is True
    assert sms_check_in.level == "red"
    assert sms_check_in.complete is (state == SmsConversation.State.COMPLETED)
    if state != SmsConversation.State.COMPLETED:
        assert "dark_urine" in sms_check_in.unanswered
    assert alerts[0].check_in_id == sms_check_in.pk
    assert len(_pages(alerts[0])) == 1


def test_partial_check_ins_read_as_such_in_the_api(
    webhooks: Any, make_enrolled: Callable[..., Patient], make_due_check_in: Any, client: Client
) -> None:
    patient = make_enrolled(language="en")
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    _reply(webhooks, patient, "37")
    _end_handed_over(webhooks, patient, ScheduledCheckIn.objects.get(patient=patient))
    nurse = UserFactory(clinic=patient.clinic, role=Role.NURSE)
    client.force_login(nurse)
    body = client.get(f"/api/v1/check-ins/?patient={patient.pk}").json()
    (row,) = body["results"]
    assert row["complete"] is False
    assert "chills" in row["unanswered"]


# --- the thread (must show 4) ------------------------------------------------------------------


def test_two_free_text_messages_after_an_unfinished_conversation_overwrite_nothing(
    webhooks: Any, make_enrolled: Callable[..., Patient], make_due_check_in: Any, client: Client
) -> None:
    """H17: the nurse's item from the hand-over keeps its answers; both later messages
    are in the patient's thread, in order, each its own row; the item is bumped."""
    patient = make_enrolled(language="tr")
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    _answer(webhooks, patient, {"temperature_c": "37", "chills": "hayır", "jaundice": "evet"})
    _answer(webhooks, patient, {"dark_urine": "evet"})
    for _ in range(3):
        _reply(webhooks, patient, UNREADABLE)
    item = WorklistItem.objects.get(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE)
    detail = item.detail
    assert "Jaundice: evet" in detail or "Jaundice: yes" in detail
    assert "Dark urine: " in detail

    _reply(webhooks, patient, "Gözlerim sarardı, ne yapmalıyım?")
    _reply(webhooks, patient, "Bir de kaşıntı başladı")

    item.refresh_from_db()
    assert item.detail == detail  # never rewritten
    assert item.bumped_at is not None
    assert WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE).count() == 1
    nurse = UserFactory(clinic=patient.clinic, role=Role.NURSE)
    client.force_login(nurse)
    thread = client.get(f"/api/v1/patients/{patient.pk}/messages/").json()
    rows = thread["results"] if isinstance(thread, dict) else thread
    inbound = [row["body"] for row in rows if row["direction"] == "inbound"]
    assert inbound[-2:] == ["Gözlerim sarardı, ne yapmalıyım?", "Bir de kaşıntı başladı"]
