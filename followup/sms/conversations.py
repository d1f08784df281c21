"""Check-ins by SMS: the protocol's questions one message at a time.

``conversation_start`` / ``conversation_remind`` are called by the beat tick (which
decides when: quiet hours) and by a nurse's send-now. For a check-in on the ``app``
channel they text the signed link to the web form; for ``sms`` they start (or nudge)
an ``SmsConversation``: the protocol's SMS wording in the patient's language, choices
numbered ("1 no, 2 a little, 3 a lot"), one question per message, each stored message
keeping the id of the question it asks (H6).

``conversation_reply`` moves a conversation one step for one inbound reply, inside the
inbound webhook's transaction, the conversation row locked: read the reply for the
question asked (``sms_parsing.parse_reply``: yes/no words and numbers in the six
languages, decimal commas, units), store it and ask the next question the skip logic
gives (``questions_to_ask``). A reply that cannot be read is asked again once with the
protocol's example; a second failure skips an optional question, and on a required
one ends the conversation with the answers kept and a nurse's worklist item. The last
answer sends everything down the check-in path (``checkin_submit``, channel ``sms``,
taken at the time of the last answer), and the triage advice goes back at once - the
red advice with the clinic's phone (H2), quiet hours or not, since it answers the
patient's own message.

``conversation_expire`` closes a conversation whose check-in window has closed, the
answers given kept on it (``followup.sms.expiry`` runs it on the clock).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from backend.audit import audit_record
from backend.models import AuditAction, Patient
from followup.links import checkin_link_url
from followup.models import Channel, ScheduledCheckIn, WorklistItem
from followup.protocols import ProtocolDefinition, Question, questions_to_ask, validate_answer
from followup.services.checkins import CheckInRejected, checkin_submit, enrollment_active_for
from followup.services.protocols import protocol_definition
from followup.services.triage import clinic_phone_display
from followup.sms.reading import ReplyNotUnderstood, format_choices, parse_reply
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


def text_values(*, patient: Patient) -> dict[str, str]:
    """What the protocol's SMS texts may name; every text gets all of them."""
    return {"clinic_name": patient.clinic.name, "clinic_phone": clinic_phone_display(clinic=patient.clinic)}


def phone_is_shared(*, patient: Patient) -> bool:
    return Patient.objects.filter(phone=patient.phone).exclude(pk=patient.pk).exists()


def question_text(*, question: Question, language: str, definition: ProtocolDefinition) -> str:
    """The protocol's SMS wording, with numbered options for a choice question."""
    text = question.sms.get(language) or question.sms[definition.default_language]
    if question.type == "choice":
        text = f"{text} {format_choices(question.choice_labels(), language)}"
    return text


def _addressed(*, patient: Patient, text: str) -> str:
    # On a phone several patients share, each question says whose it is (H5).
    return f"{patient.given_name}: {text}" if phone_is_shared(patient=patient) else text


# --- starting and reminding ------------------------------------------------------------------


def _link_invite(*, scheduled_check_in: ScheduledCheckIn, texts: dict[str, str], kind: MessageKind) -> OutgoingMessage:
    patient = scheduled_check_in.patient
    text = texts.get(patient.language, texts["en"])
    body = text.format(clinic=patient.clinic.name, link=checkin_link_url(scheduled_check_in_id=scheduled_check_in.pk))
    return sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body=body,
        kind=kind,
        idempotency_key=f"checkin-{kind}:{scheduled_check_in.pk}",
        patient=patient,
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
    patient = conversation.patient
    text = question_text(question=question, language=conversation.language, definition=definition)
    body = _addressed(patient=patient, text=f"{prefix}\n{text}" if prefix else text)
    return sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body=body,
        kind=kind,
        idempotency_key=f"sms-conversation:{conversation.pk}:{key}",
        patient=patient,
        question_id=question.id,
        conversation_id=conversation.pk,
    )


def _end_binding(*, patient: Patient) -> None:
    """A phone's "who is answering" choice stops applying: a new check-in starts for
    someone on it, or the chosen patient's conversation ended."""
    SharedPhoneChoice.objects.filter(phone=str(patient.phone), expires_at__gt=timezone.now()).update(
        expires_at=timezone.now()
    )


def conversation_end(*, conversation: SmsConversation, state: SmsConversation.State) -> None:
    conversation.state = state
    conversation.ended_at = timezone.now()
    conversation.save(update_fields=["state", "ended_at"])
    if phone_is_shared(patient=conversation.patient):
        _end_binding(patient=conversation.patient)


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
        enrollment = scheduled.enrollment or enrollment_active_for(patient=patient)
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
            # One conversation at a time, or a reply could not say which it answers.
            conversation_end(conversation=previous, state=SmsConversation.State.SUPERSEDED)
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
            _end_binding(patient=patient)
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


def _remaining(conversation: SmsConversation, definition: ProtocolDefinition) -> list[Question]:
    return questions_to_ask(
        definition,
        conversation.phase,  # type: ignore[arg-type]
        conversation.answers,
        conversation.drain_at_discharge,
        conversation.has_pulse_device,
        skipped=conversation.skipped,
    )


def _reply(
    *, conversation: SmsConversation, key: str, body: str, kind: MessageKind, **extra: object
) -> OutgoingMessage:
    patient = conversation.patient
    return sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body=_addressed(patient=patient, text=body),
        kind=kind,
        idempotency_key=f"sms-conversation:{conversation.pk}:{key}",
        patient=patient,
        conversation_id=conversation.pk,
        **extra,  # type: ignore[arg-type]
    )


