"""Escalation along the frozen on-call chain with the clock moved (time-machine): who is
paged, when, once, and never after an acknowledgement (H1, H9)."""

from __future__ import annotations

import logging
import threading
import zoneinfo
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from backend.models import OnCallShift
from followup.escalation import NOTE_FALLBACK, NOTE_SKIPPED, clinic_hours_add, on_call_chain
from followup.escalation_tasks import escalations_tick
from followup.models import Alert, EscalationStep
from followup.services.alert_review import alert_acknowledge, alert_resolve
from followup.services.checkins import checkin_submit
from followup.services.escalations import escalation_due_list, escalation_step_run
from notifications.models import Event, MessageKind, OutgoingMessage
from tests.dashboard.conftest import red_alert_raise
from tests.factories import green_answers

pytestmark = pytest.mark.django_db(transaction=True)

FALLBACK = "+442079460999"
ISTANBUL = zoneinfo.ZoneInfo("Europe/Istanbul")


@pytest.fixture
def fallback_clinic(clinic):
    clinic.fallback_phone = FALLBACK
    clinic.save()
    return clinic


def pages(alert: Alert) -> list[str]:
    """Phones paged for an alert, in order."""
    return list(
        OutgoingMessage.objects.filter(
            kind=MessageKind.STAFF_PAGE, idempotency_key__startswith=f"alert-page:{alert.pk}:"
        )
        .order_by("id")
        .values_list("to_phone", flat=True)
    )


def run_concurrently(*functions: Callable[[], object]) -> None:
    """Start the functions in threads at the same instant; re-raise their errors."""
    barrier = threading.Barrier(len(functions))
    errors: list[BaseException] = []

    def run(function: Callable[[], object]) -> None:
        try:
            barrier.wait()
            function()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(function,)) for function in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if errors:
        raise errors[0]


def two_workers_tick() -> None:
    run_concurrently(escalations_tick, escalations_tick)


def test_an_unacknowledged_red_alert_pages_the_second_and_third_person_at_their_deadlines_once_each(
    fallback_clinic, chain, enrolled, caplog
):
    """H1, H9: level 1 at once; level 2 at +10 min; level 3 at +20 min; then the
    clinic's fallback number — each once, although two workers tick at each moment."""
    start = timezone.now()
    first, second, third = (str(person.phone) for person in chain)
    with time_machine.travel(start, tick=False) as clock:
        alert = red_alert_raise(enrolled)
        assert alert.escalation_chain == [person.pk for person in chain]
        assert pages(alert) == [first]

        clock.move_to(start + timedelta(minutes=9, seconds=59))
        two_workers_tick()
        assert pages(alert) == [first]

        clock.move_to(start + timedelta(minutes=10, seconds=5))
        two_workers_tick()
        two_workers_tick()
        assert pages(alert) == [first, second]

        clock.move_to(start + timedelta(minutes=19))
        two_workers_tick()
        assert pages(alert) == [first, second]

        clock.move_to(start + timedelta(minutes=20, seconds=10))
        two_workers_tick()
        assert pages(alert) == [first, second, third]

        with caplog.at_level(logging.WARNING, logger="followup.escalation"):
            clock.move_to(start + timedelta(minutes=30, seconds=15))
            two_workers_tick()
        assert pages(alert) == [first, second, third, FALLBACK]
        assert "past its on-call chain" in caplog.text
        assert enrolled.family_name not in caplog.text and enrolled.mrn not in caplog.text

    alert.refresh_from_db()
    assert alert.escalation_level == 4
    steps = list(EscalationStep.objects.filter(alert=alert).values_list("level", "user_id", "note"))
    assert steps[:3] == [(1, chain[0].pk, "paged"), (2, chain[1].pk, "paged"), (3, chain[2].pk, "paged")]
    assert steps[3] == (4, None, NOTE_FALLBACK)
    # Each step told the dashboards, with the alert as the API shows it.
    updates = list(Event.objects.filter(type="alert.updated", data__id=alert.pk).order_by("seq"))
    assert [event.data["escalation_level"] for event in updates] == [2, 3, 4]


def test_the_page_carries_minimal_phi_and_the_dashboard_link(chain, enrolled):
    """H13: initials and the MRN's end, never the name or the answers."""
    alert = red_alert_raise(enrolled)
    body = OutgoingMessage.objects.get(idempotency_key=f"alert-page:{alert.pk}:level:1").body
    assert f"/dashboard/alerts/{alert.pk}/" in body
    assert f"ACK {alert.ack_code}" in body
    assert enrolled.given_name not in body and enrolled.family_name not in body and enrolled.mrn not in body


