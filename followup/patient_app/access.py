"""Who may open an ``/app/`` page: a signed-in patient, for their own data.

Anonymous visitors go to the sign-in page; a staff session (or any other kind of
user) is refused with a 403: the app is not a back door into the staff's view, and a
nurse must not be mistaken for a patient. Each page is rendered in the patient's
language and time zone whatever the browser says, is never cached by the browser
(it holds health data), and carries ``request.patient``."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers

from backend.models import Patient

View = Callable[..., HttpResponse]


def signed_in_patient(request: HttpRequest) -> Patient | None:
    """The patient of this session, or None (anonymous). Raises PermissionDenied for
    a session of anyone who is not a patient."""
    user = request.user
    if not user.is_authenticated:
        return None
    if not getattr(user, "is_patient", False):
        raise PermissionDenied
    patient = Patient.objects.select_related("clinic").filter(user=user).first()
    if patient is None:
        raise PermissionDenied
    return patient


def patient_page(view: View) -> View:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        patient = signed_in_patient(request)
        if patient is None:
            return redirect("patient-app-sign-in")
        request.patient = patient  # type: ignore[attr-defined]
        with translation.override(patient.language), timezone.override(zoneinfo.ZoneInfo(patient.timezone)):
            response = view(request, *args, **kwargs)
            if hasattr(response, "render"):
                response.render()
        response.headers["Content-Language"] = patient.language
        add_never_cache_headers(response)
        return response

    return wrapped


def app_render(request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    patient = getattr(request, "patient", None)
    base = {"patient": patient, "clinic": patient.clinic if patient else None, "app_page": template.rsplit("/", 1)[-1]}
    return render(request, f"followup/patient_app/{template}", {**base, **context}, status=status)
