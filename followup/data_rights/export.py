"""Everything Vigil holds about one patient, as a ZIP for the patient (GDPR art. 15
and 20, KVKK art. 11): ``summary.html``, readable, in the patient's language (gettext
for the headings, the protocol's own texts for questions, answers and rule titles),
and ``data.json``, every row of theirs, machine-readable.

Only rows of this patient are read (each query filters on the patient). Left out, as
they are other people's data or secrets: the SMS pages to staff about the patient
(staff phone numbers), the one-time enrollment codes' hashes and the idempotency key
of each outgoing message."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from phonenumber_field.phonenumber import PhoneNumber

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Patient, User
from followup.data_rights.retention import retention_status
from followup.data_rights.summary import summary_context
from followup.models import (
    Alert,
    AlertOccurrence,
    Appointment,
    CheckIn,
    Enrollment,
    EscalationStep,
    Observation,
    ScheduledCheckIn,
    SmsReplyReading,
    WorklistItem,
)
from notifications.models import InboundMessage, MessageHistoryEntry, OutgoingMessage, SmsConversation

# Columns never exported (see the module's docstring).
_WITHHELD = {
    OutgoingMessage: {"body", "idempotency_key", "staff_user"},
    EscalationStep: {"target_phone"},
}


class _Encoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, PhoneNumber):
            return str(o)
        return super().default(o)


@dataclass(frozen=True)
class PatientExport:
    filename: str
    content: bytes
    counts: dict[str, int]


def _rows(queryset: QuerySet[Any]) -> list[dict[str, Any]]:
    model: type[Model] = queryset.model
    withheld = _WITHHELD.get(model, set())
    names = [field.attname for field in model._meta.concrete_fields if field.name not in withheld]
    return list(queryset.order_by("pk").values(*names))


def patient_export_data(*, patient: Patient) -> dict[str, Any]:
    """Every row Vigil holds about ``patient``, by kind (the JSON of the export)."""
    mine = {"patient_id": patient.pk}
    status = retention_status(patient=patient)
    return {
        "format": "vigil-patient-export/1",
        "exported_at": timezone.now(),
        "patient": _rows(Patient.objects.filter(pk=patient.pk))[0],
        "consent": {
            "sms_consent": patient.sms_consent,
            "sms_opted_out_at": patient.sms_opted_out_at,
            "consent_withdrawn_at": patient.consent_withdrawn_at,
        },
        "retention": {
            "follow_up_ended_on": status.follow_up_ended_on,
            "retention_until": status.retention_until,
            "countries": [rule.__dict__ for rule in status.rules],
        },
        "episodes": _rows(patient.episodes.all()),
        "enrollments": _rows(Enrollment.objects.filter(**mine)),
        "scheduled_check_ins": _rows(ScheduledCheckIn.objects.filter(**mine)),
        "appointments": _rows(Appointment.objects.filter(**mine)),
        "check_ins": _rows(CheckIn.objects.filter(**mine)),
        "observations": _rows(Observation.objects.filter(**mine)),
        "alerts": _rows(Alert.objects.filter(**mine)),
        "alert_occurrences": _rows(AlertOccurrence.objects.filter(alert__patient_id=patient.pk)),
        "escalation_steps": _rows(EscalationStep.objects.filter(alert__patient_id=patient.pk)),
        "worklist_items": _rows(WorklistItem.objects.filter(**mine)),
        "sms_outgoing": _rows(OutgoingMessage.objects.filter(**mine, staff_user__isnull=True)),
        "sms_inbound": _rows(InboundMessage.objects.filter(**mine)),
        "message_thread": _rows(MessageHistoryEntry.objects.filter(**mine)),
        "sms_conversations": _rows(SmsConversation.objects.filter(**mine)),
        "sms_reply_readings": _rows(SmsReplyReading.objects.filter(**mine)),
    }


def patient_export(*, patient: Patient, by: User, audit: AuditContext | None = None) -> PatientExport:
    """The ZIP for ``patient``, its export audited (one row naming the patient)."""
    data = patient_export_data(patient=patient)
    with translation.override(patient.language):
        summary = render_to_string("followup/data_rights/summary.html", summary_context(patient=patient, data=data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("summary.html", summary)
        archive.writestr("data.json", json.dumps(data, cls=_Encoder, ensure_ascii=False, indent=1))
    audit_record(
        actor=by,
        action=AuditAction.READ,
        object_type="patient_export",
        objects=[(patient.pk, patient.pk)],
        clinic_id=patient.clinic_id,
        audit=audit,
    )
    counts = {key: len(value) for key, value in data.items() if isinstance(value, list)}
    stamp = timezone.now().strftime("%Y%m%d")
    return PatientExport(filename=f"vigil-patient-{patient.pk}-{stamp}.zip", content=buffer.getvalue(), counts=counts)
