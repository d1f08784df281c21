"""Inbound SMS routing: what a patient's or a staff member's message means.

``notifications.inbound`` stores each message once (delivery's job) and a worker
calls ``inbound_route`` inside the transaction that marks it handled, the phone's
oldest unhandled message first. The patients on the sender's number are locked here
too: two quick replies from one phone are taken one after the other, each against the
question the previous one left. A message whose handling failed every try comes to
``inbound_failure_record``: the nurses read it (H16).

Routing, in order:
1. An on-call number's ``ACK <code>`` acknowledges that alert, by that person, through
   the same service as the dashboard (escalation stops).
2. Keywords, at any time and in any case (the carriers' English words and the
   protocol's words in every language): STOP opts every patient on the number out
   (confirmed once), START opts them back in, HELP answers with the clinic's name and
   phone and how to stop, and changes nothing.
3. The number is matched to patients in E.164: of the clinic whose sending identity
   was texted (``inbound.clinic``, set when the message was stored), or of any clinic
   when the installation's own number was texted. No patient: a short reply naming
   the clinic and its phone, and nothing else is kept. Several (a family
   phone, H5): "who is answering?" with their given names, numbered, and the message
   is held - recorded for nobody - until the sender picks.
4. For the patient: a reply inside an active conversation is its next step; a YES to
   a recall texted lately confirms it; anything else is free text, kept and put on
   the nurses' worklist.

Every reply goes through the outbox (recorded, tracked, listed in the history), from
the number the patient texted when it is one of the clinic's sending identities. A
reply answers the patient's own message, so quiet hours do not hold it.

Which clinic a message is for: the one whose sending identity was texted (the form's
``To``), and then a phone known at two clinics is only ever that clinic's patient
there: clinic A's patient never lands in clinic B's conversation or worklist. A ``To``
that is no clinic's identity (the installation's ``TWILIO_FROM_NUMBER``) matches
patients of every clinic as before, and a stranger hears from the first clinic.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_noop

from backend.audit import audit_record
from backend.models import STAFF_ROLES, AuditAction, Clinic, Patient, User
from backend.patient_texts import patient_text
from backend.staff_texts import staff_text
from followup.models import Alert, WorklistItem
from followup.protocols import ProtocolDefinition
from followup.selectors import active_enrollment
from followup.services.alert_review import alert_acknowledge
from followup.services.alerts import AlertConflict
from followup.services.protocols import protocol_definition, protocol_version_current
from followup.services.triage import clinic_phone_display
from followup.sms.conversations import conversation_expire, conversation_reply
from followup.sms.endings import conversation_finish
from followup.sms.outgoing import text_values
from followup.sms.reading import ReplyNotUnderstood, format_choices, match_ack, match_keyword, parse_reply
from followup.sms.recalls import recall_awaiting_reply, recall_confirm
from followup.sms.texts import (
    ACK_ALREADY,
    ACK_DONE,
    ACK_RESOLVED,
    ACK_UNKNOWN,
    FREE_TEXT_RECEIVED,
    STAFF_HELP,
    UNKNOWN_SENDER,
    language_for_number,
)
from notifications.models import (
    InboundMessage,
    MessageHistoryEntry,
    MessageKind,
    OutgoingMessage,
    SharedPhoneChoice,
    SmsConversation,
)
from notifications.services import sms_enqueue

logger = logging.getLogger(__name__)

HandledAs = InboundMessage.HandledAs
DEFAULT_PROTOCOL = "post-hepatectomy"
# How long a family phone's "who is answering" pick holds after its last message, and
# how long a question waits for the pick.
CHOICE_HOLDS_FOR = timedelta(hours=2)
CHOICE_ASKED_FOR = timedelta(hours=24)
# One "a nurse will read it" per patient per hour, however many texts they send.
FREE_TEXT_REPLY_EVERY = timedelta(hours=1)
# A stranger texting again and again gets one answer a day.
STRANGER_REPLY_EVERY = timedelta(days=1)
UNRESOLVED = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED)
# Worklist texts, stored in English whoever wrote them (H17); the staff pages say them
# again in the reader's language (followup.dashboard.worklist_texts).
SMS_MESSAGE_DETAIL = gettext_noop("SMS from the patient: %(body)s")
UNHANDLED_DETAIL = gettext_noop(
    "An SMS from this patient's phone could not be processed automatically: its answers were not read "
    "or judged. Read it and phone the patient: %(body)s"
)


def _staff_on(phone: str, *, clinic_id: int | None) -> list[User]:
    staff = User.objects.filter(phone=phone, is_active=True, role__in=STAFF_ROLES, clinic__isnull=False)
    if clinic_id is not None:
        staff = staff.filter(clinic_id=clinic_id)
    return list(staff.order_by("id"))


def _patients_on(phone: str, *, clinic_id: int | None, lock: bool = False) -> list[Patient]:
    """The patients on a phone: the texted clinic's only, when it was a clinic's number."""
    patients = Patient.objects.select_for_update() if lock else Patient.objects.all()
    patients = patients.filter(phone=phone)
    if clinic_id is not None:
        patients = patients.filter(clinic_id=clinic_id)
    return list(patients.select_related("clinic").order_by("id"))


def _definition_for(patient: Patient | None) -> ProtocolDefinition:
    """The patient's protocol version (their keywords and texts), else the current one."""
    enrollment = active_enrollment(patient_id=patient.pk) if patient is not None else None
    version = enrollment.protocol_version if enrollment is not None else protocol_version_current(DEFAULT_PROTOCOL)
    return protocol_definition(version)


