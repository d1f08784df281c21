"""Inbound SMS, delivery's side: store each message once, handle it in a worker.

The webhook calls ``inbound_store``: one short transaction inserts the row (unique on
the ``MessageSid``, so a message Twilio delivers twice is stored once) and, once it is
committed, asks a worker to handle it (``sms_inbound_handle``, carrying the id only).
Twilio gets its empty TwiML at once; nothing else runs in the request.

``inbound_handle`` (the worker) gives these guarantees:

- **Once.** A row is handled in the transaction that marks it ``processed_at``, under
  its row lock; a task that finds its row handled (a redelivery, a sweep, Twilio's
  retry) does nothing.
- **In arrival order per phone.** A worker does not take its own row: it locks the
  oldest unhandled row of the sender's number, handles it, and goes on until its own
  row is done. A second worker holding a later row of the same phone waits on that
  lock, so two replies to a conversation are read against the questions in the order
  they came, whatever order the tasks run in.
- **Never dropped.** A failed try rolls back and is counted on the row; the task tries
  again with backoff. After ``MAX_HANDLING_ATTEMPTS`` the row is given up
  (``handling_failed_at``) and put before staff through the hook
  ``VIGIL_SMS_INBOUND_FAILED_HANDLER`` (H16: it may hold a warning sign nobody judged),
  and the phone's later messages go on. A row whose task never ran (broker or worker
  down) is re-driven by ``inbound_sweep_run`` (celery beat).

What a message means (a check-in answer, STOP, an on-call ACK, free text) is follow-up
logic: the router is named in settings (``VIGIL_SMS_INBOUND_ROUTER``), so delivery
imports nothing from the follow-up app. Logs name row ids and exception classes,
never numbers or bodies (H13). A number that matches nobody keeps nothing but the
claim once handled: no number, no body.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from backend.models import STAFF_ROLES, Patient, User
from config.celery import app as celery_app
from notifications.hooks import inbound_route, inbound_unhandled
from notifications.identities import addressed_clinic_expression
from notifications.models import InboundMessage

logger = logging.getLogger(__name__)

# Named, not imported: the tasks module imports this one.
INBOUND_HANDLE_TASK = "notifications.tasks.sms_inbound_handle"
# Tries of one message's handling before staff are told (about 75 s of backoff).
MAX_HANDLING_ATTEMPTS = 5
RETRY_FIRST_SECONDS = 5.0
RETRY_CAP_SECONDS = 60.0
# An unhandled row older than this has lost its task (broker down, worker killed
# before acknowledging is redelivered by the broker only after its visibility timeout).
LOST_TASK_AFTER = timedelta(seconds=15)
SWEEP_BATCH = 500

HandledAs = InboundMessage.HandledAs


def phone_e164(value: str) -> str | None:
    """The number in E.164, or None for what is not a phone number (a short code)."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def retry_seconds(attempts: int) -> float:
    """Backoff before the next try, after ``attempts`` failed ones."""
    return min(RETRY_CAP_SECONDS, RETRY_FIRST_SECONDS * 2 ** max(0, attempts - 1))


def inbound_task_schedule(*, inbound_id: int, countdown: float | None = None) -> None:
    """Ask a worker to handle one stored message. Carries the id only."""
    celery_app.send_task(INBOUND_HANDLE_TASK, args=[inbound_id], countdown=countdown)


def _schedule_after_commit(inbound_id: int) -> None:
    # robust: with the broker down the row is stored all the same and Twilio gets its
    # answer; the error is logged and the sweep hands the row to a worker later.
    transaction.on_commit(lambda: inbound_task_schedule(inbound_id=inbound_id), robust=True)


# --- the webhook's part ----------------------------------------------------------------------


def inbound_store(
    *, message_sid: str, from_phone: str, to_phone: str, body: str, messaging_service_sid: str = ""
) -> InboundMessage:
    """Store one inbound SMS (once per ``message_sid``) and queue its handling.

    The row's clinic is set in the same INSERT when ``to_phone`` (or the Messaging
    Service it came through) is a clinic's sending identity: the router then matches
    only that clinic's patients and staff."""
    sender = phone_e164(from_phone)
    to = phone_e164(to_phone) or to_phone[:20]
    addressed = addressed_clinic_expression(to_phone=to, messaging_service_sid=messaging_service_sid[:34])
    try:
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                message_sid=message_sid,
                to_phone=to,
                from_phone=sender or "",
                body=body,
                **({"clinic_id": addressed} if addressed is not None else {}),
            )
            # The instance holds the subquery, not its value: made a deferred field,
            # read from the row if anyone asks.
            inbound.__dict__.pop("clinic_id", None)
            _schedule_after_commit(inbound.pk)
    except IntegrityError:
        # Twilio's retry of a message we have: stored once. If it is still waiting
        # (its task lost), ask again; handling twice is impossible anyway.
        inbound = InboundMessage.objects.get(message_sid=message_sid)
        if inbound.processed_at is None and inbound.handling_failed_at is None:
            _schedule_after_commit(inbound.pk)
    return inbound


# --- the worker's part ------------------------------------------------------------------------


@dataclass(frozen=True)
class HandlingOutcome:
    handled: int  # rows this call handled (the phone's older ones included)
    retry_in: float | None = None  # a row failed and will be tried again after this


