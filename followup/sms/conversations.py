"""Check-ins by SMS: the protocol's questions one message at a time.

``conversation_start`` / ``conversation_remind`` are called by the beat tick (which
decides when: quiet hours) and by a nurse's send-now. For a check-in on the ``app``
channel they text the signed link to the web form; for ``sms`` they start (or nudge)
an ``SmsConversation``: the protocol's SMS wording in the patient's language, choices
numbered ("1 no, 2 a little, 3 a lot"), one question per message, each stored message
keeping the id of the question it asks (H6).

``conversation_reply`` moves a conversation one step for one inbound reply, inside the
inbound webhook's transaction, the conversation row locked: read the reply for the
question asked (``followup.sms.reading.reply_read`` with the protocol's answer
vocabulary in the patient's language), store it, judge the answers so far (a red
finding is acted on at once: alert, page, red advice, H16) and ask the next question
the skip logic gives (``questions_to_ask``). A reply that cannot be read costs one
question, not the check-in: asked again once with the numbered options, then left
unanswered; three misses in a row, or the patient asking for a call, hand the
conversation to a nurse. However it ends, ``followup.sms.endings`` stores what was
answered as a check-in and judges it.

Each reading is recorded (``SmsReplyReading``) so the clinic sees where a question's
wording fails in a language.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from followup.links import checkin_link_url
from followup.models import Channel, CheckIn, ScheduledCheckIn, SmsReplyReading
from followup.protocols import ProtocolDefinition, Question, questions_to_ask, validate_answer
from followup.selectors import active_enrollment
from followup.services.early_findings import red_findings_act_on
from followup.services.protocols import protocol_definition
from followup.services.push import reminder_send
from followup.services.triage import triage_advice
from followup.sms.endings import conversation_finish
from followup.sms.outgoing import conversation_send, phone_is_shared, text_values
from followup.sms.reading import ReplyNotUnderstood, asks_for_call, format_choices, reply_read
from followup.sms.vocabulary import vocabulary_for
from notifications.models import (
    InboundMessage,
    MessageKind,
    OutgoingMessage,
    SharedPhoneChoice,
    SmsConversation,
)
from notifications.services import sms_enqueue

logger = logging.getLogger(__name__)

OPEN_SCHEDULED = (ScheduledCheckIn.Status.SCHEDULED, ScheduledCheckIn.Status.SENT)

INVITATION = {
    "en": "Time for your check-in with {clinic}. Please answer here: {link}",
    "tr": "{clinic} kontrol zamanınız geldi. Lütfen buradan yanıtlayın: {link}",
    "de": "Zeit für Ihre Abfrage der {clinic}. Bitte hier antworten: {link}",
    "ru": "Время ответить на вопросы {clinic}. Пожалуйста, ответьте здесь: {link}",
    "uk": "Час відповісти на запитання {clinic}. Будь ласка, дайте відповідь тут: {link}",
    "az": "{clinic} sorğusunun vaxtıdır. Zəhmət olmasa burada cavab verin: {link}",
}
REMINDER = {
    "en": "Reminder: your {clinic} check-in is still open: {link}",
    "tr": "Hatırlatma: {clinic} kontrolünüz hâlâ açık: {link}",
    "de": "Erinnerung: Ihre Abfrage der {clinic} ist noch offen: {link}",
    "ru": "Напоминание: опрос {clinic} всё ещё открыт: {link}",
    "uk": "Нагадування: опитування {clinic} ще відкрите: {link}",
    "az": "Xatırlatma: {clinic} sorğunuz hələ açıqdır: {link}",
}


# --- texts ---------------------------------------------------------------------------------


def question_text(*, question: Question, language: str, definition: ProtocolDefinition) -> str:
    """The protocol's SMS wording, with numbered options for a choice question."""
    text = question.sms.get(language) or question.sms[definition.default_language]
    if question.type == "choice":
        text = f"{text} {format_choices(question.choice_labels(), language)}"
    return text


# --- starting and reminding ------------------------------------------------------------------


def _link_invite(
    *, scheduled_check_in: ScheduledCheckIn, texts: dict[str, str], kind: MessageKind
) -> OutgoingMessage | None:
    # An app patient gets a push, or an SMS with the app's link; anyone else the
    # one-time form link (followup.services.push.reminder_send; README, "Patient app").
    patient = scheduled_check_in.patient
    text = texts.get(patient.language, texts["en"])
    return reminder_send(
        patient=patient,
        key=f"checkin-{kind}:{scheduled_check_in.pk}",
        app_path=reverse("patient-app-check-in"),
        form_link=checkin_link_url(scheduled_check_in_id=scheduled_check_in.pk),
        sms_body=lambda link: text.format(clinic=patient.clinic.name, link=link),
        kind=kind,
    )


