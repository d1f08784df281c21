"""What a conversation sends: the values its texts name, and a reply inside it.

Shared by the conversation's steps (``followup.sms.conversations``) and its endings
(``followup.sms.endings``). Every text goes through the outbox, and a reply answers
the patient's own message, so quiet hours do not hold it.
"""

from __future__ import annotations

from backend.models import Patient
from followup.services.triage import clinic_phone_display
from notifications.models import MessageKind, OutgoingMessage, SmsConversation
from notifications.services import sms_enqueue


def text_values(*, patient: Patient) -> dict[str, str]:
    """What the protocol's SMS texts may name; every text gets all of them."""
    return {"clinic_name": patient.clinic.name, "clinic_phone": clinic_phone_display(clinic=patient.clinic)}


def patient_can_receive_sms(patient: Patient) -> bool:
    """No text without the clinic's record of consent, none after STOP (H11)."""
    return patient.sms_consent and patient.sms_opted_out_at is None


def phone_is_shared(*, patient: Patient) -> bool:
    return Patient.objects.filter(phone=patient.phone).exclude(pk=patient.pk).exists()


def addressed(*, patient: Patient, text: str, shared: bool | None = None) -> str:
    # On a phone several patients share, each message says whose it is (H5).
    # ``shared``: the caller read it already (None: read it here).
    if shared is None:
        shared = phone_is_shared(patient=patient)
    return f"{patient.given_name}: {text}" if shared else text


def conversation_send(
    *, conversation: SmsConversation, key: str, body: str, kind: MessageKind, **extra: object
) -> OutgoingMessage:
    """One message of ``conversation``, once per ``key`` (a retried webhook re-sends nothing)."""
    patient = conversation.patient
    return sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body=addressed(patient=patient, text=body),
        kind=kind,
        idempotency_key=f"sms-conversation:{conversation.pk}:{key}",
        patient=patient,
        conversation_id=conversation.pk,
        **extra,  # type: ignore[arg-type]
    )
