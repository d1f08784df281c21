"""A clinic administrator's sending identities: list, add, change (API and admin alike).

Validation is the model's (``SendingIdentity``: E.164 numbers, the Messaging Service
SID's form, one active default and one active identity per country per clinic, a
number or a service for one clinic only), its errors named by field. There is no
delete: an identity is switched off (``active`` false) and keeps routing the replies
of patients whose phones remember its number."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, User
from notifications.models import SendingIdentity

EDITABLE = ("country_code", "is_default", "from_number", "messaging_service_sid", "active")


class IdentityRejected(Exception):
    """Bad input (400): ``errors`` names each field with its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def sending_identity_list(*, clinic_id: int) -> QuerySet[SendingIdentity]:
    return SendingIdentity.objects.filter(clinic_id=clinic_id).order_by("id")


def sending_identity_save(
    *, identity: SendingIdentity, changes: dict[str, Any], by: User, audit: AuditContext | None = None
) -> SendingIdentity:
    """Apply ``changes`` (fields of ``EDITABLE``) to a new or existing identity of the
    caller's clinic, validate, store and audit; raises IdentityRejected and stores
    nothing when the result would be invalid."""
    created = identity.pk is None
    for field, value in changes.items():
        if field not in EDITABLE:
            raise IdentityRejected({field: [gettext("This field cannot be changed here.")]})
        setattr(identity, field, value)
    try:
        identity.full_clean()
    except ValidationError as error:
        raise IdentityRejected(_named(error.message_dict)) from None
    try:
        with transaction.atomic():
            identity.save()
            audit_record(
                actor=by,
                action=AuditAction.CREATE if created else AuditAction.UPDATE,
                object_type="sending_identity",
                objects=[(identity.pk, None)],
                clinic_id=identity.clinic_id,
                audit=audit,
            )
    except IntegrityError:
        # Another administrator took the number, the default or the country a moment ago.
        if created:
            identity.pk = None
        raise IdentityRejected(
            {"from_number": [gettext("This number, the default or the country was taken meanwhile.")]}
        ) from None
    return identity


def _named(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """DRF's name for errors that belong to no one field."""
    return {
        ("non_field_errors" if field == NON_FIELD_ERRORS else field): messages for field, messages in errors.items()
    }
