"""The nurses' worklist: patients to call, kept apart from the clinical alert queue so
that silence does not bury findings (H7, H8).

Missed check-ins, exactly as the clinical file says (post-hepatectomy.md, "Missed
check-ins"):
- a missed check-in in the first 14 days, or two missed in a row at any time, makes
  an amber ``no_response`` item (call the patient). One open item per patient: a
  further miss updates it rather than stacking a second call to make;
- three missed in a row in the first 14 days is also an amber alert (rule
  ``no_response``) that never pages anyone: the worklist item is the work, the alert
  makes the run visible among findings.
"In a row" counts scheduled check-ins as they closed, missed ones against answered
ones; cancelled check-ins neither count nor break a run.

Check-ins past the protocol's rate (``checkin_rate``): a ``check_in_burst`` item, one
open per patient, bumped by a later burst rather than stacked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Patient, User
from followup.models import Alert, ScheduledCheckIn, WorklistItem
from followup.rules import Evidence, Finding
from followup.services.alerts import alert_data, alert_record_finding
from notifications.events import event_publish

EARLY_LAST_DAY = 14
# A no-response item's text, stored in English as first written (H17); the staff pages
# show it in the reader's language (followup.dashboard.worklist_texts reads it back).
MISSED_RUN_TEXT = gettext_noop("%(count)s check-ins missed in a row (the last on day %(day)s): call the patient.")
MISSED_RUN_TEXT_NO_DAY = gettext_noop("%(count)s check-ins missed in a row: call the patient.")
MISSED_ONE_TEXT = gettext_noop("Check-in on day %(day)s missed: call the patient.")
MISSED_ONE_TEXT_NO_DAY = gettext_noop("Check-in missed: call the patient.")
ALERT_RUN = 3
ITEM_RUN = 2
NO_RESPONSE_RULE_ID = "no_response"
NO_RESPONSE_TITLE = "No response: 3 check-ins missed in a row in the first 14 days"


@dataclass
class NoResponseOutcome:
    created_items: list[int] = field(default_factory=list)
    updated_items: list[int] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)


def _is_early(day: int | None) -> bool:
    return day is not None and day <= EARLY_LAST_DAY


def _recent_closed_by_patient(*, patient_ids: set[int], depth: int) -> dict[int, list[tuple[int, str, int | None]]]:
    """The last ``depth`` closed (missed or answered) check-ins of each patient, newest
    first, as (id, status, day): one query whatever the number of patients."""
    rows = (
        ScheduledCheckIn.objects.filter(
            patient_id__in=patient_ids,
            status__in=[ScheduledCheckIn.Status.MISSED, ScheduledCheckIn.Status.COMPLETED],
        )
        .annotate(
            recency=Window(
                RowNumber(),
                partition_by=[F("patient_id")],
                order_by=[F("closed_at").desc(nulls_last=True), F("due_at").desc(), F("id").desc()],
            )
        )
        .filter(recency__lte=depth)
        .order_by("patient_id", "recency")
        .values_list("patient_id", "id", "status", "day")
    )
    result: dict[int, list[tuple[int, str, int | None]]] = defaultdict(list)
    for patient_id, pk, status, day in rows:
        result[patient_id].append((pk, status, day))
    return result


def _run_at(history: list[tuple[int, str, int | None]], index: int) -> list[tuple[int, str, int | None]]:
    """The missed check-ins in a row ending at ``history[index]`` (newest first)."""
    run = []
    for row in history[index:]:
        if row[1] != ScheduledCheckIn.Status.MISSED:
            break
        run.append(row)
    return run


def worklist_no_response_record(*, missed_ids: list[int], now: datetime) -> NoResponseOutcome:
    """Turn check-ins just marked missed into worklist items and, after three early
    misses in a row, an alert. Runs inside the caller's transaction (the tick that
    claimed them), so the items commit with the status change. A bounded number of
    queries for any number of patients; one alert query set per patient whose run
    reached three, which is rare."""
    outcome = NoResponseOutcome()
    if not missed_ids:
        return outcome
    missed = list(
        ScheduledCheckIn.objects.filter(pk__in=missed_ids)
        .select_related("patient", "enrollment__protocol_version")
        .order_by("patient_id", "due_at", "id")
    )
    wants_item, wants_alert = _no_response_wants(missed)
    _no_response_items_write(wants_item=wants_item, outcome=outcome)
    for row, run in wants_alert.values():
        alert = _no_response_alert(row=row, run=run, now=now)
        if alert is not None:
            outcome.alerts.append(alert.pk)
    return outcome


_Run = list[tuple[int, str, int | None]]


def _no_response_wants(
    missed: list[ScheduledCheckIn],
) -> tuple[dict[int, tuple[ScheduledCheckIn, str]], dict[int, tuple[ScheduledCheckIn, _Run]]]:
    """By patient: the worklist item the misses ask for (row, text), and the alert a
    run of three early misses asks for (row, run)."""
    batch_by_patient: dict[int, list[ScheduledCheckIn]] = defaultdict(list)
    for row in missed:
        batch_by_patient[row.patient_id].append(row)
    depth = ALERT_RUN + max(len(rows) for rows in batch_by_patient.values()) - 1
    history = _recent_closed_by_patient(patient_ids=set(batch_by_patient), depth=depth)
    wants_item: dict[int, tuple[ScheduledCheckIn, str]] = {}
    wants_alert: dict[int, tuple[ScheduledCheckIn, _Run]] = {}
    for patient_id, rows in batch_by_patient.items():
        positions = {pk: index for index, (pk, _status, _day) in enumerate(history[patient_id])}
        for row in rows:  # oldest first, so the newest decides the item's text
            run = _run_at(history[patient_id], positions[row.pk]) if row.pk in positions else []
            count = max(len(run), 1)
            if _is_early(row.day) or count >= ITEM_RUN:
                if count >= ITEM_RUN:
                    template = MISSED_RUN_TEXT if row.day is not None else MISSED_RUN_TEXT_NO_DAY
                else:
                    template = MISSED_ONE_TEXT if row.day is not None else MISSED_ONE_TEXT_NO_DAY
                detail = template % {"count": count, "day": row.day}
                wants_item[patient_id] = (row, detail)
            early_run = run[:ALERT_RUN]
            if len(early_run) == ALERT_RUN and all(_is_early(day) for _pk, _status, day in early_run):
                wants_alert[patient_id] = (row, early_run)
    return wants_item, wants_alert


def _no_response_items_write(
    *, wants_item: dict[int, tuple[ScheduledCheckIn, str]], outcome: NoResponseOutcome
) -> None:
    """One open no-response item per patient: created, or updated to the latest miss."""
    open_items = {
        item.patient_id: item
        for item in WorklistItem.objects.filter(
            patient_id__in=wants_item, kind=WorklistItem.Kind.NO_RESPONSE, status=WorklistItem.Status.OPEN
        )
    }
    to_create: list[WorklistItem] = []
    to_update: list[WorklistItem] = []
    for patient_id, (row, detail) in wants_item.items():
        item = open_items.get(patient_id)
        if item is None:
            to_create.append(
                WorklistItem(
                    patient_id=patient_id,
                    clinic_id=row.patient.clinic_id,
                    kind=WorklistItem.Kind.NO_RESPONSE,
                    severity="amber",
                    scheduled_check_in=row,
                    detail=detail[:300],
                )
            )
        else:
            item.scheduled_check_in = row
            item.detail = detail[:300]
            to_update.append(item)
    created = WorklistItem.objects.bulk_create(to_create)
    WorklistItem.objects.bulk_update(to_update, ["scheduled_check_in", "detail"])
    outcome.created_items = [item.pk for item in created]
    outcome.updated_items = [item.pk for item in to_update]
    for action, items in ((AuditAction.CREATE, created), (AuditAction.UPDATE, to_update)):
        for clinic_id in {item.clinic_id for item in items}:
            audit_record(
                actor=None,
                action=action,
                object_type="worklist_item",
                objects=[(item.pk, item.patient_id) for item in items if item.clinic_id == clinic_id],
                clinic_id=clinic_id,
            )


def _no_response_alert(*, row: ScheduledCheckIn, run: _Run, now: datetime) -> Alert | None:
    enrollment = row.enrollment
    if enrollment is None:
        return None
    days = [day for _pk, _status, day in reversed(run)]
    finding = Finding(
        rule_id=NO_RESPONSE_RULE_ID,
        rule_version=enrollment.protocol_version.version,
        title=NO_RESPONSE_TITLE,
        severity="amber",
        action="nurse_call_today",
        advice="",
        evidence=(
            Evidence(
                field="missed_check_ins",
                value=len(run),
                condition=f"{len(run)} scheduled check-ins in a row missed, on days "
                f"{', '.join(str(day) for day in days)} (first {EARLY_LAST_DAY} days)",
            ),
        ),
    )
    change = alert_record_finding(patient=row.patient, protocol_version=enrollment.protocol_version, finding=finding)
    alert = change.alert
    if change.created and alert.next_escalation_at is not None:
        # Silence is not a finding to page a surgeon about (post-hepatectomy.md: a
        # no-response "never pages a surgeon"): the opening set an amber escalation
        # deadline like any amber alert's; clear it so the escalation tick leaves it.
        alert.next_escalation_at = None
        alert.save(update_fields=["next_escalation_at", "updated_at"])
        event_publish(clinic_id=alert.clinic_id, type="alert.updated", data=alert_data(alert=alert))
    return alert


def worklist_check_in_burst_record(*, patient: Patient, limit: int, audit: AuditContext | None) -> WorklistItem:
    """The first refusal of a burst of check-ins past the protocol's rate: an item to
    call the patient (an app retrying in a loop, or a patient in distress), or the open
    one bumped. No answers on it: the refused check-ins were not stored."""
    with transaction.atomic():
        item = (
            WorklistItem.objects.select_for_update()
            .filter(patient=patient, kind=WorklistItem.Kind.CHECK_IN_BURST, status=WorklistItem.Status.OPEN)
            .order_by("-id")
            .first()
        )
        if item is None:
            # Staff read it: the clinic's language, as the staff pages default to.
            with translation.override(patient.clinic.default_language):
                detail = gettext(
                    "More than %(limit)d check-ins in an hour came from this patient; the rest were "
                    "refused. Call the patient: an app stuck in a loop, or a worried patient?"
                ) % {"limit": limit}
            item = WorklistItem.objects.create(
                patient=patient,
                clinic_id=patient.clinic_id,
                kind=WorklistItem.Kind.CHECK_IN_BURST,
                severity="amber",
                detail=detail,
            )
            action = AuditAction.CREATE
        else:
            item.bumped_at = timezone.now()
            item.save(update_fields=["bumped_at"])
            action = AuditAction.UPDATE
        audit_record(
            actor=None,
            action=action,
            object_type="worklist_item",
            objects=[(item.pk, patient.pk)],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
    return item


def worklist_item_done(*, item: WorklistItem, by: User, audit: AuditContext | None = None) -> WorklistItem:
    """Mark an item done by a named person. Done twice is the first one's record."""
    now = timezone.now()
    with transaction.atomic():
        # Conditional update: of two nurses closing the same call, the first is named.
        claimed = WorklistItem.objects.filter(pk=item.pk, status=WorklistItem.Status.OPEN).update(
            status=WorklistItem.Status.DONE, done_by=by, done_at=now
        )
        row = WorklistItem.objects.get(pk=item.pk)
        if claimed:
            audit_record(
                actor=by,
                action=AuditAction.UPDATE,
                object_type="worklist_item",
                objects=[(row.pk, row.patient_id)],
                clinic_id=row.clinic_id,
                audit=audit,
            )
    return row
