"""The staff sign-in pages: the password, then the second factor (the code of the
authenticator app or a recovery code), or on a first sign-in the enrolment of the app:
the one-time enrolment code from the clinic admin, the QR code, and the ten recovery
codes, shown once.

Doorways: each step parses its form and calls ``backend.sign_in``. Between the steps
the session holds only who passed the password and when (``PENDING``), never a
signed-in user: Django's ``login`` runs once both factors passed, and
``django_otp.login`` marks the session as verified (``backend.session_guard`` refuses
a staff session that is not)."""

from __future__ import annotations

import time
from typing import Any

from django import forms
from django.contrib.auth import login as auth_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from backend.models import User
from backend.sessions import signed_in_session_record
from backend.sign_in import (
    SignInRefused,
    code_failed,
    staff_code_check,
    staff_enrolment_code_check,
    staff_password_check,
    staff_sign_in_succeeded,
)
from backend.two_factor import (
    EnrolmentCodeGone,
    recovery_codes_left,
    totp_device_confirmed,
    totp_enrolment_confirm,
    totp_enrolment_device,
    totp_qr_svg,
    totp_secret_text,
    two_factor_required,
)

PENDING = "vigil_sign_in_pending"
RECOVERY_CODES = "vigil_recovery_codes_once"
# In PENDING once the enrolment code was right: its digest, used up by the enrolment.
ENROLMENT_DIGEST = "enrolment_code"
# The second step must follow the first within this time.
PENDING_SECONDS = 300


class PasswordForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(max_length=256, strip=False, widget=forms.PasswordInput)


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=32)


class EnrolmentCodeForm(forms.Form):
    enrolment_code = forms.CharField(label=_("Enrolment code"), max_length=64)


def _next_url(request: HttpRequest, candidate: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("plans-today")


def _landing(request: HttpRequest, user: User, candidate: str) -> str:
    """Where a sign-in ends: the page asked for, or the day's plan; for a wall display
    always the dashboard (the one page a ward screen may open)."""
    return reverse("dashboard") if user.is_wall_display else _next_url(request, candidate)


def _signed_in(request: HttpRequest, user: User, device: Any, next_url: str) -> HttpResponse:
    request.session.pop(PENDING, None)
    auth_login(request, user, backend="backend.auth_backend.ClinicUserBackend")
    if device is not None:
        otp_login(request, device)
    signed_in_session_record(request=request, user=user)
    staff_sign_in_succeeded(user=user, request=request)
    return HttpResponseRedirect(next_url)


def _pending_user(request: HttpRequest) -> tuple[User | None, str]:
    pending = request.session.get(PENDING) or {}
    if not pending or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None, ""
    user = User.objects.select_related("clinic").filter(pk=pending.get("user"), is_active=True).first()
    if user is None or not user.is_clinic_staff:
        return None, ""
    return user, str(pending.get("next", ""))


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_password(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request, request.POST.get("next") or request.GET.get("next", ""))
    user = request.user
    if user.is_authenticated and getattr(user, "is_clinic_staff", False):
        return HttpResponseRedirect(_landing(request, user, next_url))  # type: ignore[arg-type]
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = staff_password_check(
                username=form.cleaned_data["username"], password=form.cleaned_data["password"], request=request
            )
        except SignInRefused as refused:
            form.add_error(None, refused.message)
        else:
            if not two_factor_required(user):
                return _signed_in(request, user, None, _landing(request, user, next_url))
            request.session.cycle_key()
            request.session[PENDING] = {"user": user.pk, "at": time.time(), "next": next_url}
            step = "sign-in-code" if totp_device_confirmed(user) is not None else "sign-in-enrol"
            return HttpResponseRedirect(reverse(step))
    return render(request, "followup/plans/login.html", {"form": form, "next": next_url})


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_code(request: HttpRequest) -> HttpResponse:
    user, next_url = _pending_user(request)
    if user is None:
        return HttpResponseRedirect(reverse("plans-login"))
    if totp_device_confirmed(user) is None:
        return HttpResponseRedirect(reverse("sign-in-enrol"))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = staff_code_check(user=user, code=form.cleaned_data["code"], request=request, field="code")
        except SignInRefused as refused:
            form.add_error("code", refused.message)
        else:
            return _signed_in(request, user, device, _landing(request, user, next_url))
    return render(request, "backend/sign_in/code.html", {"form": form})


def _enrolment_code_step(request: HttpRequest, user: User) -> HttpResponse:
    """Before the QR code: the one-time code the clinic admin issued (the password
    alone does not enrol)."""
    form = EnrolmentCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            digest = staff_enrolment_code_check(
                user=user, code=form.cleaned_data["enrolment_code"], request=request, field="enrolment_code"
            )
        except SignInRefused as refused:
            form.add_error("enrolment_code", refused.message)
        else:
            request.session[PENDING] = {**request.session[PENDING], ENROLMENT_DIGEST: digest}
            return HttpResponseRedirect(reverse("sign-in-enrol"))
    return render(request, "backend/sign_in/enrol_code.html", {"form": form})


@sensitive_post_parameters("code", "enrolment_code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_enrol(request: HttpRequest) -> HttpResponse:
    """A first sign-in (or the first after a reset): the enrolment code from the clinic
    admin, then scan the QR code and type the app's first code."""
    user, next_url = _pending_user(request)
    if user is None:
        return HttpResponseRedirect(reverse("plans-login"))
    if totp_device_confirmed(user) is not None:
        return HttpResponseRedirect(reverse("sign-in-code"))
    enrolment_digest = str(request.session[PENDING].get(ENROLMENT_DIGEST, ""))
    if not enrolment_digest:
        return _enrolment_code_step(request, user)
    device = totp_enrolment_device(user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = totp_enrolment_confirm(
                user=user, device=device, code=form.cleaned_data["code"], enrolment_digest=enrolment_digest
            )
        except EnrolmentCodeGone:
            request.session[PENDING] = {k: v for k, v in request.session[PENDING].items() if k != ENROLMENT_DIGEST}
            return _enrolment_code_step(request, user)
        if codes is None:
            try:
                code_failed(user=user, request=request, field="code")
            except SignInRefused as refused:
                form.add_error("code", refused.message)
        else:
            response = _signed_in(request, user, device, reverse("sign-in-recovery-codes"))
            request.session[RECOVERY_CODES] = {"codes": codes, "next": _landing(request, user, next_url)}
            return response
    context = {"form": form, "qr_svg": totp_qr_svg(device), "secret": totp_secret_text(device)}
    return render(request, "backend/sign_in/enrol.html", context)


@never_cache
@require_http_methods(["GET"])
def sign_in_recovery_codes(request: HttpRequest) -> HttpResponse:
    """The recovery codes, once: right after enrolment (taken from the session as shown)."""
    shown = request.session.pop(RECOVERY_CODES, None)
    if not request.user.is_authenticated or not shown:
        return HttpResponseRedirect(reverse("plans-login"))
    user: User = request.user  # type: ignore[assignment]
    context = {"codes": shown["codes"], "next": shown["next"], "left": recovery_codes_left(user)}
    return render(request, "backend/sign_in/recovery_codes.html", context)