def _oldest_unhandled_locked(*, inbound_id: int, phone: str) -> InboundMessage | None:
    """The phone's oldest row still to be handled, up to ``inbound_id``, locked."""
    rows = InboundMessage.objects.select_for_update().filter(processed_at__isnull=True, handling_failed_at__isnull=True)
    # Without a number there is no phone to keep in order with: the row alone.
    rows = rows.filter(from_phone=phone, id__lte=inbound_id) if phone else rows.filter(pk=inbound_id)
    return rows.order_by("id").first()


def _route(inbound: InboundMessage) -> None:
    """Handle one locked row through the router and mark it handled."""
    inbound.handled_as = inbound_route(inbound=inbound, sender=inbound.from_phone or None, body=inbound.body)
    inbound.processed_at = timezone.now()
    fields = ["handled_as", "processed_at", "patient", "clinic", "staff_user", "conversation"]
    if inbound.handled_as == HandledAs.UNKNOWN_NUMBER:
        # A number that matches nobody: only the claim is kept.
        inbound.from_phone, inbound.body = "", ""
        fields += ["from_phone", "body"]
    inbound.save(update_fields=fields)


def inbound_handle(*, inbound_id: int) -> HandlingOutcome:
    """Handle ``inbound_id`` and, first, every older unhandled row of its phone.

    Returns how many rows were handled, and when to try again if one failed and is
    not yet given up. A row already handled is a no-op."""
    phone = InboundMessage.objects.filter(pk=inbound_id).values_list("from_phone", flat=True).first()
    if phone is None:
        return HandlingOutcome(handled=0)
    handled = 0
    while True:
        current: int | None = None
        try:
            with transaction.atomic():
                inbound = _oldest_unhandled_locked(inbound_id=inbound_id, phone=phone)
                if inbound is None:
                    return HandlingOutcome(handled=handled)  # ours is handled (by us or another worker)
                current = inbound.pk
                _route(inbound)
            logger.info("inbound sms %s handled as %s", inbound.pk, inbound.handled_as)
            handled += 1
        except Exception as error:
            if current is None:
                raise  # not the message's fault (the database is away): the task retries
            attempts = _failure_record(inbound_id=current, error=error)
            if attempts is not None:
                return HandlingOutcome(handled=handled, retry_in=retry_seconds(attempts))
            # Given up and put before staff: the phone's next message goes on.


def _failure_record(*, inbound_id: int, error: Exception) -> int | None:
    """Count a failed try on the row; the tries so far, or None when it is given up."""
    now = timezone.now()
    with transaction.atomic():
        inbound = (
            InboundMessage.objects.select_for_update()
            .filter(pk=inbound_id, processed_at__isnull=True, handling_failed_at__isnull=True)
            .first()
        )
        if inbound is None:
            return None  # settled meanwhile by another worker
        inbound.handling_attempts += 1
        inbound.handling_attempted_at = now
        inbound.handling_error = type(error).__name__[:100]
        fields = ["handling_attempts", "handling_attempted_at", "handling_error"]
        given_up = inbound.handling_attempts >= MAX_HANDLING_ATTEMPTS
        if given_up:
            _give_up(inbound, now=now)
            fields += ["handling_failed_at", "handled_as", "patient", "clinic", "from_phone", "body"]
        inbound.save(update_fields=fields)
    # The class only: an exception's text may quote the message (H13).
    logger.log(
        logging.ERROR if given_up else logging.WARNING,
        "inbound sms %s: handling failed (%s), try %s of %s%s",
        inbound_id,
        inbound.handling_error,
        inbound.handling_attempts,
        MAX_HANDLING_ATTEMPTS,
        ": given up, put before staff" if given_up else "",
    )
    return None if given_up else inbound.handling_attempts


def _give_up(inbound: InboundMessage, *, now: datetime) -> None:
    inbound.handling_failed_at = now
    inbound.handled_as = HandledAs.FAILED
    told = inbound_unhandled(inbound=inbound)
    if not told and not _known(inbound.from_phone, clinic_id=inbound.clinic_id):
        inbound.from_phone, inbound.body = "", ""  # nobody's message: only the claim is kept


def _known(phone: str, *, clinic_id: int | None) -> bool:
    """Whether the phone is a patient's or a staff member's (of the clinic whose number
    was texted, when it was one)."""
    if not phone:
        return False
    patients = Patient.objects.filter(phone=phone)
    staff = User.objects.filter(phone=phone, is_active=True, role__in=STAFF_ROLES, clinic__isnull=False)
    if clinic_id is not None:
        patients, staff = patients.filter(clinic_id=clinic_id), staff.filter(clinic_id=clinic_id)
    return patients.exists() or staff.exists()


# --- the sweep (celery beat) ----------------------------------------------------------------------


def inbound_sweep_run() -> int:
    """Hand to a worker every row left unhandled for longer than ``LOST_TASK_AFTER``
    (its task never ran: broker down, worker gone) and not in a retry's backoff.
    Returns how many were re-driven."""
    now = timezone.now()
    waiting = list(
        InboundMessage.objects.filter(
            Q(handling_attempted_at__isnull=True)
            | Q(handling_attempted_at__lte=now - timedelta(seconds=RETRY_CAP_SECONDS)),
            processed_at__isnull=True,
            handling_failed_at__isnull=True,
            received_at__lte=now - LOST_TASK_AFTER,
        )
        .order_by("id")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for inbound_id in waiting:
        inbound_task_schedule(inbound_id=inbound_id)
    if waiting:
        logger.info("inbound sweep: %s unhandled messages re-driven", len(waiting))
    return len(waiting)