def conversation_reply(*, conversation: SmsConversation, inbound: InboundMessage) -> None:
    """Move ``conversation`` one step with the patient's reply ``inbound``.

    The caller holds the conversation row lock inside the webhook's transaction."""
    definition = protocol_definition(conversation.protocol_version)
    question = definition.question(conversation.current_question)
    now = timezone.now()
    try:
        parsed = parse_reply(
            inbound.body,
            qtype=question.type,
            language=conversation.language,
            minimum=question.min,
            maximum=question.max,
            choices=question.choice_labels(),
            unit=question.unit,
        )
        value, error = validate_answer(question, parsed)
        if error is not None:
            raise ReplyNotUnderstood(error, kind="out_of_range")
    except ReplyNotUnderstood:
        _not_understood(conversation=conversation, question=question, definition=definition, inbound=inbound)
        return

    conversation.answers = {**conversation.answers, question.id: value}
    conversation.reask_count = 0
    conversation.last_answer_at = now
    _next(conversation=conversation, definition=definition, inbound=inbound)


def _not_understood(
    *, conversation: SmsConversation, question: Question, definition: ProtocolDefinition, inbound: InboundMessage
) -> None:
    conversation.reask_count += 1
    language = conversation.language
    if conversation.reask_count == 1:
        conversation.save(update_fields=["reask_count"])
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
    if not question.required:
        # An optional answer is not worth losing the check-in over.
        conversation.skipped = [*conversation.skipped, question.id]
        conversation.reask_count = 0
        _next(conversation=conversation, definition=definition, inbound=inbound)
        return
    conversation.save(update_fields=["reask_count"])
    _hand_to_nurse(
        conversation=conversation,
        definition=definition,
        reason=f"no readable answer to '{question.label}' after two tries",
    )


def _hand_to_nurse(*, conversation: SmsConversation, definition: ProtocolDefinition, reason: str) -> None:
    """End the conversation unfinished: the answers stay on it, a nurse is asked to
    call (the item lists what was answered, so a yes to a warning sign shows at
    once), and the patient is told a nurse will call and how to reach the clinic."""
    conversation_end(conversation=conversation, state=SmsConversation.State.INCOMPLETE)
    patient = conversation.patient
    given = ", ".join(f"{key}={value}" for key, value in conversation.answers.items()) or "none"
    item = WorklistItem.objects.create(
        patient=patient,
        clinic_id=patient.clinic_id,
        kind=WorklistItem.Kind.PATIENT_MESSAGE,
        severity="amber",
        scheduled_check_in_id=conversation.scheduled_check_in_id,
        detail=f"SMS check-in stopped: {reason}. Please call the patient. Answers given: {given}"[:300],
    )
    audit_record(
        actor=None,
        action=AuditAction.CREATE,
        object_type="worklist_item",
        objects=[(item.pk, patient.pk)],
        clinic_id=patient.clinic_id,
    )
    _reply(
        conversation=conversation,
        key="incomplete",
        body=definition.sms_text("incomplete", conversation.language, **text_values(patient=patient)),
        kind=MessageKind.REPLY,
    )


def _next(*, conversation: SmsConversation, definition: ProtocolDefinition, inbound: InboundMessage) -> None:
    remaining = _remaining(conversation, definition)
    if remaining:
        conversation.current_question = remaining[0].id
        conversation.save(update_fields=["answers", "skipped", "reask_count", "last_answer_at", "current_question"])
        _ask(conversation=conversation, question=remaining[0], definition=definition, key=f"q:{remaining[0].id}")
        return
    conversation.current_question = ""
    conversation.save(update_fields=["answers", "skipped", "reask_count", "last_answer_at", "current_question"])
    _complete(conversation=conversation, definition=definition)


def _complete(*, conversation: SmsConversation, definition: ProtocolDefinition) -> None:
    patient = conversation.patient
    taken_at = conversation.last_answer_at or timezone.now()
    try:
        result = checkin_submit(
            patient=patient,
            answers=dict(conversation.answers),
            scheduled_check_in_id=conversation.scheduled_check_in_id,
            channel="sms",
            taken_at=taken_at,
        )
    except CheckInRejected as rejected:
        if rejected.status_code != 409:
            # Not for want of an answer (each was checked as it came): the patient's
            # follow-up changed under the conversation (enrollment ended, say).
            _hand_to_nurse(conversation=conversation, definition=definition, reason="the check-in path refused it")
            logger.warning("sms conversation %s: check-in refused (%s)", conversation.pk, sorted(rejected.errors))
            return
        # The scheduled check-in closed meanwhile (answered on the web, cancelled by
        # a nurse): the answers are still the patient's and are judged all the same.
        result = checkin_submit(patient=patient, answers=dict(conversation.answers), channel="sms", taken_at=taken_at)
    conversation.check_in = result.check_in
    conversation.save(update_fields=["check_in"])
    conversation_end(conversation=conversation, state=SmsConversation.State.COMPLETED)
    _reply(
        conversation=conversation,
        key="advice",
        body=result.advice,
        kind=MessageKind.ADVICE,
        # H11: red advice that does not arrive makes staff phone the patient.
        reach_alert=result.level == "red",
    )


# --- the window closing ---------------------------------------------------------------------


def conversation_expire(*, conversation_id: int) -> bool:
    """Close a conversation whose check-in window has closed, answers kept.

    The scheduled check-in itself is marked missed by the clock
    (``followup.services.timekeeping``), which also puts the silence on the nurses'
    worklist (H8); see ``followup.sms.expiry``."""
    with transaction.atomic():
        conversation = (
            SmsConversation.objects.select_for_update()
            .select_related("patient")
            .filter(pk=conversation_id, state=SmsConversation.State.ACTIVE, expires_at__lte=timezone.now())
            .first()
        )
        if conversation is None:
            return False
        conversation_end(conversation=conversation, state=SmsConversation.State.EXPIRED)
    return True
