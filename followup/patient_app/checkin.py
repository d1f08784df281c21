"""The app's check-in page and its result page.

The page asks the questions of the patient's protocol version (the enrollment's, never
the files' of today) for the due check-in's phase, leaving out those asked on a fact
of the episode that does not hold; the page's script shows one question per screen on
a phone, checks each answer's range before sending, follows the skip logic and sends
through the offline queue (``queue.js``) to ``POST /app/api/check-ins/`` with an
Idempotency-Key. The server judges the answers as for every channel; the result page
shows its advice, red first with the call button (H2)."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from backend.models import Patient
from followup.forms import display_unit
from followup.models import CheckIn, Enrollment, ScheduledCheckIn
from followup.patient_app.access import app_render, patient_page
from followup.patient_app.labels import LEVEL, label
from followup.patient_app.offline import red_answer_conditions
from followup.patient_app.pages import check_in_due
from followup.protocols import ProtocolDefinition, Question
from followup.selectors import OPEN_CHECKIN_STATUSES, active_enrollment
from followup.services.checkin_validation import local_day
from followup.services.protocols import protocol_definition
from followup.services.triage import clinic_phone_display, triage_advice


def _due_check_in(patient: Patient) -> ScheduledCheckIn | None:
    now = timezone.now()
    rows = ScheduledCheckIn.objects.filter(
        patient=patient, status__in=OPEN_CHECKIN_STATUSES, due_at__lte=now, due_at__gte=now - timedelta(days=14)
    ).order_by("due_at", "id")
    return next((row for row in rows if check_in_due(row, now)), None)


def _phase(enrollment: Enrollment, definition: ProtocolDefinition, scheduled: ScheduledCheckIn | None) -> str:
    if scheduled is not None:
        return scheduled.phase
    day = (
        local_day(timezone.now(), zoneinfo.ZoneInfo(enrollment.patient.timezone)) - enrollment.episode.discharge_date
    ).days
    return definition.schedule.phase_of_day(max(day, 0))


def _question_data(question: Question, language: str, default: str) -> dict[str, Any]:
    ask = question.ask_when
    return {
        "id": question.id,
        "type": question.type,
        "text": question.text.get(language) or question.text[default],
        "unit": display_unit(question),
        "min": question.min,
        "max": question.max,
        "required": question.required,
        "choices": [
            {"value": choice.value, "label": choice.labels.get(language) or choice.labels[default]}
            for choice in question.choices
        ],
        "ask_question": ask.question if ask is not None and ask.question else None,
        "ask_op": ask.op if ask is not None and ask.question else None,
        "ask_value": ask.value if ask is not None and ask.question else None,
    }


def check_in_questions(enrollment: Enrollment, phase: str, language: str) -> list[dict[str, Any]]:
    definition = protocol_definition(enrollment.protocol_version)
    flags = {
        "drain_at_discharge": enrollment.episode.drain_at_discharge,
        "has_pulse_device": enrollment.has_pulse_device,
    }
    return [
        _question_data(question, language, definition.default_language)
        for question in definition.phase_questions(phase)
        if question.ask_when is None or question.ask_when.flag is None or flags[question.ask_when.flag]
    ]


def script_texts() -> dict[str, str]:
    """What the page's script says, in the patient's language."""
    return {
        "required": _("Please answer this question."),
        "choose": _("Choose one of the answers."),
        "number": _("Enter a number from %(min)s to %(max)s, for example 37.5."),
        "whole": _("Enter a whole number from %(min)s to %(max)s."),
        "step": _("Question %(number)s of %(total)s"),
        "fix": _("Some answers need your attention. Nothing has been sent yet."),
        "sending": _("Sending your answers…"),
        "queued": _("Saved on this phone: your answers will be sent when you are online again."),
        "sent": _("Sent to the clinic."),
        "failed": _("Your answers could not be sent. Check them and try again, or call the clinic."),
    }


@require_GET
@patient_page
def check_in(request: HttpRequest) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    enrollment = active_enrollment(patient_id=patient.pk)
    if enrollment is None:
        return app_render(request, "not_enrolled.html", {})
    definition = protocol_definition(enrollment.protocol_version)
    scheduled = _due_check_in(patient)
    phase = _phase(enrollment, definition, scheduled)
    questions = check_in_questions(enrollment, phase, patient.language)
    context = {
        "scheduled": scheduled,
        "closes_at": scheduled.due_at + timedelta(minutes=scheduled.window_minutes) if scheduled else None,
        "questions": questions,
        "page_data": {
            "scheduled_check_in": scheduled.pk if scheduled else None,
            "questions": questions,
            "result_url": reverse("patient-app-result", args=[0]).replace("/0/", "/{id}/"),
        },
        # Held in the page so that a red answer saved offline shows the call at once.
        "red": {
            "advice": triage_advice(definition=definition, level="red", patient=patient),
            "phone": str(patient.clinic.phone),
            "phone_display": clinic_phone_display(clinic=patient.clinic),
            # The red rules the answers alone decide (queue.js shows #queued-red on them).
            "conditions": red_answer_conditions(definition=definition, phase=phase),
        },
        "clinic_phone": clinic_phone_display(clinic=patient.clinic),
        "texts": script_texts(),
    }
    return app_render(request, "checkin.html", context)


@require_GET
@patient_page
def check_in_result(request: HttpRequest, pk: int) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    # Another patient's check-in reads as one that does not exist (H12).
    row = CheckIn.objects.filter(pk=pk, patient=patient).first()
    if row is None:
        raise Http404
    context = {
        "check_in": row,
        "level_label": label(LEVEL, row.level),
        "clinic_phone": clinic_phone_display(clinic=patient.clinic),
    }
    return app_render(request, "result.html", context)
