"""Staff pages of a patient's data rights, for the clinic admin: the patient's
retention status with the export button and the erasure form (confirmed by typing the
MRN), and the list of patients the nightly review found past retention.

Doorways: the admin role or 403, the caller's clinic or 404 (H12), one service each;
the services write the audit rows of export and erasure, the pages their reads."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Patient, Role, User
from backend.scoping import patient_list_for
from followup.dashboard.views import staff_required
from followup.data_rights.erasure import ErasureRefused, patient_consent_withdraw, patient_erase
from followup.data_rights.export import patient_export
from followup.data_rights.retention import retention_status
from followup.data_rights.review import patients_due_for_erasure
from followup.data_rights.texts import refusal_message

View = Callable[..., HttpResponse]


def admin_required(view: View) -> View:
    @staff_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request.user, "role", None) != Role.ADMIN:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _admin(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    return user


def _patient_or_404(request: HttpRequest, patient_id: int) -> Patient:
    patient = patient_list_for(user=_admin(request)).select_related("clinic").filter(pk=patient_id).first()
    if patient is None:
        raise Http404("No such patient.")
    return patient


def _audit_read(request: HttpRequest, *, object_type: str, patient_ids: list[int]) -> None:
    user = _admin(request)
    audit_record(
        actor=user,
        action=AuditAction.READ,
        object_type=object_type,
        objects=[(patient_id, patient_id) for patient_id in patient_ids],
        clinic_id=user.clinic_id,
        audit=AuditContext.of(request),
    )


def _page(request: HttpRequest, patient: Patient, *, refusal: str = "", status: int = 200) -> HttpResponse:
    state = retention_status(patient=patient)
    _audit_read(request, object_type="patient_data_rights", patient_ids=[patient.pk])
    context = {"patient": patient, "state": state, "refusal": refusal}
    return render(request, "followup/data_rights/patient.html", context, status=status)


@require_GET
@admin_required
def data_rights_patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    return _page(request, _patient_or_404(request, patient_id))


@require_GET
@admin_required
def data_rights_export(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    export = patient_export(patient=patient, by=_admin(request), audit=AuditContext.of(request))
    response = HttpResponse(export.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


@require_POST
@admin_required
def data_rights_erase(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    if request.POST.get("confirm_mrn", "").strip() != patient.mrn:
        return _page(request, patient, refusal=_("Type the patient's MRN to confirm."), status=400)
    try:
        patient_erase(patient_id=patient.pk, by=_admin(request), audit=AuditContext.of(request))
    except ErasureRefused as refused:
        return _page(request, patient, refusal=refusal_message(refused.status)[1], status=409)
    messages.success(request, _("The patient's data was erased; the anonymised clinical record remains."))
    return HttpResponseRedirect(reverse("data-rights-patient", args=[patient.pk]))


@require_POST
@admin_required
def data_rights_consent_withdraw(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient_or_404(request, patient_id)
    patient_consent_withdraw(patient=patient, by=_admin(request), audit=AuditContext.of(request))
    messages.success(request, _("The withdrawal of consent was recorded."))
    return HttpResponseRedirect(reverse("data-rights-patient", args=[patient.pk]))


@require_GET
@admin_required
def data_rights_due(request: HttpRequest) -> HttpResponse:
    """The nightly review's list: patients past retention, for the admin to confirm."""
    patients = list(patients_due_for_erasure(clinic_id=_admin(request).clinic_id)[:200])
    _audit_read(request, object_type="patient_erasure_due", patient_ids=[patient.pk for patient in patients])
    return render(request, "followup/data_rights/due.html", {"patients": patients})
