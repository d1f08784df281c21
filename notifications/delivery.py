"""Outbox delivery: hand each queued SMS to the provider once, and settle every outcome.

Called by the Celery doorways in ``notifications.tasks``; each function takes an
outbox id and works from the database, so a task may run twice, late, or on another
machine without harm.

The guarantee ("never twice for one outbox row")
-----------------------------------------------
1. A row is claimed with a conditional UPDATE (``queued`` -> ``sending``, stamped
   with ``claimed_at``); of any number of workers holding the same id, only the one
   whose UPDATE changed the row calls the provider. No transaction is open while it
   does (STYLE: never call Twilio with a transaction open).
2. Every answer settles the row with an UPDATE conditional on that same claim:
   ``sent`` (with the sid), ``failed`` (a permanent refusal, or the retry budget
   spent) or back to ``queued`` with a ``send_after`` (a transient refusal: network
   refused, 5xx, 429 / 20429 with its Retry-After honoured), with exponential backoff
   and jitter.
3. When the outcome is unknown - no answer within the timeout (``maybe_sent``), or a
   worker killed between the claim and the settling UPDATE - the row stays in
   ``sending`` and is never re-sent blindly. Once its claim is older than
   ``SMS_SENDING_STALE_SECONDS`` (longer than the HTTP timeout plus the longest rate
   wait, so the request in flight has either reached Twilio or died), ``outbox_verify``
   settles it: a status callback may already have named its sid (the StatusCallback
   URL carries the outbox id, ``?m=<id>``); otherwise it reads Twilio's message list
   (from the row's sender, newest first) back to when the try in doubt began, less two
   minutes of clock skew, for a message to that number with the same body that no
   other row holds. Found: the row is ``sent`` with that sid. Not found: it is queued
   again. Twilio cannot be asked (down, or too much traffic to look back that far):
   asked again at the next sweep, and after five failed checks the row fails visibly.
So a message is sent twice only if Twilio's message list does not yet show a message
it accepted more than ``SMS_SENDING_STALE_SECONDS`` earlier. Two rows to one number
with the same body at the same moment could be confused, which leaves the crashed one
marked sent with the other's message: it errs towards once, never twice. With the
console and in-memory backends there is nobody to ask, and an unknown outcome is
resent.

Each try is recorded as a ``DeliveryAttempt`` (append-only). Logs name outbox ids,
sids and Twilio codes, never numbers or bodies (H13).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from notifications.backends import SmsDeliveryError, SmsMessage, get_sms_backend
from notifications.backends.twilio import RebasedTwilioHttpClient, TwilioBackend
from notifications.hooks import message_undeliverable
from notifications.models import DeliveryAttempt, MessageStatus, OutgoingMessage
from notifications.ratelimit import sending_number, sms_slot_reserve
from notifications.services import OPTED_OUT_REASON, outbox_task_schedule, patient_opted_out

logger = logging.getLogger(__name__)

# Tries of one message before it fails visibly (H11): about 2.5 minutes of backoff.
MAX_ATTEMPTS = 6
BACKOFF_FIRST_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 600.0
# A worker waits at most this long for its rate slot; a later slot is not taken and
# the message goes back to the queue until then.
RATE_MAX_WAIT_SECONDS = 5.0
# Verifying a row whose send is in doubt may fail too (Twilio unreachable); after this
# many failed checks it fails visibly rather than staying "sending" for ever.
MAX_VERIFY_FAILURES = 5
# Twilio's clock against ours, when matching a message by its creation time.
CLOCK_SKEW = timedelta(minutes=2)
# Reading Twilio's message list back in time: page size, and how far at most.
LOOKUP_PAGE_SIZE = 200
LOOKUP_MAX_MESSAGES = 5000
# twilio's HTTP client logs a request's query parameters at INFO, and the lookup's are
# the patient's number: the lookup's client logs nowhere (H13). The logger is made
# outside the logging registry, so no logging configuration can give it a handler.
_LOOKUP_HTTP_LOG = logging.Logger("notifications.delivery.lookup_http", level=logging.CRITICAL + 1)


def stale_after() -> timedelta:
    return timedelta(seconds=float(settings.SMS_SENDING_STALE_SECONDS))


def status_callback_url(message_id: int) -> str:
    # The outbox id in the URL lets a callback name the row even when the worker died
    # before it could store the sid Twilio returned.
    return f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/status/?m={message_id}"


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter (half to full), never sooner than Retry-After."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret
    return max(delay, retry_after or 0.0)


def _no_transaction() -> None:
    if connection.in_atomic_block:
        raise RuntimeError("SMS delivery must run outside a database transaction")


def _schedule(message_id: int, delay: float | None, *, verify: bool = False) -> None:
    """Queue the next step after the change that asks for it is committed. A broker
    that cannot take it is logged, not raised: the row says what is due, and the
    sweeper re-drives it."""
    transaction.on_commit(
        lambda: outbox_task_schedule(message_id=message_id, countdown=delay, verify=verify), robust=True
    )


def _settle(message_id: int, claim: datetime, **fields: object) -> bool:
    """Update the row only if it is still ours (``sending`` under this claim)."""
    fields["updated_at"] = timezone.now()
    return (
        OutgoingMessage.objects.filter(pk=message_id, status=MessageStatus.SENDING, claimed_at=claim).update(**fields)
        == 1
    )


def _attempt(
    message: OutgoingMessage,
    outcome: DeliveryAttempt.Outcome,
    started_at: datetime,
    *,
    sid: str = "",
    error: SmsDeliveryError | None = None,
    reason: str = "",
) -> None:
    DeliveryAttempt.objects.create(
        message=message,
        number=message.attempts,
        outcome=outcome,
        started_at=started_at,
        finished_at=timezone.now(),
        twilio_sid=sid,
        error_code=error.code if error else None,
        error_message=(error.message if error else reason)[:300],
        http_status=error.status if error else None,
        retry_after_seconds=error.retry_after if error else None,
    )


def _fail(message: OutgoingMessage, claim: datetime, *, code: int | None, reason: str) -> None:
    with transaction.atomic():
        if not _settle(message.pk, claim, status=MessageStatus.FAILED, error_code=code, error_message=reason[:300]):
            return
        message_undeliverable(message=message, code=code, reason=reason)


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str
    retry_in: float | None = None


def outbox_deliver(*, message_id: int) -> DeliveryOutcome | None:
    """Send one queued outbox row if it is due and nobody else has it.

    Returns what became of it, or None when there was nothing to do (already
    claimed, sent, not due yet)."""
    _no_transaction()
    claim = timezone.now()
    due = Q(send_after__isnull=True) | Q(send_after__lte=claim)
    claimed = OutgoingMessage.objects.filter(due, pk=message_id, status=MessageStatus.QUEUED).update(
        status=MessageStatus.SENDING, claimed_at=claim, attempts=F("attempts") + 1, updated_at=claim
    )
    if not claimed:
        return None
    message = OutgoingMessage.objects.get(pk=message_id)

    if (
        message.patient_id is not None
        and not message.opt_out_exempt
        and patient_opted_out(patient_id=message.patient_id)
    ):
        # STOP arrived after this was queued: honoured at once (H11).
        with transaction.atomic():
            if _settle(message.pk, claim, status=MessageStatus.SUPPRESSED, error_message=OPTED_OUT_REASON):
                _attempt(message, DeliveryAttempt.Outcome.SUPPRESSED, claim, reason=OPTED_OUT_REASON)
        return DeliveryOutcome(status=MessageStatus.SUPPRESSED)

    number = sending_number(from_number=message.from_number, messaging_service_sid=message.messaging_service_sid)
    if number is not None:
        # The slot is taken last, just before the request, so Twilio sees the requests
        # spaced by the rate. A slot too far off is not taken: the row goes back to
        # the queue (not a try) rather than waiting here.
        reservation = sms_slot_reserve(number=number, max_wait=RATE_MAX_WAIT_SECONDS)
        if not reservation.granted:
            with transaction.atomic():
                if _settle(
                    message.pk,
                    claim,
                    status=MessageStatus.QUEUED,
                    send_after=timezone.now() + timedelta(seconds=reservation.wait),
                    attempts=F("attempts") - 1,
                ):
                    _schedule(message.pk, reservation.wait)
            return DeliveryOutcome(status=MessageStatus.QUEUED, retry_in=reservation.wait)
        time.sleep(reservation.wait)

    sms = SmsMessage(
        to=message.to_phone,
        body=message.body,
        idempotency_key=message.idempotency_key,
        status_callback=status_callback_url(message.pk),
        from_number=message.from_number,
        messaging_service_sid=message.messaging_service_sid,
    )
    started = timezone.now()
    try:
        result = get_sms_backend().send(sms)
    except SmsDeliveryError as error:
        return _after_refusal(message, claim, started, error)

    # From here on each outcome is written with its attempt row in one transaction, so
    # whoever sees the new status also sees how it came about.
    with transaction.atomic():
        if not _settle(
            message.pk, claim, status=MessageStatus.SENT, twilio_sid=result.sid, error_code=None, error_message=""
        ):
            # A status callback (?m=) got here first and moved the row on: keep its
            # status, but make sure the sid is stored.
            OutgoingMessage.objects.filter(pk=message.pk, twilio_sid="").update(twilio_sid=result.sid)
        _attempt(message, DeliveryAttempt.Outcome.ACCEPTED, started, sid=result.sid)
    logger.info("sms %s accepted sid=%s attempt=%s", message.pk, result.sid, message.attempts)
    return DeliveryOutcome(status=MessageStatus.SENT)


def _after_refusal(
    message: OutgoingMessage, claim: datetime, started: datetime, error: SmsDeliveryError
) -> DeliveryOutcome:
    if error.permanent:
        with transaction.atomic():
            _attempt(message, DeliveryAttempt.Outcome.PERMANENT_ERROR, started, error=error)
            _fail(message, claim, code=error.code, reason=error.message)
        logger.warning("sms %s failed permanently (code %s)", message.pk, error.code)
        return DeliveryOutcome(status=MessageStatus.FAILED)

    if error.maybe_sent:
        # Twilio may have taken it: leave it `sending` and let verification decide.
        delay = stale_after().total_seconds() + 1
        with transaction.atomic():
            _attempt(message, DeliveryAttempt.Outcome.UNKNOWN, started, error=error)
            OutgoingMessage.objects.filter(pk=message.pk, status=MessageStatus.SENDING, claimed_at=claim).update(
                error_code=error.code, error_message=error.message[:300], updated_at=timezone.now()
            )
            _schedule(message.pk, delay, verify=True)
        logger.warning("sms %s outcome unknown, verifying in %ss", message.pk, round(delay))
        return DeliveryOutcome(status=MessageStatus.SENDING, retry_in=delay)

    if message.attempts >= MAX_ATTEMPTS:
        reason = f"Not sent after {message.attempts} tries: {error.message}"
        with transaction.atomic():
            _attempt(message, DeliveryAttempt.Outcome.TRANSIENT_ERROR, started, error=error)
            _fail(message, claim, code=error.code, reason=reason)
        logger.warning("sms %s failed after %s tries (code %s)", message.pk, message.attempts, error.code)
        return DeliveryOutcome(status=MessageStatus.FAILED)
    delay = backoff_seconds(message.attempts, error.retry_after)
    with transaction.atomic():
        _attempt(message, DeliveryAttempt.Outcome.TRANSIENT_ERROR, started, error=error)
        if _settle(
            message.pk,
            claim,
            status=MessageStatus.QUEUED,
            send_after=timezone.now() + timedelta(seconds=delay),
            error_code=error.code,
            error_message=error.message[:300],
        ):
            _schedule(message.pk, delay)
    logger.info("sms %s transient failure (code %s), retry in %.1fs", message.pk, error.code, delay)
    return DeliveryOutcome(status=MessageStatus.QUEUED, retry_in=delay)


# --- settling a send whose outcome is unknown --------------------------------------------


class LookupUnavailable(Exception):
    """The provider could not be asked (network, 5xx): try verifying later."""


def provider_message_find(*, message: OutgoingMessage, since: datetime) -> str | None:
    """The sid of the provider's message that this row became, if it exists.

    Only Twilio can be asked. Its message list (from the row's number, newest first) is read
    back to ``since`` (the try in doubt began then; less clock skew), looking for a
    message to the row's number with the same body whose sid no other row holds.
    The list is filtered by our number only, never the patient's: a query string
    ends up in debug logs (H13). Returns None when there is none - and always for the
    console and in-memory backends, which keep no record to ask."""
    backend_class = type(get_sms_backend())
    if not issubclass(backend_class, TwilioBackend):
        return None
    http_client = RebasedTwilioHttpClient(base_url=settings.TWILIO_API_BASE_URL, timeout=float(settings.TWILIO_TIMEOUT))
    http_client.logger = _LOOKUP_HTTP_LOG
    client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client)
    filters: dict[str, str] = {}
    # The row's sender (a Messaging Service's sender is one of its pool: unfiltered).
    sender = message.from_number or ("" if message.messaging_service_sid else settings.TWILIO_FROM_NUMBER)
    if sender:
        filters["from_"] = sender
    earliest = since - CLOCK_SKEW
    candidates: list[str] = []
    try:
        for read, item in enumerate(client.messages.stream(page_size=LOOKUP_PAGE_SIZE, **filters)):
            if item.date_created is not None and item.date_created < earliest:
                break  # newest first: the rest is older than the try in doubt
            if read >= LOOKUP_MAX_MESSAGES:
                # Too much traffic to see back that far: undecided, not "not sent".
                raise LookupUnavailable("too many messages to search")
            if item.to == message.to_phone and item.body == message.body:
                candidates.append(str(item.sid))
    except TwilioException as exc:
        raise LookupUnavailable(type(exc).__name__) from None  # Twilio's text may quote the number
    except OSError as exc:  # requests' errors are OSErrors
        raise LookupUnavailable(type(exc).__name__) from exc
    finally:
        http_client.close()
    if not candidates:
        return None
    taken = set(
        OutgoingMessage.objects.filter(twilio_sid__in=candidates)
        .exclude(pk=message.pk)
        .values_list("twilio_sid", flat=True)
    )
    free = [sid for sid in candidates if sid not in taken]
    # Oldest first: the list is newest first, and ours was the first with this body.
    return free[-1] if free else None


def outbox_verify(*, message_id: int) -> DeliveryOutcome | None:
    """Settle a row left in ``sending`` (timeout, or a worker killed mid-send)."""
    _no_transaction()
    now = timezone.now()
    message = OutgoingMessage.objects.filter(
        pk=message_id, status=MessageStatus.SENDING, claimed_at__lte=now - stale_after()
    ).first()
    if message is None:
        return None
    old_claim = message.claimed_at or now
    claim = now
    with transaction.atomic():
        # Take the row over, so two sweepers never verify (and resend) it both.
        if not OutgoingMessage.objects.filter(pk=message_id, status=MessageStatus.SENDING, claimed_at=old_claim).update(
            claimed_at=claim, updated_at=claim
        ):
            return None
        if not DeliveryAttempt.objects.filter(message=message, number=message.attempts).exists():
            # Nothing recorded this try: the worker died between the claim and the
            # answer. Recorded with the takeover, so the try's start is never lost.
            _attempt(message, DeliveryAttempt.Outcome.INTERRUPTED, old_claim, reason="Worker stopped mid-send")
    in_doubt_since = (
        DeliveryAttempt.objects.filter(
            message=message,
            number=message.attempts,
            outcome__in=[DeliveryAttempt.Outcome.UNKNOWN, DeliveryAttempt.Outcome.INTERRUPTED],
        )
        .order_by("started_at")
        .values_list("started_at", flat=True)
        .first()
    ) or message.created_at

    sid = message.twilio_sid  # a status callback may have told us already
    if not sid:
        try:
            sid = provider_message_find(message=message, since=in_doubt_since) or ""
        except LookupUnavailable as exc:
            with transaction.atomic():
                _attempt(message, DeliveryAttempt.Outcome.VERIFY_FAILED, now, reason=f"Could not ask Twilio ({exc})")
                failures = DeliveryAttempt.objects.filter(
                    message=message, outcome=DeliveryAttempt.Outcome.VERIFY_FAILED
                ).count()
                if failures >= MAX_VERIFY_FAILURES:
                    _fail(message, claim, code=None, reason="Delivery could not be confirmed with Twilio")
                    return DeliveryOutcome(status=MessageStatus.FAILED)
            return DeliveryOutcome(status=MessageStatus.SENDING)

    if sid:
        with transaction.atomic():
            _attempt(message, DeliveryAttempt.Outcome.FOUND_AT_PROVIDER, now, sid=sid)
            _settle(message.pk, claim, status=MessageStatus.SENT, twilio_sid=sid)
        logger.info("sms %s found at the provider as %s: not resent", message.pk, sid)
        return DeliveryOutcome(status=MessageStatus.SENT)

    with transaction.atomic():
        _attempt(message, DeliveryAttempt.Outcome.NOT_AT_PROVIDER, now, reason="Not found at the provider")
        if message.attempts >= MAX_ATTEMPTS:
            _fail(message, claim, code=message.error_code, reason=f"Not sent after {message.attempts} tries")
            return DeliveryOutcome(status=MessageStatus.FAILED)
        if _settle(message.pk, claim, status=MessageStatus.QUEUED, send_after=None):
            _schedule(message.pk, None)
    logger.info("sms %s was not at the provider: queued again", message.pk)
    return DeliveryOutcome(status=MessageStatus.QUEUED)


# --- the sweeper ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    requeued: int
    verifying: int


# A queued row untouched this long has lost its task (broker down, task dropped).
LOST_TASK_AFTER = timedelta(seconds=30)
SWEEP_BATCH = 500


def outbox_sweep_run() -> SweepReport:
    """Re-drive what the tasks did not finish: due queued rows whose task was lost,
    and rows stuck in ``sending`` (verified before anything is resent)."""
    now = timezone.now()
    # Both queries are served by the partial index `outbox_undelivered`.
    queued = list(
        OutgoingMessage.objects.filter(
            Q(send_after__isnull=True) | Q(send_after__lte=now),
            status=MessageStatus.QUEUED,
            updated_at__lte=now - LOST_TASK_AFTER,
        )
        .order_by("id")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    # Rows deferred to later (quiet hours, long Retry-After) had no task scheduled:
    # they are due now and were last touched when deferred.
    stuck = list(
        OutgoingMessage.objects.filter(status=MessageStatus.SENDING, claimed_at__lte=now - stale_after())
        .order_by("id")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for message_id in queued:
        outbox_task_schedule(message_id=message_id)
    for message_id in stuck:
        outbox_task_schedule(message_id=message_id, verify=True)
    if queued or stuck:
        logger.info("outbox sweep: %s queued re-driven, %s stuck sending to verify", len(queued), len(stuck))
    return SweepReport(requeued=len(queued), verifying=len(stuck))
