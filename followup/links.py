"""Signed, expiring links to the patient web check-in form (sent in SMS)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "vigil.checkin-link"


def checkin_link_token(*, scheduled_check_in_id: int) -> str:
    return signing.TimestampSigner(salt=SALT).sign(str(scheduled_check_in_id))


def checkin_link_url(*, scheduled_check_in_id: int) -> str:
    token = checkin_link_token(scheduled_check_in_id=scheduled_check_in_id)
    return settings.PUBLIC_BASE_URL + reverse("patient-checkin-form", kwargs={"token": token})


def checkin_link_read(*, token: str, max_age_seconds: int) -> int:
    """The scheduled check-in id a link names; raises signing.BadSignature (including
    SignatureExpired) when it was tampered with or is too old."""
    return int(signing.TimestampSigner(salt=SALT).unsign(token, max_age=max_age_seconds))
