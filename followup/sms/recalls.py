"""Recall by SMS: ask the patient to come in, and read their YES.

A recall is texted when it is proposed (``recall_sms_queue``): after a red finding
(``followup.services.alerts``) at once, quiet hours or not (H2: the patient must hear
now); after a nurse adds one (``followup.services.scheduling``) at the end of the
patient's quiet hours if it is added inside them (H10). Once per recall: a finding
judged again proposes no second recall. Never without the clinic's record of SMS
consent, never after STOP (H11). Never into a running SMS check-in: its replies answer
its questions, and a YES meant for the recall would be read as an answer; the recall
is texted when the conversation ends (``recall_sms_after_conversation``).

The recall text gives the appointment's time in the patient's own time zone and
language. It is marked ``reach_alert``: if it cannot be delivered, staff are alerted to
phone the patient (H11). A YES reply (any of the six languages' yes words) confirms
the appointment, and the dashboard hears of it (``appointment.updated``, the
appointment as the API returns it).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from backend.models import Patient
from backend.patient_texts import patient_text
from followup.models import Appointment
from followup.services.appointment_answers import appointment_patient_confirm
from followup.services.quiet_hours import quiet_hours_end_after
from followup.sms.outgoing import addressed, patient_can_receive_sms, text_values
from followup.sms.texts import DATE_FORMAT, RECALL_CONFIRMED, RECALL_REQUEST
from notifications.models import MessageKind, OutgoingMessage, SmsConversation
from notifications.services import sms_enqueue

# A YES counts for a recall texted this recently, and still ahead (or today).
RECALL_REPLY_WINDOW = timedelta(days=7)
CONFIRMABLE = (Appointment.Status.PROPOSED, Appointment.Status.SCHEDULED)


def appointment_local_time(*, appointment: Appointment, patient: Patient) -> str:
    return appointment.starts_at.astimezone(zoneinfo.ZoneInfo(patient.timezone)).strftime(DATE_FORMAT)


def recall_sms_send(
    *,
    appointment: Appointment,
    send_after: datetime | None = None,
    patient: Patient | None = None,
    phone_shared: bool | None = None,
    opted_out: bool | None = None,
) -> OutgoingMessage:
    """Text the patient to come in at the appointment's time. One SMS per appointment
    and time: moving the appointment and calling again sends the new time.
    ``phone_shared`` and ``opted_out``: what the caller read already (None: read here)."""
    if patient is None:
        patient = Patient.objects.select_related("clinic").get(pk=appointment.patient_id)
    when = appointment_local_time(appointment=appointment, patient=patient)
    body = patient_text(language=patient.language, message=RECALL_REQUEST, when=when, **text_values(patient=patient))
    return sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body=addressed(patient=patient, text=body, shared=phone_shared),
        kind=MessageKind.RECALL,
        idempotency_key=f"recall:{appointment.pk}:{appointment.starts_at.isoformat()}",
        patient=patient,
        appointment_id=appointment.pk,
        reach_alert=True,
        send_after=send_after,
        opted_out=opted_out,
    )


def sms_conversation_running() -> Exists:
    """For ``annotate`` on patients: an SMS check-in is running with the patient."""
    return Exists(SmsConversation.objects.filter(patient_id=OuterRef("pk"), state=SmsConversation.State.ACTIVE))


def phone_shared_with_another() -> Exists:
    """For ``annotate`` on patients: another patient has the same phone (H5)."""
    return Exists(Patient.objects.filter(phone=OuterRef("phone")).exclude(pk=OuterRef("pk")))


def recall_sms_queue(
    *,
    appointment: Appointment,
    patient: Patient,
    send_after: datetime | None = None,
    patient_locked: bool = False,
    texting: bool | None = None,
    shared: bool | None = None,
) -> OutgoingMessage | None:
    """Text the patient a recall just proposed, YES to confirm. None when it is not
    texted: no SMS consent or STOP (H11), or an SMS check-in is running (held back:
    ``recall_sms_after_conversation`` texts it when the conversation ends).
    ``send_after`` is the caller's decision: None after a red finding (H2), the end of
    the quiet hours for a recall a nurse adds (H10). ``patient_locked``: the caller
    read ``patient`` with its row locked in this transaction (the check-in path), so
    its STOP needs no second reading. ``texting``/``shared``: read by the caller
    already (``followup.services.alert_follow_through.recall_facts``), else read here."""
    if not patient_can_receive_sms(patient):
        return None
    if texting is None or shared is None:
        texting, shared = (
            Patient.objects.filter(pk=patient.pk)
            .annotate(texting=sms_conversation_running(), shared=phone_shared_with_another())
            .values_list("texting", "shared")
            .get()
        )
    if texting:
        return None
    return recall_sms_send(
        appointment=appointment,
        send_after=send_after,
        patient=patient,
        phone_shared=shared,
        opted_out=False if patient_locked else None,
    )


def recall_sms_after_conversation(*, patient: Patient) -> OutgoingMessage | None:
    """An SMS check-in has ended: text the recall it held back, if any (an open recall
    awaiting the patient's answer that was never texted). A recall proposed after a
    red finding goes at once; one a nurse added waits for the end of quiet hours."""
    recall = (
        Appointment.objects.filter(patient=patient, kind=Appointment.Kind.RECALL, status__in=CONFIRMABLE)
        .exclude(sms_messages__kind=MessageKind.RECALL)
        .order_by("-id")
        .first()
    )
    if recall is None or not patient_can_receive_sms(patient):
        return None
    send_after = None
    if recall.origin_alert_id is None:
        now = timezone.now()
        awake_at = quiet_hours_end_after(moment=now, patient=patient)
        send_after = awake_at if awake_at > now else None
    return recall_sms_send(appointment=recall, send_after=send_after, patient=patient)


def recall_awaiting_reply(*, patient: Patient) -> Appointment | None:
    """The recall a YES from this patient would confirm: one texted to them lately,
    not yet confirmed, not in the past."""
    now = timezone.now()
    return (
        Appointment.objects.filter(
            patient=patient,
            kind=Appointment.Kind.RECALL,
            status__in=CONFIRMABLE,
            starts_at__gte=now - timedelta(hours=12),
            sms_messages__kind=MessageKind.RECALL,
            sms_messages__created_at__gte=now - RECALL_REPLY_WINDOW,
        )
        .order_by("-sms_messages__created_at")
        .first()
    )


def recall_confirm(*, appointment: Appointment, patient: Patient, reply_key: str) -> bool:
    """The patient said YES: the appointment is confirmed (a conditional update, so a
    nurse's change at the same moment wins), and they are told so."""
    with transaction.atomic():
        # The same state change as the app's Confirm button.
        if not appointment_patient_confirm(appointment=appointment, patient=patient):
            return False
        when = appointment_local_time(appointment=appointment, patient=patient)
        sms_enqueue(
            clinic_id=patient.clinic_id,
            to_phone=str(patient.phone),
            body=patient_text(language=patient.language, message=RECALL_CONFIRMED, when=when),
            kind=MessageKind.REPLY,
            idempotency_key=reply_key,
            patient=patient,
            appointment_id=appointment.pk,
        )
    return True
