"""A clinic's hospital-system service account (role ``integration``).

One account per clinic, with no password and no phone: it signs in with nothing but
the knox token issued here, and that token opens only the endpoints guarded by
``IsClinicIntegration`` (lab results and enrolments for its clinic, POST
/fhir/Bundle). The token is shown once, when it is issued; issuing a new one revokes
the account's earlier tokens unless told to keep them (a rotation with overlap)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from knox.models import AuthToken

from backend.audit import audit_record
from backend.models import AuditAction, Clinic, Role, User

DEFAULT_TOKEN_DAYS = 365


@dataclass(frozen=True)
class ServiceAccountToken:
    user: User
    token: str
    expires_at: datetime | None
    created: bool  # the account itself was created now
    revoked: int  # earlier tokens revoked


def service_account_username(clinic: Clinic) -> str:
    return f"integration-clinic-{clinic.pk}"


def service_account_issue(
    *, clinic: Clinic, days: int = DEFAULT_TOKEN_DAYS, keep_existing: bool = False
) -> ServiceAccountToken:
    """The clinic's service account (created on first use) with a new token valid for
    ``days``; the account's other tokens are revoked unless ``keep_existing``."""
    if days < 1:
        raise ValueError("a token is valid for at least one day")
    with transaction.atomic():
        user, created = User.objects.get_or_create(
            username=service_account_username(clinic),
            defaults={"role": Role.INTEGRATION, "clinic": clinic, "first_name": "Hospital system"},
        )
        if user.role != Role.INTEGRATION or user.clinic_id != clinic.pk:
            # The name is ours by construction; anything else under it is not to be armed.
            raise ValueError(f"user {user.username} exists and is not this clinic's service account")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        revoked = 0
        if not keep_existing:
            revoked, _ = AuthToken.objects.filter(user=user).delete()
        instance, token = AuthToken.objects.create(user=user, expiry=timedelta(days=days))
        audit_record(
            actor=None,
            action=AuditAction.CREATE,
            object_type="service_account_token",
            objects=[(user.pk, None)],
            clinic_id=clinic.pk,
        )
    return ServiceAccountToken(user=user, token=token, expires_at=instance.expiry, created=created, revoked=revoked)
