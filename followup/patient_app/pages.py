"""The app's home and plan pages: what is due, what is coming, what the clinic said."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from backend.models import Patient
from followup.models import Appointment, CheckIn, ScheduledCheckIn
from followup.patient_app.access import app_render, patient_page
from followup.patient_app.labels import APPOINTMENT_KIND, APPOINTMENT_STATUS, LEVEL, label
from followup.selectors import OPEN_CHECKIN_STATUSES, patient_summary_get
from followup.services.appointment_answers import appointment_answerable
from followup.services.patient_messages import patient_replies_unread
from followup.services.triage import clinic_phone_display

SEEN_MESSAGE = "patient_app_seen_message"
# A video visit's Join button shows from this long before the start until this long after.
JOIN_BEFORE = timedelta(minutes=15)
JOIN_UNTIL = timedelta(hours=2)
PLAN_DAYS = 120


@dataclass(frozen=True)
class PlanAppointment:
    appointment: Appointment
    kind_label: str
    status_label: str
    answerable: bool
    join_url: str | None


def plan_appointment(appointment: Appointment, now: datetime) -> PlanAppointment:
    join = None
    url = appointment.video_url or ""
    if (
        appointment.kind == Appointment.Kind.TELEMEDICINE
        and url.startswith("https://")
        and appointment.starts_at - JOIN_BEFORE <= now <= appointment.starts_at + JOIN_UNTIL
    ):
        join = url
    return PlanAppointment(
        appointment=appointment,
        kind_label=label(APPOINTMENT_KIND, appointment.kind),
        status_label=label(APPOINTMENT_STATUS, appointment.status),
        answerable=appointment_answerable(appointment),
        join_url=join,
    )


def check_in_due(row: ScheduledCheckIn | None, now: datetime) -> bool:
    return row is not None and row.due_at <= now < row.due_at + timedelta(minutes=row.window_minutes)


@require_GET
@patient_page
def home(request: HttpRequest) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    now = timezone.now()
    summary = patient_summary_get(patient=patient, now=now, recent=1)
    coming = sorted(
        [*summary.upcoming_appointments, *([summary.open_recall] if summary.open_recall else [])],
        key=lambda row: row.starts_at,
    )
    latest: CheckIn | None = summary.recent_check_ins[0] if summary.recent_check_ins else None
    context = {
        "next_check_in": summary.next_check_in,
        "check_in_due": check_in_due(summary.next_check_in, now),
        "next_appointment": plan_appointment(coming[0], now) if coming else None,
        "latest": latest,
        "latest_label": label(LEVEL, latest.level) if latest else "",
        "unread": patient_replies_unread(patient=patient, seen_id=int(request.session.get(SEEN_MESSAGE, 0))),
        "clinic_phone": clinic_phone_display(clinic=patient.clinic),
    }
    return app_render(request, "home.html", context)


@require_GET
@patient_page
def plan(request: HttpRequest) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    now = timezone.now()
    check_ins = list(
        ScheduledCheckIn.objects.filter(
            patient=patient,
            status__in=OPEN_CHECKIN_STATUSES,
            due_at__gte=now - timedelta(days=14),
            due_at__lte=now + timedelta(days=PLAN_DAYS),
        ).order_by("due_at", "id")
    )
    check_ins = [row for row in check_ins if row.due_at + timedelta(minutes=row.window_minutes) > now]
    appointments = (
        Appointment.objects.filter(patient=patient, starts_at__gte=now - JOIN_UNTIL)
        .exclude(status__in=[Appointment.Status.CANCELLED, Appointment.Status.ATTENDED, Appointment.Status.MISSED])
        .order_by("starts_at", "id")
    )
    context = {
        "check_ins": [(row, check_in_due(row, now)) for row in check_ins],
        "appointments": [plan_appointment(row, now) for row in appointments],
    }
    return app_render(request, "plan.html", context)