# --- routing (the hook notifications.inbound calls) ----------------------------------------


def inbound_route(*, inbound: InboundMessage, sender: str | None, body: str) -> str:
    """Route one claimed inbound message (see the module doc); returns how it was handled.

    Called by ``notifications.inbound`` in a worker, inside its transaction, the row
    locked (``VIGIL_SMS_INBOUND_ROUTER``)."""
    if sender is None:
        return HandledAs.UNKNOWN_NUMBER  # nothing to answer to
    # The clinic whose sending identity was texted, if it was one (set when stored).
    addressed = inbound.clinic_id
    # Locked: one phone's messages are taken one at a time (see the module doc).
    patients = _patients_on(sender, clinic_id=addressed, lock=True)
    staff = _staff_on(sender, clinic_id=addressed)
    if staff:
        code = match_ack(body)
        if code is not None:
            return _staff_ack(inbound=inbound, staff=staff, code=code, sender=sender)

    definition = _definition_for(patients[0] if patients else None)
    keyword = match_keyword(body, extra=definition.keywords().as_mapping())
    if staff and not patients:
        inbound.staff_user = staff[0]
        inbound.clinic_id = staff[0].clinic_id
        if keyword != "stop":  # never text back someone who said STOP
            _staff_reply(
                inbound=inbound, user=staff[0], sender=sender, body=staff_text(user=staff[0], message=STAFF_HELP)
            )
        return HandledAs.STAFF_OTHER
    if not patients:
        return _stranger(inbound=inbound, sender=sender, keyword=keyword)
    if keyword is not None:
        return _keyword(inbound=inbound, keyword=keyword, patients=patients, definition=definition)
    if len(patients) == 1:
        return patient_message(inbound=inbound, patient=patients[0])
    return _shared_phone(inbound=inbound, sender=sender, patients=patients, definition=definition)


# --- staff --------------------------------------------------------------------------------------


def _staff_reply(*, inbound: InboundMessage, user: User, sender: str, body: str) -> None:
    assert user.clinic_id is not None
    sms_enqueue(
        clinic_id=user.clinic_id,
        to_phone=sender,
        body=body,
        kind=MessageKind.REPLY,
        idempotency_key=f"inbound-reply:{inbound.pk}",
        staff_user=user,
        sent_from=inbound.to_phone,
    )


def _staff_ack(*, inbound: InboundMessage, staff: list[User], code: str, sender: str) -> str:
    """``ACK <code>`` from an on-call phone: the same acknowledgement as the dashboard."""
    clinics = {user.clinic_id: user for user in staff}
    alerts = Alert.objects.filter(ack_code=code, clinic_id__in=clinics).order_by("-created_at")
    alert = alerts.filter(status__in=UNRESOLVED).first() or alerts.first()
    user = clinics[alert.clinic_id] if alert is not None else staff[0]
    inbound.staff_user = user
    inbound.clinic_id = user.clinic_id
    if alert is None:
        text = ACK_UNKNOWN
    elif alert.status == Alert.Status.ACKNOWLEDGED:
        text = ACK_ALREADY
    else:
        try:
            alert_acknowledge(alert=alert, by=user)
            text = ACK_DONE
        except AlertConflict:
            text = ACK_RESOLVED
    _staff_reply(inbound=inbound, user=user, sender=sender, body=staff_text(user=user, message=text, code=code))
    return HandledAs.ACK


