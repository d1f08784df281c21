"""One-time enrolment codes: what a member of staff needs, besides their password, to
set up their authenticator app.

Without it, whoever learnt a member's password before the member enrolled (or after
the admin reset a lost phone) could enrol their own phone first and own the account.
So the clinic admin issues a code for the member (shown to the admin once, valid
``STAFF_ENROLMENT_CODE_TTL``, 24 h; audited ``create enrolment_code <user id>``) and
hands it over in person or by a channel of their choice; the member types it at
``/login/enrol/`` after their password, and only then sees the QR code. The enrolment it
allowed uses it up. Only a keyed digest is kept. A wrong code counts toward the
sign-in lock-out like a wrong password.

The clinic's first admin gets theirs from ``manage.py staff_enrolment_code <username>``
(the person who runs the server). With staff two-factor sign-in off (the ``make run``
demo) there is no enrolment and no code."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, StaffEnrolmentCode, User

# No 0/O, 1/I/L: read aloud or copied from a note without doubt.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_LENGTH = 12


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime


def _normalised(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())[:64]


def enrolment_code_digest(code: str) -> str:
    return salted_hmac("vigil.staff-enrolment-code", _normalised(code)).hexdigest()


def enrolment_code_issue(*, user: User, by: User | None, audit: AuditContext | None) -> IssuedCode:
    """A new code for ``user`` (replacing any earlier one), to be shown once."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
    code = "-".join(raw[i : i + 4] for i in range(0, _LENGTH, 4))
    now = timezone.now()
    expires_at = now + settings.STAFF_ENROLMENT_CODE_TTL
    with transaction.atomic():
        StaffEnrolmentCode.objects.update_or_create(
            user=user,
            defaults={"digest": enrolment_code_digest(code), "created_at": now, "expires_at": expires_at},
        )
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            object_type="enrolment_code",
            objects=[(user.pk, None)],
            clinic_id=user.clinic_id,
            audit=audit,
        )
    return IssuedCode(code=code, expires_at=expires_at)


def enrolment_code_check(*, user: User, code: str) -> str | None:
    """The digest of ``user``'s live code if ``code`` is it (kept in the sign-in's
    pending state until the enrolment uses it), else None."""
    if not _normalised(code):
        return None
    live = StaffEnrolmentCode.objects.filter(user=user, expires_at__gt=timezone.now()).first()
    digest = enrolment_code_digest(code)
    if live is None or not constant_time_compare(live.digest, digest):
        return None
    return digest


def enrolment_code_use(*, user: User, digest: str) -> bool:
    """Use up the code an enrolment was allowed with: False if it expired, or was
    replaced or used meanwhile (then the enrolment does not happen)."""
    deleted, _rows = StaffEnrolmentCode.objects.filter(user=user, digest=digest, expires_at__gt=timezone.now()).delete()
    return deleted > 0


def enrolment_code_live(user: User) -> bool:
    """For the admin's page: has this member a code not yet used or expired?"""
    return StaffEnrolmentCode.objects.filter(user=user, expires_at__gt=timezone.now()).exists()