def test_acknowledging_stops_the_escalation(chain, enrolled, nurse):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        alert = red_alert_raise(enrolled)
        clock.move_to(start + timedelta(minutes=3))
        alert_acknowledge(alert=alert, by=chain[0])
        for minutes in (11, 21, 31, 600):
            clock.move_to(start + timedelta(minutes=minutes))
            two_workers_tick()
    assert pages(alert) == [str(chain[0].phone)]
    assert not EscalationStep.objects.filter(alert=alert, level__gte=2).exists()


def test_resolving_stops_the_escalation(chain, enrolled, nurse):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        alert = red_alert_raise(enrolled)
        alert_resolve(alert=alert, by=nurse, outcome="advised")
        clock.move_to(start + timedelta(minutes=45))
        two_workers_tick()
    assert pages(alert) == [str(chain[0].phone)]


def test_an_acknowledgement_after_the_due_list_was_read_stops_the_step(chain, enrolled):
    """H1: the tick read the alert as due, then someone acknowledged it, then the step
    ran: the step re-reads under the lock and pages nobody."""
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        alert = red_alert_raise(enrolled)
        clock.move_to(start + timedelta(minutes=10, seconds=1))
        due = escalation_due_list(now=timezone.now())
        assert due == [alert.pk]
        alert_acknowledge(alert=alert, by=chain[0])
        assert escalation_step_run(alert_id=alert.pk) is False
    assert pages(alert) == [str(chain[0].phone)]


def test_a_step_while_an_acknowledgement_holds_the_alert_pages_nobody(chain, enrolled):
    """H1: the acknowledgement has locked the alert and not committed yet when the tick
    runs. On PostgreSQL the step skips the locked row; on SQLite it waits for the
    acknowledgement's commit. Either way no page follows the acknowledgement."""
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        alert = red_alert_raise(enrolled)
        clock.move_to(start + timedelta(minutes=10, seconds=1))
        locked = threading.Event()
        finish = threading.Event()

        def acknowledge_slowly() -> None:
            with transaction.atomic():
                alert_acknowledge(alert=alert, by=chain[1])
                locked.set()
                finish.wait(5)

        def tick_meanwhile() -> None:
            locked.wait(5)
            threading.Timer(0.3, finish.set).start()
            escalations_tick()

        run_concurrently(acknowledge_slowly, tick_meanwhile)
        two_workers_tick()
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ACKNOWLEDGED
    assert pages(alert) == [str(chain[0].phone)]


@pytest.mark.parametrize("attempt", range(8))
def test_an_acknowledgement_racing_the_deadline_never_produces_a_page_after_it(chain, enrolled, attempt):
    """H1: the step and the acknowledgement start at the same instant. Whichever wins,
    a page exists only if its step committed before the acknowledgement: the step's
    event precedes the acknowledgement's, which already shows level 2."""
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        alert = red_alert_raise(enrolled)
        clock.move_to(start + timedelta(minutes=10, seconds=1))
        run_concurrently(escalations_tick, lambda: alert_acknowledge(alert=alert, by=chain[0]))
        two_workers_tick()
    updates = list(Event.objects.filter(type="alert.updated", data__id=alert.pk).order_by("seq"))
    acknowledgement = next(event for event in updates if event.data["status"] == "acknowledged")
    if len(pages(alert)) == 2:
        step_event = next(event for event in updates if event.data["status"] == "open")
        assert step_event.seq < acknowledgement.seq
        assert acknowledgement.data["escalation_level"] == 2
    else:
        assert pages(alert) == [str(chain[0].phone)]
        assert acknowledgement.data["escalation_level"] == 1
        assert len(updates) == 1


def test_a_person_who_cannot_be_paged_is_skipped_and_the_next_level_paged_at_once(chain, enrolled):
    """H9: level 2 has no phone (or left): level 3 is paged at level 2's deadline."""
    chain[1].phone = ""
    chain[1].save()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        alert = red_alert_raise(enrolled)
        clock.move_to(start + timedelta(minutes=10, seconds=1))
        escalations_tick()
    assert pages(alert) == [str(chain[0].phone), str(chain[2].phone)]
    steps = list(EscalationStep.objects.filter(alert=alert).values_list("level", "note"))
    assert steps == [(1, "paged"), (2, NOTE_SKIPPED), (3, "paged")]
    alert.refresh_from_db()
    assert alert.escalation_level == 3


def test_a_red_alert_with_nobody_on_call_pages_the_fallback_number_at_once(fallback_clinic, enrolled, caplog):
    """H9: a roster gap sends the first page to the clinic's fallback number, with an
    operations warning that names no patient."""
    with caplog.at_level(logging.WARNING, logger="followup.escalation"):
        alert = red_alert_raise(enrolled)
    assert pages(alert) == [FALLBACK]
    assert "past its on-call chain" in caplog.text
    assert enrolled.family_name not in caplog.text