# --- strangers and keywords ---------------------------------------------------------------------


def _stranger_language(*, sender: str, clinic: Clinic) -> str:
    """The language of the sender's country (+90 Turkish, +994 Azerbaijani, ...), else
    the clinic's default language."""
    language = language_for_number(sender)
    # No calling code maps to English: "en" means the country is not one of ours.
    return language if language != "en" else (clinic.default_language or "en")


def _stranger(*, inbound: InboundMessage, sender: str, keyword: str | None) -> str:
    """A number that matches no patient of the clinic texted: tell them whom to call,
    from the number they texted, and keep nothing else."""
    if inbound.clinic_id is not None:
        clinic = Clinic.objects.filter(pk=inbound.clinic_id).first()
    else:
        clinic = Clinic.objects.order_by("id").first()  # the installation's number
    if clinic is None or keyword == "stop":
        return HandledAs.UNKNOWN_NUMBER  # never text back someone who said STOP
    recently = OutgoingMessage.objects.filter(
        clinic=clinic,
        to_phone=sender,
        kind=MessageKind.REPLY,
        patient__isnull=True,
        staff_user__isnull=True,
        created_at__gte=timezone.now() - STRANGER_REPLY_EVERY,
    ).exists()
    if not recently:
        text = patient_text(
            language=_stranger_language(sender=sender, clinic=clinic),
            message=UNKNOWN_SENDER,
            clinic=clinic.name,
            phone=clinic_phone_display(clinic=clinic),
        )
        sms_enqueue(
            clinic_id=clinic.pk,
            to_phone=sender,
            body=text,
            kind=MessageKind.REPLY,
            idempotency_key=f"inbound-reply:{inbound.pk}",
            sent_from=inbound.to_phone,
        )
    return HandledAs.UNKNOWN_NUMBER


def _attribute(*, inbound: InboundMessage, patient: Patient) -> None:
    """The message is this patient's: it joins their history (once)."""
    inbound.patient = patient
    inbound.clinic_id = patient.clinic_id
    # Once per message and patient: a message is processed once.
    MessageHistoryEntry.objects.create(
        patient=patient, inbound=inbound, direction=MessageHistoryEntry.Direction.INBOUND
    )


def _keyword_reply(*, inbound: InboundMessage, patient: Patient, key: str, definition: ProtocolDefinition) -> None:
    sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body=definition.sms_text(key, patient.language, **text_values(patient=patient)),
        kind=MessageKind.KEYWORD_REPLY,
        idempotency_key=f"inbound-reply:{inbound.pk}",
        patient=patient,
        sent_from=inbound.to_phone,
        # STOP's confirmation and HELP's answer reach an opted-out patient (carriers
        # require both); nothing else does.
        opt_out_exempt=key in ("stop", "help"),
    )


def _keyword(*, inbound: InboundMessage, keyword: str, patients: list[Patient], definition: ProtocolDefinition) -> str:
    """STOP / START / HELP apply to the phone number: every patient on it."""
    for patient in patients:
        _attribute(inbound=inbound, patient=patient)
    if len(patients) > 1:
        inbound.patient = None  # the number's message, not one patient's
    first = patients[0]
    if keyword == "help":
        _keyword_reply(inbound=inbound, patient=first, key="help", definition=definition)
        return HandledAs.HELP

    now = timezone.now()
    stop = keyword == "stop"
    changed = [patient for patient in patients if (patient.sms_opted_out_at is None) == stop]
    for patient in changed:
        patient.sms_opted_out_at = now if stop else None
        patient.save(update_fields=["sms_opted_out_at", "updated_at"])
        audit_record(
            actor=patient.user if patient.user_id else None,
            action=AuditAction.UPDATE,
            object_type="patient_sms_opt_out",
            objects=[(patient.pk, patient.pk)],
            clinic_id=patient.clinic_id,
        )
    if stop:
        for conversation in SmsConversation.objects.select_for_update().filter(
            patient__in=patients, state=SmsConversation.State.ACTIVE
        ):
            # What was answered before STOP is stored and judged all the same (H16).
            conversation_finish(conversation=conversation, state=SmsConversation.State.STOPPED)
        if changed:  # confirmed once; a second STOP gets no answer
            _keyword_reply(inbound=inbound, patient=changed[0], key="stop", definition=definition)
        return HandledAs.STOP
    _keyword_reply(inbound=inbound, patient=first, key="start", definition=definition)
    return HandledAs.START


