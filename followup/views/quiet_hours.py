"""The plan page's quiet-hours form: staff give a patient their own quiet hours (a
night-shift worker sleeps by day) or hand them back to the clinic's. The API twin is
``PATCH /api/v1/patients/{id}/`` (``quiet_hours_start``/``quiet_hours_end``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from backend.audit import AuditContext
from backend.models import User
from followup import selectors
from followup.forms import PatientForm
from followup.services.quiet_hours import QuietHoursRejected, patient_quiet_hours_set
from followup.views.staff import staff_required


class QuietHoursForm(PatientForm):
    quiet_hours_start = forms.TimeField(label=_("Quiet from"), required=False, input_formats=["%H:%M"])
    quiet_hours_end = forms.TimeField(label=_("Quiet until"), required=False, input_formats=["%H:%M"])


@require_POST
@staff_required
def patient_quiet_hours(request: HttpRequest, patient_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    patient = selectors.patient_get(user=user, patient_id=patient_id)
    if patient is None:
        raise Http404
    form = QuietHoursForm(request.POST, tz=patient.timezone, patient_id=patient.pk)
    if form.is_valid():
        data: dict[str, Any] = form.cleaned_data
        try:
            patient_quiet_hours_set(
                patient=patient,
                start=data["quiet_hours_start"],
                end=data["quiet_hours_end"],
                by=user,
                audit=AuditContext.of(request),
            )
        except QuietHoursRejected as rejected:
            for problems in rejected.errors.values():
                for problem in problems:
                    messages.error(request, problem)
        else:
            messages.success(
                request,
                gettext("Quiet hours saved for %(name)s (MRN %(mrn)s).")
                % {"name": f"{patient.given_name} {patient.family_name}", "mrn": patient.mrn},
            )
    else:
        for problems in form.errors.values():
            for problem in problems:
                messages.error(request, problem)
    return HttpResponseRedirect(reverse("plans-patient", args=[patient.pk]) + "#quiet-hours")