def test_the_chain_is_frozen_when_the_alert_opens(chain, care_team, enrolled, clinic):
    """Roster edits mid-incident do not change who is paged next."""
    from tests.factories import UserFactory

    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        alert = red_alert_raise(enrolled)
        newcomer = UserFactory(clinic=clinic, phone="+442079460888")
        OnCallShift.objects.filter(care_team=care_team, level=2).update(user=newcomer)
        assert on_call_chain(care_team_id=care_team.pk, at=timezone.now())[1] == newcomer.pk
        clock.move_to(start + timedelta(minutes=10, seconds=1))
        escalations_tick()
    assert pages(alert)[1] == str(chain[1].phone)


def test_an_amber_alert_escalates_to_level_two_after_four_clinic_hours(chain, enrolled):
    """Amber is the nurses' work at level 1 (no page); unacknowledged for 240 minutes of
    clinic hours it pages level 2. Raised on a Friday at 16:00 Istanbul (two clinic hours
    left that day): due Monday 10:00."""
    friday = datetime(2031, 3, 7, 16, 0, tzinfo=ISTANBUL)
    assert friday.weekday() == 4
    OnCallShift.objects.filter(user__in=chain).update(
        starts_at=friday - timedelta(days=10), ends_at=friday + timedelta(days=10)
    )
    with time_machine.travel(friday, tick=False) as clock:
        # Discharged two days before the travelled date.
        episode = enrolled.episodes.get()
        episode.discharge_date = friday.date() - timedelta(days=2)
        episode.surgery_date = friday.date() - timedelta(days=9)
        episode.save()
        result = checkin_submit(patient_id=enrolled.pk, answers=green_answers(right_upper_pain=True), channel="app")
        alert = Alert.objects.get(pk=result.created_alert_ids[0])
        assert alert.severity == "amber"
        assert alert.next_escalation_at == datetime(2031, 3, 10, 10, 0, tzinfo=ISTANBUL)
        assert pages(alert) == []
        clock.move_to(datetime(2031, 3, 10, 9, 59, tzinfo=ISTANBUL))
        escalations_tick()
        assert pages(alert) == []
        clock.move_to(datetime(2031, 3, 10, 10, 0, 30, tzinfo=ISTANBUL))
        escalations_tick()
    assert pages(alert) == [str(chain[1].phone)]


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (datetime(2031, 3, 5, 10, 0), 240, datetime(2031, 3, 5, 14, 0)),  # Wednesday, inside hours
        (datetime(2031, 3, 5, 16, 0), 240, datetime(2031, 3, 6, 10, 0)),  # runs over into Thursday
        (datetime(2031, 3, 5, 22, 30), 240, datetime(2031, 3, 6, 12, 0)),  # night: from 08:00
        (datetime(2031, 3, 7, 17, 0), 240, datetime(2031, 3, 10, 11, 0)),  # Friday evening: Monday
        (datetime(2031, 3, 8, 9, 0), 240, datetime(2031, 3, 10, 12, 0)),  # Saturday: Monday
        (datetime(2031, 3, 5, 7, 59), 1, datetime(2031, 3, 5, 8, 1)),
        (datetime(2031, 3, 5, 14, 0), 240, datetime(2031, 3, 5, 18, 0)),  # ends exactly at closing
        (datetime(2031, 3, 5, 10, 0), 1200, datetime(2031, 3, 7, 10, 0)),  # two full days
    ],
)
def test_amber_deadlines_count_only_clinic_hours(start, minutes, due):
    assert clinic_hours_add(start=start.replace(tzinfo=ISTANBUL), minutes=minutes, tz=ISTANBUL) == due.replace(
        tzinfo=ISTANBUL
    )


def test_amber_deadlines_follow_the_clinic_zone_across_daylight_saving():
    """Berlin moves to summer time on 30 March 2031 (a Sunday night): Friday 17:00 CET
    plus four clinic hours is Monday 11:00 CEST, 09:00 UTC."""
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    due = clinic_hours_add(start=datetime(2031, 3, 28, 17, 0, tzinfo=berlin), minutes=240, tz=berlin)
    assert due == datetime(2031, 3, 31, 9, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))


def test_an_ack_by_sms_from_the_paged_surgeon_stops_the_escalation(chain, enrolled):
    """H1: "ACK <code>" from the on-call phone is the same acknowledgement as the
    dashboard's (notifications.inbound calls alert_acknowledge): nobody else is paged."""
    from notifications.inbound import inbound_handle, inbound_store

    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        alert = red_alert_raise(enrolled)
        clock.move_to(start + timedelta(minutes=4))
        inbound = inbound_store(
            message_sid="SM" + "a" * 32,
            from_phone=str(chain[0].phone),
            to_phone="+15550100000",
            body=f"ack {alert.ack_code}",
        )
        inbound_handle(inbound_id=inbound.pk)
        clock.move_to(start + timedelta(minutes=25))
        two_workers_tick()
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ACKNOWLEDGED and alert.acknowledged_by == chain[0]
    assert pages(alert) == [str(chain[0].phone)]