def _ask(
    *,
    conversation: SmsConversation,
    question: Question,
    definition: ProtocolDefinition,
    key: str,
    prefix: str = "",
    kind: MessageKind = MessageKind.CHECK_IN,
) -> OutgoingMessage:
    text = question_text(question=question, language=conversation.language, definition=definition)
    body = f"{prefix}\n{text}" if prefix else text
    # The stored message keeps the id of the question it asks (H6).
    return conversation_send(conversation=conversation, key=key, body=body, kind=kind, question_id=question.id)


def conversation_start(*, scheduled_check_in: ScheduledCheckIn) -> OutgoingMessage | None:
    """Send a due check-in: the web-form link (app), or the first SMS question (sms).

    Idempotent per scheduled check-in (a repeated tick returns the message already
    written). A patient who opted out gets nothing: for SMS no conversation starts and
    the would-be message is stored as ``suppressed``, so the history shows why. Returns
    None when there is nothing to ask (no active enrollment, check-in already closed)
    and when the clinic holds no SMS consent for the patient: nothing is texted then."""
    if not scheduled_check_in.patient.sms_consent:
        return None
    if scheduled_check_in.channel != Channel.SMS:
        return _link_invite(scheduled_check_in=scheduled_check_in, texts=INVITATION, kind=MessageKind.CHECK_IN)
    with transaction.atomic():
        scheduled = (
            ScheduledCheckIn.objects.select_for_update().select_related("patient__clinic").get(pk=scheduled_check_in.pk)
        )
        existing = SmsConversation.objects.filter(scheduled_check_in=scheduled).first()
        if existing is not None:
            return existing.messages.order_by("id").first()
        if scheduled.status not in OPEN_SCHEDULED:
            return None
        patient = scheduled.patient
        enrollment = scheduled.enrollment or active_enrollment(patient_id=patient.pk)
        if enrollment is None:
            logger.warning("scheduled check-in %s: patient %s has no active enrollment", scheduled.pk, patient.pk)
            return None
        definition = protocol_definition(enrollment.protocol_version)
        drain = enrollment.episode.drain_at_discharge
        first = questions_to_ask(definition, scheduled.phase, {}, drain, enrollment.has_pulse_device)[0]  # type: ignore[arg-type]
        values = text_values(patient=patient)
        first_ever = not SmsConversation.objects.filter(patient=patient).exists()
        prefix = definition.sms_text("intro", patient.language, **values) if first_ever else f"{patient.clinic.name}:"
        if patient.sms_opted_out_at is not None:
            # No conversation: nothing may be sent, and a reply would not be expected.
            text = question_text(question=first, language=patient.language, definition=definition)
            return sms_enqueue(
                clinic_id=patient.clinic_id,
                to_phone=str(patient.phone),
                body=f"{prefix}\n{text}",
                kind=MessageKind.CHECK_IN,
                idempotency_key=f"sms-conversation-opted-out:{scheduled.pk}",
                patient=patient,
                question_id=first.id,
            )
        for previous in SmsConversation.objects.select_for_update().filter(
            patient=patient, state=SmsConversation.State.ACTIVE
        ):
            # One conversation at a time, or a reply could not say which it answers;
            # what the earlier one collected is stored all the same (H16).
            conversation_finish(conversation=previous, state=SmsConversation.State.SUPERSEDED)
        conversation = SmsConversation.objects.create(
            patient=patient,
            scheduled_check_in=scheduled,
            protocol_version=enrollment.protocol_version,
            phase=scheduled.phase,
            language=patient.language,
            drain_at_discharge=drain,
            has_pulse_device=enrollment.has_pulse_device,
            current_question=first.id,
            expires_at=scheduled.due_at + timedelta(minutes=scheduled.window_minutes),
        )
        if phone_is_shared(patient=patient):
            # A phone's "who is answering" choice does not carry over to a new check-in.
            SharedPhoneChoice.objects.filter(phone=str(patient.phone), expires_at__gt=timezone.now()).update(
                expires_at=timezone.now()
            )
        # Intro and first question in one message: two would race through two workers.
        return _ask(
            conversation=conversation, question=first, definition=definition, key=f"q:{first.id}", prefix=prefix
        )


