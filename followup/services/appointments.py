"""THE representation of an appointment, and the one way its changes reach the dashboard.

``appointment_data`` is the appointment as ``GET /api/v1/appointments/{id}/`` returns it;
``appointment.updated`` carries exactly that, for every change (created, moved,
cancelled, proposed as a recall, confirmed by the patient's YES), so a websocket
client and a GET agree to the field (API.md, "Real time"). Every publisher calls
``appointment_updated_publish``.

This module imports no other service: the recall path (``followup.services.alerts``,
``followup.sms.recalls``) and the scheduling path both use it without an import cycle.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from followup.models import Appointment
from notifications.events import event_publish
from notifications.models import Event

# An appointment still ahead of the patient: a plan recompute may move it, and a
# patient has at most one such recall.
OPEN_APPOINTMENT_STATUSES = (
    Appointment.Status.PROPOSED,
    Appointment.Status.SCHEDULED,
    Appointment.Status.CONFIRMED,
)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, written as DRF writes it (``Z``), so events equal API replies."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def appointment_data(*, appointment: Appointment) -> dict[str, Any]:
    """The appointment as ``GET /api/v1/appointments/{id}/`` returns it (the fields of
    ``followup.api.plans.AppointmentOutput``, written as DRF writes them)."""
    return {
        "id": appointment.pk,
        "patient": appointment.patient_id,
        "enrollment": appointment.enrollment_id,
        "kind": appointment.kind,
        "starts_at": iso(appointment.starts_at),
        "status": appointment.status,
        "reason": appointment.reason,
        "video_url": appointment.video_url or None,
        "detail": appointment.detail,
        "plan_key": appointment.plan_key,
        "origin_alert": appointment.origin_alert_id,
        "reminded_at": iso(appointment.reminded_at),
        "moved_by": appointment.moved_by_id,
        "created_by": appointment.created_by_id,
        "created_at": iso(appointment.created_at),
        "updated_at": iso(appointment.updated_at),
    }


def appointment_updated_publish(*, appointment: Appointment, clinic_id: int) -> Event:
    """``appointment.updated`` for the clinic's dashboards, inside the caller's
    transaction (it fans out after commit)."""
    return event_publish(
        clinic_id=clinic_id, type="appointment.updated", data=appointment_data(appointment=appointment)
    )
