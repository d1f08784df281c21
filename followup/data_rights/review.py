"""The nightly review: which patients are past their retention date.

It only lists them (``Patient.erasure_due_since``) for a clinic admin to confirm on the
data-rights page; nothing is erased without a person. A patient whose follow-up
started again (a new enrollment) leaves the list on the next run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from backend.models import Patient
from followup.data_rights.retention import patients_with_follow_up_end, retention_status


@dataclass(frozen=True)
class ReviewResult:
    listed: int
    unlisted: int


def retention_review_run(*, today: date | None = None) -> ReviewResult:
    """Mark patients now erasable (from ``today``), unmark those no longer so. Reads
    every patient not yet erased in one query (batched)."""
    today = today or timezone.localdate()
    due, not_due = [], []
    candidates = patients_with_follow_up_end(Patient.objects.select_related("clinic").filter(erased_at__isnull=True))
    for patient in candidates.iterator(chunk_size=500):
        erasable = retention_status(patient=patient, today=today).erasable
        if erasable and patient.erasure_due_since is None:
            due.append(patient.pk)
        elif not erasable and patient.erasure_due_since is not None:
            not_due.append(patient.pk)
    listed = Patient.objects.filter(pk__in=due, erasure_due_since__isnull=True).update(erasure_due_since=today)
    unlisted = Patient.objects.filter(pk__in=not_due).update(erasure_due_since=None)
    return ReviewResult(listed=listed, unlisted=unlisted)


def patients_due_for_erasure(*, clinic_id: int) -> QuerySet[Patient]:
    """The admin's list: patients of the clinic the nightly review found erasable."""
    return Patient.objects.filter(
        clinic_id=clinic_id, erased_at__isnull=True, erasure_due_since__isnull=False
    ).order_by("erasure_due_since", "pk")
