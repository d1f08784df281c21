"""Write operations of the clinic core: signing in and the one-time enrollment codes."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from knox.models import AuthToken

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, EnrollmentCode, Patient, Role, User
from backend.sign_in import (
    Outcome,
    SignInRefused,
    sign_in_audit,
    staff_code_check,
    staff_password_check,
    staff_sign_in_succeeded,
)
from backend.two_factor import totp_device_confirmed, two_factor_required


class AuthenticationFailed(Exception):
    """Credentials did not match. The message is the same whatever was wrong, so that
    it never tells a guesser which part was right."""


@dataclass(frozen=True)
class IssuedToken:
    key: str
    expires_at: datetime
    user: User


def staff_token_issue(*, username: str, password: str, otp_token: str = "", request: HttpRequest | None) -> IssuedToken:
    """An API token for a member of staff: the password, and with two-factor sign-in on
    (always in production) a code of their confirmed authenticator or a recovery code.
    Raises ``SignInRefused`` (each attempt audited and counted by the lock-out)."""
    user = staff_password_check(username=username, password=password, request=request)
    if user.is_wall_display:
        sign_in_audit(user=user, outcome=Outcome.NOT_ALLOWED, request=request)
        message = _("A wall display watches the dashboard page only: it has no API token.")
        raise SignInRefused(Outcome.NOT_ALLOWED, message)
    if two_factor_required(user):
        if not otp_token:
            if totp_device_confirmed(user) is None:
                staff_code_check(user=user, code="", request=request)  # refuses, naming the missing device
            raise SignInRefused(
                Outcome.BAD_CODE,
                _("Two-factor sign-in is on: send the code of your authenticator app (or a recovery code)."),
                field="otp_token",
            )
        staff_code_check(user=user, code=otp_token, request=request)
    instance, key = AuthToken.objects.create(user=user, expiry=settings.STAFF_TOKEN_TTL)
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    staff_sign_in_succeeded(user=user, request=request)
    return IssuedToken(key=key, expires_at=instance.expiry, user=user)


def _code_hash(code: str) -> str:
    # Codes are short-lived and tries are capped, so a keyed HMAC is enough; a slow
    # password hash would only slow down every legitimate exchange.
    return salted_hmac("vigil.enrollment-code", code).hexdigest()


def enrollment_code_create(*, patient: Patient, by: User) -> str:
    """Make a new one-time code for a patient, replacing any unused one. Returns the
    code in clear: the caller sends it and must not store it anywhere else."""
    now = timezone.now()
    code = f"{secrets.randbelow(1_000_000):06d}"
    with transaction.atomic():
        EnrollmentCode.objects.filter(patient=patient, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        EnrollmentCode.objects.create(
            patient=patient,
            code_hash=_code_hash(code),
            expires_at=now + settings.ENROLLMENT_CODE_TTL,
            created_by=by,
        )
    return code


def patient_user_get_or_create(patient: Patient) -> User:
    if patient.user_id is not None:
        return patient.user  # type: ignore[return-value]
    user = User.objects.create(
        username=f"patient-{patient.pk}",
        role=Role.PATIENT,
        clinic=None,
        is_staff=False,
    )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    patient.user = user
    patient.save(update_fields=["user"])
    return user


def patient_code_redeem(*, phone: str, code: str, request: HttpRequest | None) -> tuple[Patient, User]:
    """Check a phone number and a one-time code, use the code up and audit the sign-in;
    the patient and their user. Raises ``AuthenticationFailed``.

    A code works once and expires; each wrong guess counts against every live code of
    that phone, and a code dies after ENROLLMENT_CODE_MAX_ATTEMPTS wrong guesses. The
    token exchange and the patient app's session sign-in both go through here."""
    now = timezone.now()
    wanted = _code_hash(code)
    with transaction.atomic():
        live = list(
            EnrollmentCode.objects.select_for_update()
            .select_related("patient")
            .filter(
                patient__phone=phone,
                used_at__isnull=True,
                expires_at__gt=now,
                failed_attempts__lt=settings.ENROLLMENT_CODE_MAX_ATTEMPTS,
            )
        )
        match = next((row for row in live if hmac.compare_digest(row.code_hash, wanted)), None)
        if match is None:
            for row in live:
                row.failed_attempts += 1
                row.save(update_fields=["failed_attempts"])
        else:
            match.used_at = now
            match.save(update_fields=["used_at"])
            patient = match.patient
            user = patient_user_get_or_create(patient)
            audit_record(
                actor=user,
                action=AuditAction.LOGIN,
                object_type="patient",
                objects=[(patient.pk, patient.pk)],
                clinic_id=patient.clinic_id,
                audit=AuditContext.of(request),
            )
    # Raised outside the atomic block so that the failed-attempt counts are kept.
    if match is None:
        raise AuthenticationFailed("The code is wrong, used or expired.")
    return patient, user


def patient_token_exchange(*, phone: str, code: str, request: HttpRequest | None) -> tuple[IssuedToken, Patient]:
    """Trade a phone number and a one-time code for a patient token (``patient_code_redeem``)."""
    patient, user = patient_code_redeem(phone=phone, code=code, request=request)
    instance, key = AuthToken.objects.create(user=user, expiry=settings.PATIENT_TOKEN_TTL)
    return IssuedToken(key=key, expires_at=instance.expiry, user=user), patient
