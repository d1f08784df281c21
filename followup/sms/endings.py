"""However an SMS conversation ends, nothing the patient answered is dropped (H16).

Completed, handed to a nurse (three unreadable replies in a row, or the patient asked
for a call), the window closed, STOP in the middle, the follow-up ended, a newer
check-in started, or the same check-in answered on the web or in the app: each way
goes through ``conversation_finish``, which stores what was answered as a check-in
(``complete`` false, with the questions left unanswered) down the normal check-in path
- validation, rules, alerts, events, audit - and puts a nurse's item on the worklist
listing the answers and what is missing. Red answers were already acted on as they
came (``followup.services.early_findings``); the stored check-in joins those alerts.
"""

from __future__ import annotations

import logging

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from backend.audit import audit_record
from backend.models import AuditAction
from followup.models import WorklistItem
from followup.protocols import ProtocolDefinition
from followup.protocols.answers import questions_to_ask
from followup.services.checkins import CheckInRejected, CheckInResult, checkin_submit
from followup.services.protocols import protocol_definition
from followup.sms.outgoing import conversation_send, phone_is_shared, text_values
from followup.sms.recalls import recall_sms_after_conversation
from notifications.models import MessageKind, SharedPhoneChoice, SmsConversation

logger = logging.getLogger(__name__)

State = SmsConversation.State

# Why the conversation ended, for the nurse's item.
END_REASONS: dict[str, str] = {
    State.COMPLETED: gettext_noop("some questions could not be read twice and were left unanswered"),
    State.EXPIRED: gettext_noop("the check-in window closed before every question was answered"),
    State.STOPPED: gettext_noop("the patient texted STOP"),
    State.SUPERSEDED: gettext_noop("a newer check-in started before this one was finished"),
    State.ENROLLMENT_ENDED: gettext_noop("the follow-up ended during the check-in"),
}
# The patient is told about these ends in the conversation itself.
TALKING_ENDS = (State.COMPLETED, State.HANDED_OVER)


def _binding_end(*, conversation: SmsConversation) -> None:
    """A phone's "who is answering" choice stops applying when the chosen patient's
    conversation ends (H5)."""
    if phone_is_shared(patient=conversation.patient):
        SharedPhoneChoice.objects.filter(phone=str(conversation.patient.phone), expires_at__gt=timezone.now()).update(
            expires_at=timezone.now()
        )


def _unanswered(*, conversation: SmsConversation, definition: ProtocolDefinition) -> list[str]:
    """Questions asked without an answer, and those the conversation never reached."""
    remaining = questions_to_ask(
        definition,
        conversation.phase,  # type: ignore[arg-type]
        conversation.answers,
        conversation.drain_at_discharge,
        conversation.has_pulse_device,
        skipped=conversation.skipped,
    )
    left = set(conversation.skipped) | {question.id for question in remaining}
    return [question.id for question in definition.questions if question.id in left]


def _store(*, conversation: SmsConversation, unanswered: list[str]) -> CheckInResult | None:
    """The answers given, down the check-in path; None if it refused them (logged, and
    the nurse's item still lists them)."""
    taken_at = conversation.last_answer_at or timezone.now()
    submit = {
        "patient_id": conversation.patient_id,
        "answers": dict(conversation.answers),
        "channel": "sms",
        "taken_at": taken_at,
        "partial": True,
        "unanswered": unanswered,
    }
    try:
        return checkin_submit(scheduled_check_in_id=conversation.scheduled_check_in_id, **submit)
    except CheckInRejected as rejected:
        if rejected.status_code != 409:
            logger.warning("sms conversation %s: check-in refused (%s)", conversation.pk, sorted(rejected.errors))
            return None
    # The scheduled check-in closed meanwhile (missed when the window closed, answered
    # on the web, cancelled by a nurse): the answers are still the patient's.
    try:
        return checkin_submit(scheduled_check_in_id=None, **submit)
    except CheckInRejected as rejected:
        logger.warning("sms conversation %s: check-in refused (%s)", conversation.pk, sorted(rejected.errors))
        return None


def _answer_text(value: object) -> str:
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    return str(value)


def _label(definition: ProtocolDefinition, question_id: str) -> str:
    return definition.question(question_id).label if definition.has_question(question_id) else question_id


