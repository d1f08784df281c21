"""The app's history page: past check-ins, charts of temperature, weight and pain,
and the labs the clinic entered, each with its date on the patient's clock."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from backend.models import Patient
from followup.dashboard.patient_history import CHART_ANSWERS, patient_series
from followup.models import CheckIn, Observation
from followup.patient_app.access import app_render, patient_page
from followup.patient_app.labels import LAB, LEVEL, label

HISTORY_ROWS = 60


@require_GET
@patient_page
def history(request: HttpRequest) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    charted = {one.code for one in CHART_ANSWERS}
    series = [one for one in patient_series(patient=patient) if one["id"] in charted]
    check_ins = list(CheckIn.objects.filter(patient=patient).order_by("-taken_at", "-id")[:HISTORY_ROWS])
    labs = list(Observation.objects.filter(patient=patient, code__in=list(LAB)).order_by("-observed_at", "-id")[:100])
    context = {
        "series": series,
        "check_ins": [(row, label(LEVEL, row.level)) for row in check_ins],
        "labs": [(row, label(LAB, row.code)) for row in labs],
    }
    return app_render(request, "history.html", context)
