"""Staff two-factor sign-in: an authenticator app (TOTP) and ten recovery codes.

Built on django-otp: a confirmed ``TOTPDevice`` is the authenticator, a ``StaticDevice``
holds the recovery codes (each deleted as it is used, so it works once). Every staff
role needs both factors on the staff pages and to create an API token while
``settings.STAFF_TWO_FACTOR`` is on (always, outside DEBUG and the embedded demo).

Enrolment happens in the sign-in itself: after the right password, a member without a
confirmed authenticator types the one-time enrolment code their clinic admin issued
(``backend.enrolment_codes``: the password alone does not enrol), is then shown its QR
code and signs in by typing its first code, which uses the enrolment code up; the
recovery codes are shown once, then. A lost phone is the clinic admin's to reset
(``two_factor_reset``, audited); the member then enrols again at the next sign-in,
with a new enrolment code.
"""

from __future__ import annotations

import re
from base64 import b32encode

import segno
from django.conf import settings
from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.audit import AuditContext, audit_record
from backend.enrolment_codes import enrolment_code_use
from backend.lockout import lockout_clear
from backend.models import STAFF_ROLES, AuditAction, User

RECOVERY_CODE_COUNT = 10
_AUTHENTICATOR = "authenticator"
_RECOVERY = "recovery codes"


def two_factor_required(user: User) -> bool:
    """Does this account need a second factor (any staff role, with the switch on)?"""
    return bool(settings.STAFF_TWO_FACTOR) and user.role in STAFF_ROLES


def totp_device_confirmed(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def totp_enrolment_device(user: User) -> TOTPDevice:
    """The unconfirmed authenticator being set up (a new secret on first call; the same
    one until it is confirmed, so a reload does not invalidate the scanned QR code)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    return device or TOTPDevice.objects.create(user=user, name=_AUTHENTICATOR, confirmed=False)


def totp_qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG (no script, no external image)."""
    return str(segno.make(device.config_url, error="m").svg_inline(scale=4, border=2, dark="#111", light="#fff"))


def totp_secret_text(device: TOTPDevice) -> str:
    """The secret in base32 groups of four, for typing into an app by hand."""
    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _normalised(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def two_factor_verify(user: User, code: str) -> Device | None:
    """The device that accepts this code (the authenticator's 6 digits, or a recovery
    code, which is used up), or None."""
    code = _normalised(code)
    if not code or len(code) > 16:
        return None
    if code.isdigit() and len(code) == 6:
        for device in TOTPDevice.objects.filter(user=user, confirmed=True):
            if device.verify_token(code):
                return device
        return None
    for device in StaticDevice.objects.filter(user=user, confirmed=True):
        if device.verify_token(code):
            return device
    return None


def recovery_codes_create(user: User) -> list[str]:
    """Ten new single-use recovery codes, replacing any earlier ones. Returned in clear
    once, to be shown to the member; django-otp keeps them to compare."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=_RECOVERY, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


class EnrolmentCodeGone(Exception):
    """The enrolment code the sign-in was allowed with expired, or was replaced or used
    meanwhile: no enrolment."""


def totp_enrolment_confirm(*, user: User, device: TOTPDevice, code: str, enrolment_digest: str) -> list[str] | None:
    """Confirm the authenticator with its first code, using up the enrolment code the
    sign-in was allowed with; returns the new recovery codes, or None if the code is
    wrong (``EnrolmentCodeGone`` if the enrolment code no longer holds)."""
    code = _normalised(code)
    if device.user_id != user.pk or device.confirmed or not (code.isdigit() and len(code) == 6):
        return None
    if not device.verify_token(code):
        return None
    with transaction.atomic():
        if not enrolment_code_use(user=user, digest=enrolment_digest):
            raise EnrolmentCodeGone
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return recovery_codes_create(user)


def two_factor_reset(*, user: User, by: User, audit: AuditContext | None) -> None:
    """The clinic admin's reset of a lost device: every authenticator and recovery code
    of the member goes, the lock-out too; they enrol again at their next sign-in."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit_record(
            actor=by,
            action=AuditAction.DELETE,
            object_type="two_factor_device",
            objects=[(user.pk, None)],
            clinic_id=by.clinic_id,
            audit=audit,
        )
    lockout_clear(username=user.get_username())
