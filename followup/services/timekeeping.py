"""Time: what beat does every minute to scheduled check-ins (appointment reminders are
in ``appointment_reminders``; the claim machinery they share in ``claims``).

Each step selects what is due (one query, at most ``STEP_LIMIT`` ids), claims those
with ONE conditional UPDATE that re-checks "still unprocessed" and returns the ids
it changed (``UPDATE … WHERE status = … AND announced_at IS NULL AND id IN (…)
RETURNING id``), then does the work for exactly those rows in the same transaction:
the outbox rows, worklist items and audit rows commit with the claim or not at all.
Two ticks running at once never announce, remind or miss the same row twice: the
database lets one UPDATE win each row.

Quiet hours (the clinic's, 21:00–08:00 by default, in the patient's own time zone)
hold back announcements and reminders; they go out at the first tick after the
quiet hours end (H10). A patient who sent STOP or whose SMS consent the clinic does
not hold gets no text (H11): their check-in stays ``scheduled`` for nurses to see,
closes as missed and lands on the worklist like any other silence (H8).

Each step handles at most ``STEP_LIMIT`` rows per tick, oldest due first, so a tick
runs a bounded number of queries whatever the number of patients; the rest goes a
minute later. (Invitations are written one by one through the conversation service,
a dozen or so queries each; the SMS relay sends one message a second anyway.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import DurationField, ExpressionWrapper, F, Q
from django.utils import timezone

from followup.models import Channel, ScheduledCheckIn
from followup.services.claims import (
    CLOSES_AT,
    REMIND_AT,
    STEP_LIMIT,
    audit_system_update,
    moment_value,
    textable_condition,
    update_returning_ids,
)
from followup.services.quiet_hours import awake_condition
from followup.services.worklist import NoResponseOutcome, worklist_no_response_record
from followup.sms.conversations import conversation_remind, conversation_start
from followup.sms.outgoing import patient_can_receive_sms

OPEN = (ScheduledCheckIn.Status.SCHEDULED, ScheduledCheckIn.Status.SENT)


# --- the check-in steps ---------------------------------------------------------------------------


def scheduled_checkins_miss(*, now: datetime) -> tuple[list[int], NoResponseOutcome]:
    """Mark missed every open check-in whose window has closed, then put the patients
    who need a call on the worklist (and three early misses in a row on the alert
    queue). Runs before announcing, so a check-in whose whole window fell in quiet
    hours is missed rather than announced after it closed."""
    with transaction.atomic():
        selection = list(
            ScheduledCheckIn.objects.filter(status__in=OPEN, due_at__lte=now)
            .alias(closes_at=CLOSES_AT)
            .filter(closes_at__lte=now)
            .order_by("due_at", "id")
            .values_list("pk", flat=True)[:STEP_LIMIT]
        )
        if not selection:
            return [], NoResponseOutcome()
        won = update_returning_ids(
            ScheduledCheckIn.objects.filter(status__in=OPEN, closed_at__isnull=True, pk__in=selection),
            {"status": ScheduledCheckIn.Status.MISSED, "closed_at": now, "updated_at": now},
        )
        if not won:
            return [], NoResponseOutcome()
        outcome = worklist_no_response_record(missed_ids=won, now=now)
        rows = list(ScheduledCheckIn.objects.filter(pk__in=won).select_related("patient"))
        audit_system_update(object_type="scheduled_check_in", rows=rows)
    return won, outcome


def scheduled_checkins_announce(*, now: datetime) -> list[int]:
    """Announce the check-ins that are due through the conversation service: the
    first SMS question for an ``sms`` check-in, a text with the form link for an
    ``app`` one (the app also lists what is due through ``GET /api/v1/me/``; an app
    patient who cannot be texted is announced there only)."""
    with transaction.atomic():
        candidates = (
            ScheduledCheckIn.objects.filter(
                status=ScheduledCheckIn.Status.SCHEDULED, announced_at__isnull=True, due_at__lte=now
            )
            .alias(closes_at=CLOSES_AT)
            .filter(closes_at__gt=now)
            # Never texted: the row stays scheduled for nurses to see (H11).
            .exclude(Q(channel=Channel.SMS) & ~textable_condition())
        )
        awake = awake_condition(candidates, now=now)
        if awake is None:
            return []
        selection = list(candidates.filter(awake).order_by("due_at", "id").values_list("pk", flat=True)[:STEP_LIMIT])
        if not selection:
            return []
        won = update_returning_ids(
            ScheduledCheckIn.objects.filter(
                status=ScheduledCheckIn.Status.SCHEDULED, announced_at__isnull=True, pk__in=selection
            ),
            {"status": ScheduledCheckIn.Status.SENT, "announced_at": now, "updated_at": now},
        )
        rows = list(ScheduledCheckIn.objects.filter(pk__in=won).select_related("patient__clinic").order_by("due_at"))
        for row in rows:
            # An app patient who cannot be texted still sees it in the app.
            if patient_can_receive_sms(row.patient):
                conversation_start(scheduled_check_in=row)
        audit_system_update(object_type="scheduled_check_in", rows=rows)
    return won


def scheduled_checkins_remind(*, now: datetime) -> list[int]:
    """Remind once when half of the time between the announcement and the window's
    close is gone (half the window for a check-in announced on time; for one held by
    quiet hours, half of what is left), or at its own ``reminder_minutes`` after it
    opened when its protocol says (v2 surveillance: 24 h into 72 h), unless it was
    answered. The reminder goes by SMS for app check-ins too: the link opens the same
    form, and a patient who has not opened the app should still hear from us before
    the window closes (H8)."""
    with transaction.atomic():
        left = ExpressionWrapper(CLOSES_AT - moment_value(now), output_field=DurationField())
        gone = ExpressionWrapper(moment_value(now) - F("announced_at"), output_field=DurationField())
        due = Q(reminder_minutes__isnull=True, left__lte=F("gone")) | Q(remind_at__lte=now)
        candidates = (
            ScheduledCheckIn.objects.filter(
                textable_condition(),
                status=ScheduledCheckIn.Status.SENT,
                announced_at__isnull=False,
                reminded_at__isnull=True,
                check_in__isnull=True,
                due_at__lte=now,
            )
            .alias(closes_at=CLOSES_AT, left=left, gone=gone, remind_at=REMIND_AT)
            .filter(due, closes_at__gt=now)
        )
        awake = awake_condition(candidates, now=now)
        if awake is None:
            return []
        selection = list(candidates.filter(awake).order_by("due_at", "id").values_list("pk", flat=True)[:STEP_LIMIT])
        if not selection:
            return []
        # The status is re-checked by the claim itself: a check-in answered a moment
        # ago is "completed" and is not reminded.
        won = update_returning_ids(
            ScheduledCheckIn.objects.filter(
                status=ScheduledCheckIn.Status.SENT, reminded_at__isnull=True, pk__in=selection
            ),
            {"reminded_at": now, "updated_at": now},
        )
        rows = list(ScheduledCheckIn.objects.filter(pk__in=won).select_related("patient__clinic").order_by("due_at"))
        for row in rows:
            conversation_remind(scheduled_check_in=row)
        audit_system_update(object_type="scheduled_check_in", rows=rows)
    return won


@dataclass
class CheckinsTickReport:
    missed: list[int] = field(default_factory=list)
    announced: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    worklist_items: list[int] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)

    def as_counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in self.__dataclass_fields__}


def scheduled_checkins_tick(*, now: datetime | None = None) -> CheckinsTickReport:
    """One beat tick: close what has closed, announce what is due, remind what is half
    gone. Each step commits on its own, so a failure in one leaves the others' work
    done and the failed step's rows unclaimed for the next tick."""
    now = now or timezone.now()
    missed, outcome = scheduled_checkins_miss(now=now)
    announced = scheduled_checkins_announce(now=now)
    reminded = scheduled_checkins_remind(now=now)
    return CheckinsTickReport(
        missed=missed,
        announced=announced,
        reminded=reminded,
        worklist_items=outcome.created_items + outcome.updated_items,
        alerts=outcome.alerts,
    )
