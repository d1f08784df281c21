"""``GET /api/v1/me/``: the patient's own view (patients only; staff get a 403).

Their profile, the clinic to call, the next check-in they can answer (with the link
to the web form), upcoming appointments with their video links, an open recall and
their check-in history in short. The read is audited like any read of patient data.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Patient
from backend.permissions import IsPatient
from followup.links import checkin_link_url
from followup.models import Appointment, CheckIn, ScheduledCheckIn
from followup.selectors import PatientSummary, patient_summary_get
from followup.services.appointments import iso
from followup.services.triage import clinic_phone_display


def _check_in_data(row: ScheduledCheckIn) -> dict[str, Any]:
    closes_at = row.due_at + timedelta(minutes=row.window_minutes)
    return {
        "id": row.pk,
        "due_at": iso(row.due_at),
        "closes_at": iso(closes_at),
        "window_minutes": row.window_minutes,
        "channel": row.channel,
        "status": row.status,
        "phase": row.phase,
        # The app may submit through POST /api/v1/check-ins/ with this id, or open
        # the same web form the SMS link opens.
        "form_url": checkin_link_url(scheduled_check_in_id=row.pk),
    }


def _appointment_data(appointment: Appointment) -> dict[str, Any]:
    return {
        "id": appointment.pk,
        "kind": appointment.kind,
        "starts_at": iso(appointment.starts_at),
        "status": appointment.status,
        "reason": appointment.reason,
        "video_url": appointment.video_url or None,
    }


def _history_data(check_in: CheckIn) -> dict[str, Any]:
    return {
        "id": check_in.pk,
        "taken_at": iso(check_in.taken_at),
        "submitted_at": iso(check_in.submitted_at),
        "level": check_in.level,
        "channel": check_in.channel,
        "scheduled_check_in": check_in.scheduled_check_in_id,
    }


def me_data(summary: PatientSummary) -> dict[str, Any]:
    patient = summary.patient
    clinic = patient.clinic
    return {
        "patient": {
            "id": patient.pk,
            "given_name": patient.given_name,
            "family_name": patient.family_name,
            "language": patient.language,
            "timezone": patient.timezone,
            "phone": str(patient.phone),
            "sms_opted_out": patient.sms_opted_out_at is not None,
        },
        "clinic": {
            "id": clinic.pk,
            "name": clinic.name,
            "phone": str(clinic.phone),
            "phone_display": clinic_phone_display(clinic=clinic),
        },
        "enrollment": {
            "id": summary.enrollment.pk,
            "protocol": summary.enrollment.protocol_version.protocol.slug,
            "protocol_version": summary.enrollment.protocol_version.version,
            "enrolled_at": iso(summary.enrollment.enrolled_at),
        }
        if summary.enrollment is not None
        else None,
        "next_check_in": _check_in_data(summary.next_check_in) if summary.next_check_in is not None else None,
        "upcoming_appointments": [_appointment_data(row) for row in summary.upcoming_appointments],
        "open_recall": _appointment_data(summary.open_recall) if summary.open_recall is not None else None,
        "check_in_history": {
            "counts": {**summary.check_in_counts, "missed": summary.missed_check_ins},
            "recent": [_history_data(row) for row in summary.recent_check_ins],
        },
    }


class MeApi(APIView):
    permission_classes = [IsPatient]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        patient = Patient.objects.select_related("clinic").get(user=request.user)
        summary = patient_summary_get(patient=patient, now=timezone.now())
        audit_record(
            actor=request.user,
            action=AuditAction.READ,
            object_type="patient",
            objects=[(patient.pk, patient.pk)],
            clinic_id=patient.clinic_id,
            audit=AuditContext.of(request._request),
        )
        return Response(me_data(summary))