def conversation_remind(*, scheduled_check_in: ScheduledCheckIn) -> OutgoingMessage | None:
    """Nudge a patient who has not finished: the link again (app), or the question
    waiting for an answer (sms). Nothing for a check-in already closed, nor without
    the patient's SMS consent."""
    if not scheduled_check_in.patient.sms_consent:
        return None
    if scheduled_check_in.channel != Channel.SMS:
        return _link_invite(scheduled_check_in=scheduled_check_in, texts=REMINDER, kind=MessageKind.REMINDER)
    with transaction.atomic():
        conversation = (
            SmsConversation.objects.select_for_update()
            .select_related("patient__clinic", "protocol_version__protocol")
            .filter(scheduled_check_in_id=scheduled_check_in.pk)
            .first()
        )
        if conversation is None:
            return conversation_start(scheduled_check_in=scheduled_check_in)
        if conversation.state != SmsConversation.State.ACTIVE:
            return None
        definition = protocol_definition(conversation.protocol_version)
        question = definition.question(conversation.current_question)
        return _ask(
            conversation=conversation,
            question=question,
            definition=definition,
            key=f"reminder:{question.id}",
            prefix=f"{conversation.patient.clinic.name}:",
            kind=MessageKind.REMINDER,
        )


# --- one reply ----------------------------------------------------------------------------------

# Replies in a row that could not be read, across questions, before a nurse takes over.
MISSES_BEFORE_HAND_OVER = 3


def _remaining(conversation: SmsConversation, definition: ProtocolDefinition) -> list[Question]:
    return questions_to_ask(
        definition,
        conversation.phase,  # type: ignore[arg-type]
        conversation.answers,
        conversation.drain_at_discharge,
        conversation.has_pulse_device,
        skipped=conversation.skipped,
    )


def _reading_record(*, conversation: SmsConversation, question: Question, outcome: SmsReplyReading.Outcome) -> None:
    patient = conversation.patient
    SmsReplyReading.objects.create(
        clinic_id=patient.clinic_id,
        patient=patient,
        conversation=conversation,
        language=conversation.language,
        question_id=question.id,
        attempt=conversation.reask_count + 1,
        outcome=outcome,
    )


def _read(*, text: str, question: Question, conversation: SmsConversation, definition: ProtocolDefinition) -> object:
    """The reply as a valid answer to ``question``, or ReplyNotUnderstood (H4: a reply
    that could mean two things is asked again, never guessed; out of range likewise)."""
    value = reply_read(
        text, question=question, language=conversation.language, vocabulary=vocabulary_for(definition.slug)
    )
    cleaned, error = validate_answer(question, value)
    if error is not None:
        raise ReplyNotUnderstood(error, kind="out_of_range")
    return cleaned


def conversation_reply(*, conversation: SmsConversation, inbound: InboundMessage) -> None:
    """Move ``conversation`` one step with the patient's reply ``inbound``.

    The caller holds the conversation row lock inside the webhook's transaction."""
    definition = protocol_definition(conversation.protocol_version)
    question = definition.question(conversation.current_question)
    language = conversation.language
    if asks_for_call(inbound.body, language=language, vocabulary=vocabulary_for(definition.slug)):
        _reading_record(conversation=conversation, question=question, outcome=SmsReplyReading.Outcome.HANDED_OVER)
        conversation_finish(
            conversation=conversation,
            state=SmsConversation.State.HANDED_OVER,
            reason=gettext_noop("the patient asked for a call"),
        )
        return
    try:
        value = _read(text=inbound.body, question=question, conversation=conversation, definition=definition)
    except ReplyNotUnderstood:
        _not_understood(conversation=conversation, question=question, definition=definition, inbound=inbound)
        return

    _reading_record(conversation=conversation, question=question, outcome=SmsReplyReading.Outcome.UNDERSTOOD)
    conversation.answers = {**conversation.answers, question.id: value}
    conversation.reask_count = 0
    conversation.miss_streak = 0
    conversation.last_answer_at = timezone.now()
    conversation.save(update_fields=["answers", "reask_count", "miss_streak", "last_answer_at"])
    _judge_so_far(conversation=conversation, definition=definition)
    _next(conversation=conversation, definition=definition)


def _judge_so_far(*, conversation: SmsConversation, definition: ProtocolDefinition) -> None:
    """A red warning sign is acted on when it is answered (H16): its alert and page now,
    and the red advice once, before the next question goes out."""
    reds = red_findings_act_on(
        patient=conversation.patient,
        answers=dict(conversation.answers),
        phase=conversation.phase,
        taken_at=conversation.last_answer_at or timezone.now(),
    )
    if not reds or conversation.red_advice_sent:
        return
    advice = triage_advice(definition=definition, level="red", patient=conversation.patient)
    # H2 and H11: at once, quiet hours or not; undelivered, staff are told to phone.
    conversation_send(
        conversation=conversation, key="red-advice", body=advice, kind=MessageKind.ADVICE, reach_alert=True
    )
    conversation.red_advice_sent = True
    conversation.save(update_fields=["red_advice_sent"])


