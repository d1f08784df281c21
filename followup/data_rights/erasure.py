"""Erase a patient's identity once the law allows it (``retention.retention_status``).

What goes: the identifying fields (name, phone, MRN; the patient's sign-in account and
its tokens), every message body and phone number of theirs (SMS both ways, the thread's
messages, staff pages about their alerts), free text written about them (nurse notes,
worklist details, appointment reasons and video links, the dashboard events' copies).
What stays, anonymised: the clinical record (episodes, check-ins with their coded
answers, labs, alerts with rule, times, outcome and grade), so that the per-rule
statistics (``followup.services.alert_metrics``) come out the same. The audit trail is
not touched (it names ids, never PHI) and gains one row for the erasure itself.

Rows are updated, never deleted: they are history other rows point at (PROTECT), and
the statistics count them. A row the application keeps append-only
(``DeliveryAttempt``) loses its provider error text here by a queryset update: the
law's erasure duty outranks the app's own rule (Twilio's texts can quote a number)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from knox.models import AuthToken

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, EnrollmentCode, IdempotencyRecord, Patient, User
from followup.data_rights.retention import RetentionStatus, retention_status
from followup.models import Alert, Appointment, CheckIn, WorklistItem
from notifications.models import (
    DeliveryAttempt,
    Event,
    InboundMessage,
    OutgoingMessage,
    SharedPhoneChoice,
    SmsConversation,
)

# Keys of dashboard events that carry free text (alert notes, appointment reasons...).
_FREE_TEXT_KEYS = frozenset({"note", "reason", "detail", "body", "display_body", "video_url", "name", "mrn", "phone"})
# A coded answer: a choice value. Anything else that is a string is free text.
_CODED = re.compile(r"^[a-z0-9_\-]{1,40}$")


class ErasureRefused(Exception):
    """The law does not allow erasure today; ``status`` says why and until when."""

    def __init__(self, status: RetentionStatus) -> None:
        super().__init__("erasure refused")
        self.status = status

    @property
    def retention_until(self) -> date | None:
        return self.status.retention_until


@dataclass
class ErasureResult:
    patient_id: int
    erased_at: Any
    counts: dict[str, int] = field(default_factory=dict)


def answers_without_free_text(answers: Any) -> Any:
    """Coded answers (numbers, yes/no, choice values) kept; free text dropped."""
    if not isinstance(answers, dict):
        return {}
    return {
        key: value
        for key, value in answers.items()
        if value is None or isinstance(value, bool | int | float) or (isinstance(value, str) and _CODED.match(value))
    }


def _scrubbed(value: Any, identifiers: list[str]) -> Any:
    """A JSON value with free text and any string holding an identifier blanked."""
    if isinstance(value, dict):
        return {
            key: "" if key in _FREE_TEXT_KEYS and isinstance(item, str) else _scrubbed(item, identifiers)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrubbed(item, identifiers) for item in value]
    if isinstance(value, str) and any(identifier in value.lower() for identifier in identifiers):
        return ""
    return value


def _identifiers(patient: Patient) -> list[str]:
    phone = str(patient.phone)
    values = [patient.given_name, patient.family_name, patient.mrn, phone, phone.lstrip("+")]
    return [value.lower() for value in values if len(value) >= 3]


def _phone_is_only_theirs(patient: Patient) -> bool:
    """A shared phone (H5) stays where another patient still uses it."""
    return not Patient.objects.filter(phone=patient.phone, erased_at__isnull=True).exclude(pk=patient.pk).exists()


def _messages_erase(patient: Patient, *, phone_only_theirs: bool) -> dict[str, int]:
    """Bodies and numbers of the patient's SMS, both ways, and of staff pages about
    their alerts (those name initials and the MRN's end)."""
    alert_ids = list(Alert.objects.filter(patient_id=patient.pk).values_list("pk", flat=True))
    page_keys = Q()
    for alert_id in alert_ids:
        page_keys |= Q(idempotency_key__startswith=f"alert-page:{alert_id}:")
    outgoing = OutgoingMessage.objects.filter(Q(patient_id=patient.pk) | (page_keys if alert_ids else Q(pk__in=[])))
    outgoing_ids = list(outgoing.values_list("pk", flat=True))
    counts = {
        "sms_outgoing": OutgoingMessage.objects.filter(pk__in=outgoing_ids, patient_id=patient.pk).update(
            body="", display_body="", to_phone="", error_message=""
        ),
        # A page's number is the staff member's or the clinic's: it stays.
        "sms_staff_pages": OutgoingMessage.objects.filter(pk__in=outgoing_ids, patient__isnull=True).update(
            body="", display_body="", error_message=""
        ),
        "delivery_attempts": DeliveryAttempt.objects.filter(message_id__in=outgoing_ids).update(error_message=""),
    }
    if not phone_only_theirs:
        counts["sms_shared_phone"] = _shared_phone_mentions_erase(patient)
    inbound = Q(patient_id=patient.pk)
    if phone_only_theirs:
        inbound |= Q(patient__isnull=True, from_phone=str(patient.phone))
        counts["shared_phone_choices"] = SharedPhoneChoice.objects.filter(phone=str(patient.phone)).update(phone="")
    counts["sms_inbound"] = InboundMessage.objects.filter(inbound).update(body="", from_phone="")
    return counts


def _shared_phone_mentions_erase(patient: Patient) -> int:
    """On a phone shared with others (H5) the messages to the phone name whom they are
    for ("who is answering? 1 Zebulon, 2 ..."): those naming this patient are blanked;
    the others' own messages, and the phone, stay theirs."""
    names = [name for name in (patient.given_name, patient.family_name) if len(name) >= 3]
    if not names:
        return 0
    mentions = Q()
    for name in names:
        mentions |= Q(body__icontains=name) | Q(display_body__icontains=name)
    return (
        OutgoingMessage.objects.filter(to_phone=str(patient.phone))
        .exclude(patient_id=patient.pk)
        .filter(mentions)
        .update(body="", display_body="")
    )


def _free_text_erase(patient: Patient) -> dict[str, int]:
    """Notes and free text written about the patient; coded answers stay."""
    mine = {"patient_id": patient.pk}
    counts = {
        "alert_notes": Alert.objects.filter(**mine).exclude(resolution_note="").update(resolution_note=""),
        "worklist_details": WorklistItem.objects.filter(**mine).exclude(detail="").update(detail=""),
        "appointments": Appointment.objects.filter(**mine).update(reason="", video_url=""),
        "check_ins": 0,
        "sms_conversations": 0,
    }
    for model, key in ((CheckIn, "check_ins"), (SmsConversation, "sms_conversations")):
        for pk, answers in model.objects.filter(**mine).values_list("pk", "answers"):  # type: ignore[attr-defined]
            kept = answers_without_free_text(answers)
            if kept != answers:
                model.objects.filter(pk=pk).update(answers=kept)  # type: ignore[attr-defined]
                counts[key] += 1
    return counts


def _copies_erase(patient: Patient, identifiers: list[str]) -> dict[str, int]:
    """Copies of the patient's data in JSON columns: the dashboard's stored events and
    the answers kept for retried requests (deleted: they only serve a retry)."""
    changed = 0
    for pk, data in Event.objects.filter(clinic_id=patient.clinic_id, data__patient=patient.pk).values_list(
        "pk", "data"
    ):
        clean = _scrubbed(data, identifiers)
        if clean != data:
            Event.objects.filter(pk=pk).update(data=clean)
            changed += 1
    users = Q(user__clinic_id=patient.clinic_id) | Q(user_id=patient.user_id)
    stale = [
        pk
        for pk, body in IdempotencyRecord.objects.filter(users).values_list("pk", "response_body").iterator()
        if any(identifier in json.dumps(body, ensure_ascii=False).lower() for identifier in identifiers)
    ]
    IdempotencyRecord.objects.filter(pk__in=stale).delete()
    return {"events": changed, "idempotency_records": len(stale)}


def _account_close(patient: Patient) -> None:
    """The patient's sign-in account: tokens gone, no password, nothing to identify."""
    if patient.user_id is None:
        return
    AuthToken.objects.filter(user_id=patient.user_id).delete()
    User.objects.filter(pk=patient.user_id).update(
        username=f"erased-{patient.user_id}",
        first_name="",
        last_name="",
        email="",
        is_active=False,
        password=make_password(None),
    )


def _identity_erase(patient: Patient) -> dict[str, int]:
    """Everything that names the patient, in the caller's transaction."""
    identifiers = _identifiers(patient)
    counts = _messages_erase(patient, phone_only_theirs=_phone_is_only_theirs(patient))
    counts |= _free_text_erase(patient)
    counts |= _copies_erase(patient, identifiers)
    counts["enrollment_codes"] = EnrollmentCode.objects.filter(patient_id=patient.pk).delete()[0]
    _account_close(patient)
    now = timezone.now()
    Patient.objects.filter(pk=patient.pk).update(
        given_name="",
        family_name=f"#{patient.pk}",
        mrn=f"erased-{patient.pk}",
        phone="",
        sms_consent=False,
        sms_opted_out_at=now,
        erasure_due_since=None,
        erased_at=now,
        updated_at=now,
    )
    return counts


def patient_erase(
    *, patient_id: int, by: User, audit: AuditContext | None = None, today: date | None = None
) -> ErasureResult:
    """Anonymise one patient now, or raise ``ErasureRefused`` and change nothing but
    the audit trail, which records the refused attempt too."""
    with transaction.atomic():
        patient = Patient.objects.select_for_update().select_related("clinic").get(pk=patient_id)
        status = retention_status(patient=patient, today=today)
        counts = _identity_erase(patient) if status.erasable else {}
        audit_record(
            actor=by,
            action=AuditAction.DELETE,
            object_type="patient_erasure" if status.erasable else "patient_erasure_refused",
            objects=[(patient.pk, patient.pk)],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
    if not status.erasable:
        raise ErasureRefused(status)
    erased_at = Patient.objects.values_list("erased_at", flat=True).get(pk=patient.pk)
    return ErasureResult(patient_id=patient.pk, erased_at=erased_at, counts=counts)


def patient_consent_withdraw(*, patient: Patient, by: User, audit: AuditContext | None = None) -> Patient:
    """Record that the patient withdrew consent to the processing (once; audited).
    Erasure follows only where no retention duty applies (``retention_status``)."""
    with transaction.atomic():
        updated = Patient.objects.filter(pk=patient.pk, consent_withdrawn_at__isnull=True).update(
            consent_withdrawn_at=timezone.now()
        )
        if updated:
            audit_record(
                actor=by,
                action=AuditAction.UPDATE,
                object_type="patient_consent_withdrawal",
                objects=[(patient.pk, patient.pk)],
                clinic_id=patient.clinic_id,
                audit=audit,
            )
    patient.refresh_from_db()
    return patient
