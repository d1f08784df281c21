"""The app's writes from forms: answering an appointment, writing to the clinic, and
the messages page that shows the thread."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from backend.audit import AuditContext
from backend.models import Patient
from followup.models import Appointment
from followup.patient_app.access import app_render, patient_page
from followup.patient_app.pages import SEEN_MESSAGE
from followup.services.appointment_answers import (
    appointment_answerable,
    appointment_patient_confirm,
    appointment_patient_decline,
)
from followup.services.patient_messages import MessageRejected, patient_message_send, patient_thread_list


@require_POST
@patient_page
def appointment_answer(request: HttpRequest, pk: int, answer: str) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    # Another patient's appointment reads as one that does not exist.
    appointment = Appointment.objects.select_related("origin_alert").filter(pk=pk, patient=patient).first()
    if appointment is None:
        raise Http404
    audit = AuditContext.of(request)
    done = False
    if appointment_answerable(appointment):
        if answer == "confirm":
            done = appointment_patient_confirm(appointment=appointment, patient=patient, audit=audit)
        else:
            done = appointment_patient_decline(appointment=appointment, patient=patient, audit=audit) is not None
    if not done:
        messages.warning(request, _("This appointment was changed by the clinic meanwhile: see it below."))
    elif answer == "confirm":
        messages.success(request, _("Thank you: the clinic knows you are coming."))
    else:
        messages.success(request, _("The clinic knows you cannot come. A nurse will call you to find another time."))
    return redirect("patient-app-plan")


@require_http_methods(["GET", "POST"])
@patient_page
def thread(request: HttpRequest) -> HttpResponse:
    patient: Patient = request.patient  # type: ignore[attr-defined]
    errors: list[str] = []
    body = ""
    status = 200
    if request.method == "POST":
        body = request.POST.get("body", "")
        try:
            patient_message_send(patient=patient, body=body, audit=AuditContext.of(request))
        except MessageRejected as rejected:
            errors = rejected.errors["body"]
            status = 400
        else:
            messages.success(request, _("Your message was sent to the clinic."))
            return redirect("patient-app-messages")
    rows = patient_thread_list(patient=patient)
    if rows:
        request.session[SEEN_MESSAGE] = max(int(request.session.get(SEEN_MESSAGE, 0)), rows[-1].id)
    return app_render(request, "messages.html", {"rows": rows, "errors": errors, "body": body}, status=status)
