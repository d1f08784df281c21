"""The steps of a staff sign-in, shared by the sign-in pages and the token API: the
password, then the second factor; the lock-out before each; an audit row for every
attempt, whatever its outcome (never the password or the code: only who, from where,
and what came of it, as ``object_type`` ``sign_in.<outcome>``)."""

from __future__ import annotations

import enum

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp.models import Device

from backend.audit import AuditContext, audit_record, client_address
from backend.enrolment_codes import enrolment_code_check
from backend.lockout import Lock, lockout_check, lockout_clear, lockout_failure_record
from backend.models import AuditAction, User
from backend.two_factor import totp_device_confirmed, two_factor_verify


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    BAD_PASSWORD = "bad_password"  # noqa: S105 - an outcome's name, not a password
    BAD_CODE = "bad_code"
    BAD_ENROLMENT_CODE = "bad_enrolment_code"
    LOCKED = "locked"
    NO_DEVICE = "no_device"
    NOT_ALLOWED = "not_allowed"


class SignInRefused(Exception):
    """Why a sign-in step failed: the outcome (audited), a message for the person, the
    field it concerns (API error shape) and the lock's remaining seconds, if locked."""

    def __init__(self, outcome: Outcome, message: str, *, field: str = "non_field_errors", retry_after: int = 0):
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.field = field
        self.retry_after = retry_after


def sign_in_audit(*, user: User | None, outcome: Outcome, request: HttpRequest | None) -> None:
    """One row per attempt. An unknown username is not written down (it may be a
    password typed into the wrong box): such a row names no one."""
    audit_record(
        actor=user,
        action=AuditAction.LOGIN,
        object_type=f"sign_in.{outcome}",
        objects=[(user.pk if user is not None else None, None)],
        clinic_id=getattr(user, "clinic_id", None),
        audit=AuditContext.of(request),
    )


def _locked_message(lock: Lock) -> str:
    minutes = max(1, -(-lock.retry_after // 60))
    return ngettext(
        "Too many failed sign-in attempts. Signing in is locked for %(minutes)d more minute, "
        "or until your clinic administrator unlocks the account.",
        "Too many failed sign-in attempts. Signing in is locked for %(minutes)d more minutes, "
        "or until your clinic administrator unlocks the account.",
        minutes,
    ) % {"minutes": minutes}


def _refuse_if_locked(*, username: str, user: User | None, request: HttpRequest | None) -> None:
    lock = lockout_check(username=username, address=client_address(request))
    if lock is not None:
        sign_in_audit(user=user, outcome=Outcome.LOCKED, request=request)
        raise SignInRefused(Outcome.LOCKED, _locked_message(lock), retry_after=lock.retry_after)


def _known(username: str) -> User | None:
    return User.objects.filter(username=username).first() if username else None


def staff_password_check(*, username: str, password: str, request: HttpRequest | None) -> User:
    """The first step: the account is not locked and the password is right, for an
    active member of a clinic's staff (a patient or a user without a clinic is refused
    with the words of a wrong password)."""
    _refuse_if_locked(username=username, user=_known(username), request=request)
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_clinic_staff:
        known = user or _known(username)
        lock = lockout_failure_record(username=username, address=client_address(request))
        sign_in_audit(user=known, outcome=Outcome.BAD_PASSWORD, request=request)
        message = _("The username or password is not right.")
        raise SignInRefused(
            Outcome.BAD_PASSWORD,
            f"{message} {_locked_message(lock)}" if lock else message,
            retry_after=lock.retry_after if lock else 0,
        )
    return user  # type: ignore[no-any-return]


def staff_code_check(*, user: User, code: str, request: HttpRequest | None, field: str = "otp_token") -> Device:
    """The second step: the authenticator's code or an unused recovery code."""
    _refuse_if_locked(username=user.get_username(), user=user, request=request)
    if totp_device_confirmed(user) is None:
        sign_in_audit(user=user, outcome=Outcome.NO_DEVICE, request=request)
        raise SignInRefused(
            Outcome.NO_DEVICE,
            _(
                "Two-factor sign-in is required and this account has no confirmed authenticator app: "
                "sign in once on the staff sign-in page to set one up."
            ),
            field=field,
        )
    device = two_factor_verify(user, code)
    if device is None:
        code_failed(user=user, request=request, field=field)
    return device  # type: ignore[return-value]


def code_failed(*, user: User, request: HttpRequest | None, field: str) -> None:
    """Count and audit a wrong code (sign-in or enrolment), then refuse."""
    lock = lockout_failure_record(username=user.get_username(), address=client_address(request))
    sign_in_audit(user=user, outcome=Outcome.BAD_CODE, request=request)
    message = _("The code is not right, or it has expired.")
    raise SignInRefused(
        Outcome.BAD_CODE,
        f"{message} {_locked_message(lock)}" if lock else message,
        field=field,
        retry_after=lock.retry_after if lock else 0,
    )


def staff_enrolment_code_check(*, user: User, code: str, request: HttpRequest | None, field: str) -> str:
    """Before the enrolment of an authenticator: the one-time code the clinic admin
    issued (``backend.enrolment_codes``). Returns its digest, which the enrolment uses
    up; a wrong one counts toward the lock-out like a wrong password."""
    _refuse_if_locked(username=user.get_username(), user=user, request=request)
    digest = enrolment_code_check(user=user, code=code)
    if digest is not None:
        return digest
    lock = lockout_failure_record(username=user.get_username(), address=client_address(request))
    sign_in_audit(user=user, outcome=Outcome.BAD_ENROLMENT_CODE, request=request)
    message = _(
        "The enrolment code is not right, or it has expired or was used. Ask your clinic administrator for a new one."
    )
    raise SignInRefused(
        Outcome.BAD_ENROLMENT_CODE,
        f"{message} {_locked_message(lock)}" if lock else message,
        field=field,
        retry_after=lock.retry_after if lock else 0,
    )


def staff_sign_in_succeeded(*, user: User, request: HttpRequest | None) -> None:
    """Both factors passed (or the second is not required): the account's failures are
    forgotten and the sign-in audited."""
    lockout_clear(username=user.get_username())
    sign_in_audit(user=user, outcome=Outcome.SUCCEEDED, request=request)
