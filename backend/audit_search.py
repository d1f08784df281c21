"""Reading the audit trail back (the clinic admin's audit viewer, issue 20): one
clinic's records filtered by user, patient and time, and their CSV form.

A clinic's records are those stamped with its id, plus the records without a clinic
(a sign-in, a token) whose actor is one of its staff. Reading them is itself audited
by the caller (``audit_log_read_record``), with the filters used, never PHI: the trail
names ids only."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, AuditRecord, User

CSV_COLUMNS = (
    "id",
    "at",
    "actor_user_id",
    "actor_username",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "clinic_id",
    "ip_address",
    "method",
    "path",
)


@dataclass(frozen=True)
class AuditFilters:
    user_id: int | None = None
    patient_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def summary(self) -> str:
        """The filters as the audit row of the read keeps them (ids and times only)."""
        parts = [
            f"user={self.user_id}" if self.user_id else "",
            f"patient={self.patient_id}" if self.patient_id else "",
            f"since={self.since:%Y-%m-%dT%H:%M}" if self.since else "",
            f"until={self.until:%Y-%m-%dT%H:%M}" if self.until else "",
        ]
        return ";".join(part for part in parts if part)[:64]


def clinic_audit_records(*, clinic_id: int, filters: AuditFilters) -> QuerySet[AuditRecord]:
    """The clinic's audit records matching ``filters``, newest first."""
    staff_ids = User.objects.filter(clinic_id=clinic_id).values("pk")
    records = AuditRecord.objects.filter(
        Q(clinic_id=clinic_id) | Q(clinic_id__isnull=True, actor_user_id__in=staff_ids)
    )
    if filters.user_id is not None:
        records = records.filter(actor_user_id=filters.user_id)
    if filters.patient_id is not None:
        records = records.filter(patient_id=filters.patient_id)
    if filters.since is not None:
        records = records.filter(at__gte=filters.since)
    if filters.until is not None:
        records = records.filter(at__lt=filters.until)
    return records.order_by("-id")


class _Echo:
    """A file whose write returns the line, for streaming csv.writer's output."""

    def write(self, value: str) -> str:
        return value


def audit_csv_lines(records: Iterable[AuditRecord]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for record in records:
        yield writer.writerow(
            [
                record.pk,
                record.at.isoformat(),
                record.actor_user_id or "",
                record.actor_username,
                record.actor_role,
                record.action,
                record.object_type,
                record.object_id,
                record.patient_id or "",
                record.clinic_id or "",
                record.ip_address or "",
                record.method,
                record.path,
            ]
        )


def audit_log_read_record(*, actor: User, filters: AuditFilters, exported: bool, audit: AuditContext | None) -> None:
    """The read of the audit trail, audited: who looked, with which filters."""
    audit_record(
        actor=actor,
        action=AuditAction.READ,
        object_type="audit_log_export" if exported else "audit_log",
        objects=[(filters.summary(), filters.patient_id)],
        clinic_id=actor.clinic_id,
        audit=audit,
    )