# --- a phone several patients share (H5) -------------------------------------------------------------


def _choice_options(patients: list[Patient], language: str) -> list[tuple[str, dict[str, str]]]:
    several_clinics = len({patient.clinic_id for patient in patients}) > 1
    options = []
    for patient in patients:
        label = f"{patient.given_name} ({patient.clinic.name})" if several_clinics else patient.given_name
        options.append((str(patient.pk), {language: label, "en": label}))
    return options


def _shared_phone(
    *, inbound: InboundMessage, sender: str, patients: list[Patient], definition: ProtocolDefinition
) -> str:
    now = timezone.now()
    by_id = {patient.pk: patient for patient in patients}
    # The texted clinic's own choice (each clinic asks its own patients).
    choice = (
        SharedPhoneChoice.objects.select_for_update()
        .filter(phone=sender, clinic_id=inbound.clinic_id, expires_at__gt=now)
        .order_by("-id")
        .first()
    )
    if choice is not None and choice.chosen_patient_id in by_id:
        choice.expires_at = now + CHOICE_HOLDS_FOR
        choice.save(update_fields=["expires_at"])
        return patient_message(inbound=inbound, patient=by_id[choice.chosen_patient_id])

    if choice is not None and choice.chosen_patient_id is None:
        offered = [by_id[pk] for pk in choice.candidates if pk in by_id]
        picked = _picked(body=inbound.body, offered=offered, language=choice.language)
        if picked is not None:
            choice.chosen_patient = picked
            choice.chosen_at = now
            choice.expires_at = now + CHOICE_HOLDS_FOR
            choice.save(update_fields=["chosen_patient", "chosen_at", "expires_at"])
            _attribute(inbound=inbound, patient=picked)
            # Now, and only now, the held messages are recorded - for the one named.
            for held in InboundMessage.objects.select_for_update().filter(pk__in=choice.held).order_by("id"):
                if held.handled_as == HandledAs.HELD:
                    held.handled_as = patient_message(inbound=held, patient=picked)
                    held.save(update_fields=["handled_as", "patient", "clinic", "conversation"])
            return HandledAs.PATIENT_CHOICE
        choice.held = [*choice.held, inbound.pk]
        choice.save(update_fields=["held"])
    else:
        offered = patients
        choice = SharedPhoneChoice.objects.create(
            phone=sender,
            clinic_id=inbound.clinic_id,
            candidates=[patient.pk for patient in patients],
            held=[inbound.pk],
            language=patients[0].language,
            expires_at=now + CHOICE_ASKED_FOR,
        )
    first = offered[0] if offered else patients[0]
    options = format_choices(_choice_options(offered or patients, choice.language), choice.language)
    sms_enqueue(
        clinic_id=first.clinic_id,
        to_phone=sender,
        body=definition.sms_text("which_patient", choice.language, options=options, **text_values(patient=first)),
        kind=MessageKind.REPLY,
        idempotency_key=f"inbound-reply:{inbound.pk}",
        sent_from=inbound.to_phone,
    )
    return HandledAs.HELD


def _picked(*, body: str, offered: list[Patient], language: str) -> Patient | None:
    if not offered:
        return None
    try:
        value = parse_reply(body, qtype="choice", language=language, choices=_choice_options(offered, language))
    except ReplyNotUnderstood:
        return None
    return next(patient for patient in offered if str(patient.pk) == value)


# --- one patient's message ----------------------------------------------------------------------------


