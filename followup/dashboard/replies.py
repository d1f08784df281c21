"""The patient page's reply form: a nurse texts the patient from their thread.

A form post that works without JavaScript (back to the thread with a message); the
page's script posts the same form asking for JSON. The decisions are in
``followup.services.staff_replies``; the API twin is ``followup.api.messages``."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from backend.audit import AuditContext
from backend.models import Patient, User
from backend.scoping import patient_list_for
from followup.dashboard.views import staff_required
from followup.services.staff_replies import ReplyConflict, ReplyRejected, staff_reply_send


@require_POST
@staff_required
def patient_reply(request: HttpRequest, patient_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    patient: Patient | None = patient_list_for(user=user).filter(pk=patient_id).first()
    if patient is None:
        raise Http404("No such patient.")
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        reply = staff_reply_send(
            patient=patient, body=request.POST.get("body", ""), by=user, audit=AuditContext.of(request)
        )
    except ReplyRejected as rejected:
        return _refused(request, patient, rejected.errors, 400, wants_json)
    except ReplyConflict as conflict:
        return _refused(request, patient, {"body": [conflict.detail], "reason": [conflict.reason]}, 409, wants_json)
    if wants_json:
        return JsonResponse({"id": reply.entry.pk, "items_handled": reply.items_handled}, status=201)
    messages.success(request, gettext("Reply sent by SMS."))
    return _thread(patient)


def _refused(
    request: HttpRequest, patient: Patient, errors: dict[str, list[str]], status: int, wants_json: bool
) -> HttpResponse:
    if wants_json:
        return JsonResponse(errors, status=status)
    for error in errors.get("body", []):
        messages.error(request, error)
    return _thread(patient)


def _thread(patient: Patient) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("dashboard-patient", args=[patient.pk]) + "#reply")
