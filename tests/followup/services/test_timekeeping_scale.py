"""The clock at scale and under races: a tick costs a bounded number of queries
whatever the number of patients, and two ticks at once never double a text (H8)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections

from backend.models import Episode, Patient
from followup.models import Enrollment, ScheduledCheckIn, WorklistItem
from followup.services.claims import STEP_LIMIT, update_returning_ids
from followup.services.protocols import protocol_version_current
from followup.services.timekeeping import CheckinsTickReport, scheduled_checkins_tick
from notifications.models import MessageKind, OutgoingMessage
from tests.factories import ClinicFactory, UserFactory

# 09:00 in Istanbul (UTC+3): every patient below lives there.
NINE_LOCAL = datetime(2026, 6, 10, 6, 0, tzinfo=UTC)


def _population(*, clinic, nurse, count: int, first: int, due: datetime) -> None:
    """``count`` enrolled patients, each with three check-ins around ``due``: one due
    now (to announce, by SMS), one announced six hours ago with a 12 h window (half
    gone: to remind), one whose window closed a minute ago (to mark missed). Built
    with bulk_create: the point is the tick's cost, not the set-up's."""
    version = protocol_version_current("post-hepatectomy")
    patients = Patient.objects.bulk_create(
        Patient(
            clinic=clinic,
            mrn=f"S{first + index:07d}",
            given_name="Scale",
            family_name=f"Patient{first + index}",
            phone=f"+4420794{(first + index) % 100000:05d}",
            timezone="Europe/Istanbul",
            sms_consent=True,
        )
        for index in range(count)
    )
    discharge = (due - timedelta(days=3)).date()
    episodes = Episode.objects.bulk_create(
        Episode(
            patient=patient,
            procedure="Right hepatectomy",
            surgery_date=discharge - timedelta(days=7),
            discharge_date=discharge,
        )
        for patient in patients
    )
    enrollments = Enrollment.objects.bulk_create(
        Enrollment(episode=episode, patient_id=episode.patient_id, protocol_version=version, enrolled_by=nurse)
        for episode in episodes
    )
    rows = []
    for enrollment in enrollments:
        common = {
            "patient_id": enrollment.patient_id,
            "enrollment": enrollment,
            "window_minutes": 720,
            "phase": "acute",
        }
        rows += [
            ScheduledCheckIn(due_at=due, day=3, **common),
            # An app check-in announced six hours ago: its reminder is the link again.
            ScheduledCheckIn(
                due_at=due - timedelta(hours=6),
                announced_at=due - timedelta(hours=6),
                status="sent",
                channel="app",
                day=3,
                **common,
            ),
            ScheduledCheckIn(due_at=due - timedelta(hours=12, minutes=1), day=2, **common),
        ]
    ScheduledCheckIn.objects.bulk_create(rows, batch_size=2000)
    if connection.vendor == "postgresql":
        # In production autovacuum keeps the planner's statistics current; rows bulk
        # inserted a second ago are unknown to it, and it would plan for empty tables.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE backend_patient, backend_episode, followup_enrollment, followup_scheduledcheckin")


def _tick_counting(moment: datetime) -> tuple[int, CheckinsTickReport]:
    """Run a tick, counting every query it sends. A plain counter rather than
    CaptureQueriesContext, whose log stops at 9,000 queries and would then hide a
    tick that grew past it."""
    sent = 0

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        nonlocal sent
        sent += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        report = scheduled_checkins_tick(now=moment)
    return sent, report


@pytest.mark.django_db
def test_a_tick_over_ten_thousand_patients_costs_what_a_tick_over_one_batch_costs():
    """H8: the tick's query count does not grow with the number of patients. A tick
    over one batch of patients is measured, then a tick over 10,000 more: each step
    handles at most STEP_LIMIT rows per tick (the rest go a minute later), with bulk
    claims, prefetches and bulk inserts, so the second tick is held to the first's
    count."""
    clinic = ClinicFactory(timezone="Europe/Istanbul")
    nurse = UserFactory(clinic=clinic)

    _population(clinic=clinic, nurse=nurse, count=STEP_LIMIT, first=0, due=NINE_LOCAL)
    one_batch, report = _tick_counting(NINE_LOCAL)
    assert report.as_counts()["announced"] == report.as_counts()["reminded"] == STEP_LIMIT
    assert report.as_counts()["missed"] == STEP_LIMIT

    next_day = NINE_LOCAL + timedelta(days=1)
    _population(clinic=clinic, nurse=nurse, count=10_000, first=STEP_LIMIT, due=next_day)
    assert ScheduledCheckIn.objects.count() == 3 * (10_000 + STEP_LIMIT)
    ten_thousand, report = _tick_counting(next_day)
    assert ten_thousand <= one_batch + 10
    counts = report.as_counts()
    assert counts["announced"] == counts["reminded"] == counts["missed"] == STEP_LIMIT
    # The next tick takes the next batch: nothing is dropped, only spread.
    assert scheduled_checkins_tick(now=next_day + timedelta(minutes=1)).as_counts()["announced"] == STEP_LIMIT
    # A constant ceiling too, whatever the conversation service costs per invitation.
    assert one_batch <= 60 * STEP_LIMIT


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_never_announce_or_miss_a_check_in_twice():
    """H8: two beat ticks started together (a late tick overlapping the next): every
    due check-in is announced by exactly one of them, and every closed one is missed
    by exactly one of them; the patient gets one invitation."""
    clinic = ClinicFactory(timezone="Europe/Istanbul")
    nurse = UserFactory(clinic=clinic)
    _population(clinic=clinic, nurse=nurse, count=40, first=0, due=NINE_LOCAL)
    start = threading.Barrier(2)
    reports: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            reports.append(scheduled_checkins_tick(now=NINE_LOCAL))
        except BaseException as error:  # re-raised in the test thread below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    announced = [pk for report in reports for pk in report.announced]  # type: ignore[attr-defined]
    missed = [pk for report in reports for pk in report.missed]  # type: ignore[attr-defined]
    reminded = [pk for report in reports for pk in report.reminded]  # type: ignore[attr-defined]
    assert len(announced) == len(set(announced)) == 40
    assert len(missed) == len(set(missed)) == 40
    assert len(reminded) == len(set(reminded)) == 40
    invitations = OutgoingMessage.objects.filter(kind=MessageKind.CHECK_IN)
    assert invitations.count() == 40
    assert invitations.values("patient_id").distinct().count() == 40
    assert OutgoingMessage.objects.filter(kind=MessageKind.REMINDER).count() == 40
    assert WorklistItem.objects.filter(kind="no_response").count() == 40


def test_claims_need_conditions_on_the_claimed_table():
    """The claim helper refuses conditions through a join: PostgreSQL would not
    re-check them against a row a concurrent claim just changed."""
    with pytest.raises(ValueError):
        update_returning_ids(ScheduledCheckIn.objects.filter(patient__sms_consent=True), {"status": "sent"})