def patient_message(*, inbound: InboundMessage, patient: Patient) -> str:
    """Handle a message known to come from ``patient``; returns how it was handled."""
    _attribute(inbound=inbound, patient=patient)
    body = inbound.body
    conversation = (
        SmsConversation.objects.select_for_update()
        .select_related("patient__clinic", "protocol_version__protocol")
        .filter(patient=patient, state=SmsConversation.State.ACTIVE)
        .first()
    )
    if conversation is not None and conversation.expires_at <= timezone.now():
        # The window closed before the expiry task got to it: the check-in is missed,
        # and this message is free text for the nurses.
        conversation_expire(conversation_id=conversation.pk)
        conversation = None
    if conversation is not None:
        inbound.conversation = conversation
        conversation_reply(conversation=conversation, inbound=inbound)
        return HandledAs.ANSWER

    recall = recall_awaiting_reply(patient=patient)
    if recall is not None:
        try:
            yes = parse_reply(body, qtype="boolean", language=patient.language)
        except ReplyNotUnderstood:
            yes = False
        if yes and recall_confirm(appointment=recall, patient=patient, reply_key=f"inbound-reply:{inbound.pk}"):
            return HandledAs.RECALL_CONFIRMATION

    _free_text(inbound=inbound, patient=patient)
    return HandledAs.FREE_TEXT


def _free_text(*, inbound: InboundMessage, patient: Patient) -> None:
    """A message outside any conversation: a nurse reads it. The patient's messages are
    a thread (``MessageHistoryEntry``, each its own row, in order); the open item that
    points the nurses to it is bumped, never rewritten, so what an earlier message or a
    hand-over listed stays as it was (H17). With no open item, a new one opens."""
    now = timezone.now()
    item = (
        WorklistItem.objects.select_for_update()
        .filter(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE, status=WorklistItem.Status.OPEN)
        .order_by("-id")
        .first()
    )
    if item is None:
        item = WorklistItem.objects.create(
            patient=patient,
            clinic_id=patient.clinic_id,
            kind=WorklistItem.Kind.PATIENT_MESSAGE,
            severity="amber",
            detail=(SMS_MESSAGE_DETAIL % {"body": inbound.body})[:1000],
        )
        action = AuditAction.CREATE
    else:
        item.bumped_at = now
        item.save(update_fields=["bumped_at"])
        action = AuditAction.UPDATE
    audit_record(
        actor=None,
        action=action,
        object_type="worklist_item",
        objects=[(item.pk, patient.pk)],
        clinic_id=patient.clinic_id,
    )
    answered_lately = OutgoingMessage.objects.filter(
        patient=patient,
        idempotency_key__startswith="free-text-reply:",
        created_at__gte=timezone.now() - FREE_TEXT_REPLY_EVERY,
    ).exists()
    if not answered_lately:
        sms_enqueue(
            clinic_id=patient.clinic_id,
            to_phone=str(patient.phone),
            body=patient_text(language=patient.language, message=FREE_TEXT_RECEIVED, **text_values(patient=patient)),
            kind=MessageKind.REPLY,
            idempotency_key=f"free-text-reply:{inbound.pk}",
            patient=patient,
            sent_from=inbound.to_phone,
        )


# --- a message that could not be handled (VIGIL_SMS_INBOUND_FAILED_HANDLER) --------------------


def inbound_failure_record(*, inbound: InboundMessage) -> bool:
    """Put a message whose handling failed every try before the nurses of each patient
    on its number; whether anyone was told. Red: it may hold a warning sign that was
    never read or judged (H16), so a nurse reads it and phones. Called by
    ``notifications.inbound`` inside its transaction, the row locked. On a shared
    phone the message is nobody's until a nurse knows who wrote (H5); sent to a
    clinic's number, it is only that clinic's patients'."""
    if not inbound.from_phone:
        return False
    patients = _patients_on(inbound.from_phone, clinic_id=inbound.clinic_id)
    if len(patients) == 1:
        _attribute(inbound=inbound, patient=patients[0])
    for patient in patients:
        item = WorklistItem.objects.create(
            patient=patient,
            clinic_id=patient.clinic_id,
            kind=WorklistItem.Kind.PATIENT_MESSAGE,
            severity="red",
            detail=(UNHANDLED_DETAIL % {"body": inbound.body})[:1000],
        )
        audit_record(
            actor=None,
            action=AuditAction.CREATE,
            object_type="worklist_item",
            objects=[(item.pk, patient.pk)],
            clinic_id=patient.clinic_id,
        )
    return bool(patients)