def _nurse_item(
    *,
    conversation: SmsConversation,
    definition: ProtocolDefinition,
    reason: str,
    unanswered: list[str],
    result: CheckInResult | None,
) -> WorklistItem:
    patient = conversation.patient
    given = "; ".join(
        f"{_label(definition, key)}: {_answer_text(value)}" for key, value in conversation.answers.items()
    )
    missing = "; ".join(_label(definition, key) for key in unanswered)
    parts = [
        _("SMS check-in ended: %(reason)s. Please call the patient.") % {"reason": _(reason)},
        _("Answers given: %(answers)s.") % {"answers": given or _("none")},
        _("Unanswered: %(questions)s.") % {"questions": missing or _("none")},
    ]
    if result is None:
        parts.append(_("The answers could not be stored as a check-in: read them here."))
    item = WorklistItem.objects.create(
        patient=patient,
        clinic_id=patient.clinic_id,
        kind=WorklistItem.Kind.PATIENT_MESSAGE,
        severity="red" if result is not None and result.level == "red" else "amber",
        scheduled_check_in_id=conversation.scheduled_check_in_id,
        detail=" ".join(parts)[:1000],
    )
    audit_record(
        actor=None,
        action=AuditAction.CREATE,
        object_type="worklist_item",
        objects=[(item.pk, patient.pk)],
        clinic_id=patient.clinic_id,
    )
    return item


def _tell_patient(
    *, conversation: SmsConversation, definition: ProtocolDefinition, result: CheckInResult | None
) -> None:
    patient = conversation.patient
    red = result is not None and result.level == "red"
    if red and not conversation.red_advice_sent:
        # H11: red advice that does not arrive makes staff phone the patient.
        conversation_send(
            conversation=conversation, key="red-advice", body=result.advice, kind=MessageKind.ADVICE, reach_alert=True
        )
        conversation.red_advice_sent = True
        conversation.save(update_fields=["red_advice_sent"])
    if conversation.state == State.HANDED_OVER or result is None:
        body = definition.sms_text("incomplete", conversation.language, **text_values(patient=patient))
        conversation_send(conversation=conversation, key="incomplete", body=body, kind=MessageKind.REPLY)
    elif result is not None and not red:
        conversation_send(conversation=conversation, key="advice", body=result.advice, kind=MessageKind.ADVICE)


def conversation_finish(
    *, conversation: SmsConversation, state: SmsConversation.State, reason: str = ""
) -> CheckInResult | None:
    """End ``conversation`` in ``state`` and store what was answered (see the module
    doc). The caller holds the conversation's row lock in its transaction. ``reason``
    (an English text for staff, translated for the item) overrides the state's own.
    Returns the stored check-in's result, or None when nothing was answered."""
    definition = protocol_definition(conversation.protocol_version)
    unanswered = _unanswered(conversation=conversation, definition=definition)
    conversation.state = state
    conversation.ended_at = timezone.now()
    conversation.current_question = ""
    conversation.save(update_fields=["state", "ended_at", "current_question"])
    _binding_end(conversation=conversation)
    result = _store(conversation=conversation, unanswered=unanswered) if conversation.answers else None
    if result is not None:
        conversation.check_in = result.check_in
        conversation.save(update_fields=["check_in"])
    # A nurse calls when the conversation was handed over, or when answers are missing
    # or could not be stored; an answer given on the web instead needs no call.
    unstored = bool(conversation.answers) and result is None
    wants_call = state == State.HANDED_OVER or unstored or (bool(conversation.answers) and bool(unanswered))
    if wants_call and state != State.REPLACED:
        _nurse_item(
            conversation=conversation,
            definition=definition,
            reason=reason or END_REASONS.get(state, gettext_noop("the check-in ended early")),
            unanswered=unanswered,
            result=result,
        )
    if state in TALKING_ENDS:
        _tell_patient(conversation=conversation, definition=definition, result=result)
    # A recall is never texted into a running conversation (a YES would be read as an
    # answer): the one held back goes now, or, when a newer check-in's conversation
    # starts at once, when that one ends.
    if state != State.SUPERSEDED:
        recall_sms_after_conversation(patient=conversation.patient)
    return result
