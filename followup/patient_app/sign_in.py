"""Signing in to the app with the one-time code the clinic texted, and signing out.

The code is checked by the same service as ``POST /api/v1/auth/patient-token/``
(``backend.services.patient_code_redeem``: once, expiring, a few wrong guesses kill
it, each sign-in audited) behind the same throttles; then a session cookie lasting as
long as a patient token (HttpOnly, SameSite=Lax, Secure in production: settings)."""

from __future__ import annotations

from types import SimpleNamespace

import phonenumbers
from django import forms
from django.conf import settings
from django.contrib.auth import login, logout
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from backend.services import AuthenticationFailed, patient_code_redeem
from backend.throttles import PatientCodeAccountThrottle, PatientCodeAddressThrottle
from followup.patient_app.access import signed_in_patient


class CodeSignInForm(forms.Form):
    phone = forms.CharField(
        label=_("Your mobile number, with the country code"),
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "+90 530 123 45 67"}),
    )
    code = forms.RegexField(
        label=_("The 6-digit code from the clinic's SMS"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("The code is six digits.")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )

    def clean_phone(self) -> str:
        text = self.cleaned_data["phone"].strip()
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise forms.ValidationError(_("Enter your number with + and the country code, such as +90 530 123 45 67."))
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip()


def _throttled(request: HttpRequest, phone: str) -> bool:
    # The API's throttles, per address and per phone: a guesser gains nothing by
    # switching from the API to this page.
    shim = SimpleNamespace(META=request.META, headers=request.headers, data={"phone": phone})
    throttles = (PatientCodeAddressThrottle(), PatientCodeAccountThrottle())
    return not all(throttle.allow_request(shim, None) for throttle in throttles)


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    try:
        if signed_in_patient(request) is not None:
            return redirect("patient-app-home")
    except PermissionDenied:
        pass  # a staff session: the form still lets a patient sign in on this browser
    form = CodeSignInForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            phone, code = form.cleaned_data["phone"], form.cleaned_data["code"]
            if _throttled(request, phone):
                form.add_error(None, _("Too many tries. Wait a few minutes and try again."))
                status = 429
            else:
                try:
                    _patient, user = patient_code_redeem(phone=phone, code=code, request=request)
                except AuthenticationFailed:
                    form.add_error("code", _("This code is wrong, used or expired. Ask the clinic for a new one."))
                else:
                    login(request, user, backend="backend.auth_backend.ClinicUserBackend")
                    request.session.set_expiry(int(settings.PATIENT_TOKEN_TTL.total_seconds()))
                    return redirect("patient-app-home")
    return render(request, "followup/patient_app/sign_in.html", {"form": form}, status=status)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("patient-app-sign-in")
