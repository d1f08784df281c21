"""Web Push reminders for patients of the app (issue 18), with SMS as the fallback.

A reminder (a due check-in, a recall, a staff reply) goes by push to a patient who
has a live subscription and signed in to the app within ``PUSH_APP_ACTIVE_DAYS``;
anyone else gets the SMS as before (``reminder_channel``). A push carries no health
data: only "A message from <clinic>" and a link into ``/app/``. A push service that
answers 404 or 410 has dropped the subscription, which is deleted; when no push gets
through, the reminder's SMS goes through the outbox once (its idempotency key), so a
retried task or a second worker never sends both or twice. Pushes keep the patient's
quiet hours as SMS do (H10): a reminder due inside them waits for their end."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop
from pywebpush import WebPushException, webpush

from backend.models import Patient
from backend.patient_texts import patient_text
from followup.models import PushReminder, PushSubscription
from followup.services.push_keys import vapid_key
from followup.services.quiet_hours import quiet_hours_end_after
from notifications.models import MessageKind, OutgoingMessage
from notifications.services import sms_enqueue

logger = logging.getLogger(__name__)

# Everything a push says: no health data on a lock screen.
PUSH_TITLE = gettext_noop("A message from %(clinic)s")
PUSH_TIMEOUT_SECONDS = 10
GONE = (404, 410)


def push_subscription_save(*, patient: Patient, endpoint: str, p256dh: str, auth: str) -> PushSubscription:
    """Idempotent by endpoint: the same browser subscribing again updates its row (and
    moves it to the patient signed in now, on a phone two patients share)."""
    row, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"patient": patient, "p256dh": p256dh, "auth": auth}
    )
    return row


def push_subscription_delete(*, patient: Patient, endpoint: str) -> int:
    return PushSubscription.objects.filter(patient=patient, endpoint=endpoint).delete()[0]


def app_recently_used(*, patient: Patient, now: datetime | None = None) -> bool:
    """Signed in to the app within ``PUSH_APP_ACTIVE_DAYS`` (the user's last_login)."""
    last = patient.user.last_login if patient.user_id else None
    now = now or timezone.now()
    return last is not None and last >= now - timedelta(days=settings.PUSH_APP_ACTIVE_DAYS)


def reminder_channel(*, patient: Patient, now: datetime | None = None) -> str:
    """ "push" for a recent app user with a live subscription, else "sms"."""
    if app_recently_used(patient=patient, now=now) and PushSubscription.objects.filter(patient=patient).exists():
        return "push"
    return "sms"


def reminder_send(
    *, patient: Patient, key: str, app_path: str, form_link: str, sms_body: Callable[[str], str], kind: MessageKind
) -> OutgoingMessage | None:
    """One reminder, once per ``key``: by push to an app patient with a live
    subscription (this SMS its fallback), else by SMS. An app patient's SMS links to
    the app (``app_path``), anyone else's to ``form_link`` (the one-time web form,
    which needs no sign-in). ``sms_body(link)`` words it. Returns the SMS written
    (None when it went to push)."""
    if PushReminder.objects.filter(idempotency_key=key).exists():
        return None
    sent = OutgoingMessage.objects.filter(idempotency_key=key).first()
    if sent is not None:
        return sent
    app_user = app_recently_used(patient=patient)
    body = sms_body(settings.PUBLIC_BASE_URL + app_path if app_user else form_link)
    if app_user and PushSubscription.objects.filter(patient=patient).exists():
        push_reminder_queue(patient=patient, key=key, link=app_path, sms_body=body, sms_kind=kind)
        return None
    return sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body=body,
        kind=kind,
        idempotency_key=key,
        patient=patient,
    )


def push_reminder_queue(*, patient: Patient, key: str, link: str, sms_body: str, sms_kind: MessageKind) -> PushReminder:
    """Write the reminder once per ``key`` and send it after commit, at the end of the
    patient's quiet hours when it falls in them (H10)."""
    reminder, created = PushReminder.objects.get_or_create(
        idempotency_key=key,
        defaults={"patient": patient, "link": link, "sms_body": sms_body, "sms_kind": sms_kind},
    )
    if created:
        from followup.tasks_push import push_reminder_task

        eta = quiet_hours_end_after(moment=timezone.now(), patient=patient)
        transaction.on_commit(lambda: push_reminder_task.apply_async(args=[reminder.pk], eta=eta))
    return reminder


def push_payload(*, patient: Patient, link: str) -> str:
    title = patient_text(language=patient.language, message=PUSH_TITLE, clinic=patient.clinic.name)
    return json.dumps({"title": title, "url": link})


def _push_one(subscription: PushSubscription, data: str) -> bool:
    """True when the push service took it; a gone subscription is deleted."""
    info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
    try:
        webpush(
            info,
            data=data,
            vapid_private_key=vapid_key(),
            vapid_claims={"sub": settings.VAPID_SUBJECT},
            content_encoding="aes128gcm",
            timeout=PUSH_TIMEOUT_SECONDS,
            ttl=24 * 3600,
        )
    except WebPushException as error:
        status = getattr(error.response, "status_code", None)
        if status in GONE:
            subscription.delete()
        logger.warning("push to subscription %s failed: %s", subscription.pk, status)
        return False
    except OSError:
        logger.warning("push to subscription %s failed: network", subscription.pk)
        return False
    PushSubscription.objects.filter(pk=subscription.pk).update(last_pushed_at=timezone.now())
    return True


def push_reminder_send(*, reminder_id: int) -> str:
    """Push the reminder to each of the patient's subscriptions; when none takes it,
    text the SMS once instead. Returns the reminder's final state."""
    claimed = PushReminder.objects.filter(pk=reminder_id, state=PushReminder.State.PENDING).update(
        state=PushReminder.State.SENDING
    )
    reminder = PushReminder.objects.select_related("patient__clinic").get(pk=reminder_id)
    if not claimed and reminder.state != PushReminder.State.SENDING:
        return reminder.state
    patient = reminder.patient
    data = push_payload(patient=patient, link=reminder.link)
    results = [_push_one(row, data) for row in PushSubscription.objects.filter(patient=patient)]
    if any(results):
        state = PushReminder.State.PUSHED
    else:
        push_fallback_sms(reminder=reminder)
        state = PushReminder.State.SMS
    PushReminder.objects.filter(pk=reminder.pk).update(state=state, done_at=timezone.now())
    return state


def push_fallback_sms(*, reminder: PushReminder) -> OutgoingMessage:
    patient = reminder.patient
    return sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body=reminder.sms_body,
        kind=MessageKind(reminder.sms_kind),
        idempotency_key=f"push-fallback:{reminder.idempotency_key}",
        patient=patient,
    )