def _not_understood(
    *, conversation: SmsConversation, question: Question, definition: ProtocolDefinition, inbound: InboundMessage
) -> None:
    """A reply that cannot be read costs one question, not the check-in: asked again
    once with the numbered options; a second miss leaves it unanswered and moves on;
    the third miss in a row (across questions) hands the conversation to a nurse."""
    conversation.miss_streak += 1
    if conversation.miss_streak >= MISSES_BEFORE_HAND_OVER:
        _reading_record(conversation=conversation, question=question, outcome=SmsReplyReading.Outcome.HANDED_OVER)
        conversation.save(update_fields=["miss_streak"])
        conversation_finish(
            conversation=conversation,
            state=SmsConversation.State.HANDED_OVER,
            reason=gettext_noop("three replies in a row could not be read"),
        )
        return
    if conversation.reask_count == 0:
        _reading_record(conversation=conversation, question=question, outcome=SmsReplyReading.Outcome.REASKED)
        conversation.reask_count = 1
        conversation.save(update_fields=["miss_streak", "reask_count"])
        language = conversation.language
        example = question.example.get(language) or question.example[definition.default_language]
        reask = definition.sms_text("reask", language, example=example, **text_values(patient=conversation.patient))
        _ask(
            conversation=conversation,
            question=question,
            definition=definition,
            key=f"reask:{question.id}:{inbound.pk}",
            prefix=reask,
        )
        return
    _reading_record(conversation=conversation, question=question, outcome=SmsReplyReading.Outcome.LEFT_UNANSWERED)
    conversation.skipped = [*conversation.skipped, question.id]
    conversation.reask_count = 0
    conversation.save(update_fields=["miss_streak", "reask_count", "skipped"])
    _next(conversation=conversation, definition=definition)


def _next(*, conversation: SmsConversation, definition: ProtocolDefinition) -> None:
    remaining = _remaining(conversation, definition)
    if not remaining:
        conversation_finish(conversation=conversation, state=SmsConversation.State.COMPLETED)
        return
    conversation.current_question = remaining[0].id
    conversation.save(update_fields=["current_question"])
    _ask(conversation=conversation, question=remaining[0], definition=definition, key=f"q:{remaining[0].id}")


# --- the window closing ---------------------------------------------------------------------


def conversation_expire(*, conversation_id: int) -> bool:
    """Close a conversation whose check-in window has closed, storing what was answered.

    The scheduled check-in itself is marked missed by the clock first
    (``followup.services.timekeeping``), which also puts the silence on the nurses'
    worklist (H8); see ``followup.sms.expiry``."""
    with transaction.atomic():
        conversation = (
            SmsConversation.objects.select_for_update()
            .select_related("patient__clinic")
            .filter(pk=conversation_id, state=SmsConversation.State.ACTIVE, expires_at__lte=timezone.now())
            .first()
        )
        if conversation is None:
            return False
        conversation_finish(conversation=conversation, state=SmsConversation.State.EXPIRED)
    return True


def conversation_replace_on_check_in(*, check_in: CheckIn, **_: object) -> None:
    """The patient answered an SMS check-in on the web or in the app (or a nurse entered
    the answers from a call) while its conversation was going: the conversation ends,
    and what it collected is stored as a partial check-in of its own (H16). Receiver of
    ``check_in_stored``; costs no query unless the check-in answered an SMS one."""
    scheduled = check_in.scheduled_check_in
    if check_in.channel == CheckIn.Source.SMS or scheduled is None or scheduled.channel != Channel.SMS:
        return
    conversation = (
        SmsConversation.objects.select_for_update()
        .select_related("patient__clinic")
        .filter(scheduled_check_in_id=scheduled.pk, state=SmsConversation.State.ACTIVE)
        .first()
    )
    if conversation is not None:
        conversation_finish(conversation=conversation, state=SmsConversation.State.REPLACED)


def conversation_end_for_enrollment(*, enrollment_id: int) -> None:
    """The follow-up is ending: its conversation stores what it collected while the
    enrollment can still take a check-in."""
    conversation = (
        SmsConversation.objects.select_for_update()
        .select_related("patient__clinic")
        .filter(scheduled_check_in__enrollment_id=enrollment_id, state=SmsConversation.State.ACTIVE)
        .first()
    )
    if conversation is not None:
        conversation_finish(conversation=conversation, state=SmsConversation.State.ENROLLMENT_ENDED)
