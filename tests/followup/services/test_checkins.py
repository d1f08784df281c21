"""checkin_submit: what a check-in sets in motion (alerts, pages, recall, advice,
nurse calls, the extra fever check-in, events), judged against the history as it
stood when the answers were given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from followup.models import Alert, AlertOccurrence, Appointment, CheckIn, ScheduledCheckIn, WorklistItem
from followup.services.alert_review import alert_resolve
from followup.services.checkins import checkin_submit
from notifications.models import Event, MessageKind, OutgoingMessage
from tests.factories import green_answers

pytestmark = pytest.mark.django_db


def submit(patient, channel="app", **kwargs):
    return checkin_submit(
        patient_id=patient.pk, answers=kwargs.pop("answers", green_answers()), channel=channel, **kwargs
    )


def test_green_check_in_stores_answers_and_opens_nothing(enrolled):
    result = submit(enrolled)
    assert result.level == "green"
    assert result.alert_ids == [] and not result.alerts_created
    stored = CheckIn.objects.get()
    assert stored.answers["temperature_c"] == 36.8
    assert stored.level == "green" and stored.channel == "app"
    assert any(line.startswith("fever_high (red): not fired") for line in stored.evaluation_trace)
    assert not Alert.objects.exists()


def test_three_red_check_ins_in_a_row_make_one_alert_with_three_occurrences_and_one_page(enrolled, on_call_surgeon):
    """H7: a repeat red finding attaches to the open alert instead of paging again."""
    results = [submit(enrolled, answers=green_answers(jaundice=True)) for _ in range(3)]
    alert = Alert.objects.get()
    assert alert.rule_id == "jaundice" and alert.severity == "red" and alert.status == "open"
    assert [r.alert_ids for r in results] == [[alert.pk]] * 3
    assert [r.alerts_created for r in results] == [True, False, False]
    assert list(AlertOccurrence.objects.filter(alert=alert).values_list("check_in_id", flat=True)) == [
        r.check_in.pk for r in results
    ]
    pages = OutgoingMessage.objects.filter(kind=MessageKind.STAFF_PAGE)
    assert pages.count() == 1
    assert pages.get().to_phone == "+442079460777"
    assert alert.next_escalation_at is not None


def test_a_resolved_alert_lets_the_next_finding_open_a_new_one(enrolled, nurse):
    first = submit(enrolled, answers=green_answers(jaundice=True))
    alert = Alert.objects.get(pk=first.alert_ids[0])
    alert_resolve(alert=alert, by=nurse, outcome="advised", note="", complication_grade=None)
    second = submit(enrolled, answers=green_answers(jaundice=True))
    assert second.alerts_created
    assert second.alert_ids != first.alert_ids
    assert Alert.objects.filter(rule_id="jaundice").count() == 2
    assert Alert.objects.filter(rule_id="jaundice", status="open").count() == 1


def test_a_finding_that_clears_does_not_close_its_alert(enrolled):
    """H1: a person resolves an alert, not a better answer the next day."""
    submit(enrolled, answers=green_answers(jaundice=True))
    submit(enrolled)
    assert Alert.objects.get().status == "open"


def test_red_proposes_a_recall_for_today_and_texts_the_advice_in_the_patients_language(make_enrolled, clinic):
    """H2: the red advice goes out at once, in Turkish, with the clinic's number."""
    patient = make_enrolled(language="tr")
    result = submit(patient, answers=green_answers(vomit_blood=True))
    assert result.level == "red"
    assert "Hemen kliniği arayın" in result.advice
    recall = Appointment.objects.get()
    assert recall.kind == "recall" and recall.status == "proposed"
    assert recall.origin_alert_id == result.alert_ids[0]
    assert timezone.localdate(recall.starts_at) == timezone.localdate()
    advice = OutgoingMessage.objects.get(kind=MessageKind.ADVICE)
    assert advice.to_phone == str(patient.phone)
    assert advice.body == result.advice
    assert "+44 20 7946 09" in advice.body  # the clinic's number, dialable
    assert advice.send_after is None
    assert advice.reach_alert  # undelivered red advice has staff phone the patient (H11)


def test_red_advice_is_not_held_back_by_quiet_hours(make_enrolled):
    """H2: at 23:30 in Istanbul the red advice is still sent now."""
    with time_machine.travel(datetime(2026, 3, 10, 20, 30, tzinfo=UTC), tick=False):
        patient = make_enrolled()
        submit(patient, answers=green_answers(confusion=True))
        advice = OutgoingMessage.objects.get(kind=MessageKind.ADVICE)
        assert advice.send_after is None


def test_a_second_red_check_in_does_not_propose_a_second_recall(enrolled):
    submit(enrolled, answers=green_answers(jaundice=True))
    submit(enrolled, answers=green_answers(vomit_blood=True))
    assert Appointment.objects.filter(kind="recall").count() == 1


def test_red_by_sms_leaves_the_advice_to_the_conversation(enrolled):
    submit(enrolled, channel="sms", answers=green_answers(jaundice=True))
    assert not OutgoingMessage.objects.filter(kind=MessageKind.ADVICE).exists()
    assert Appointment.objects.filter(kind="recall").exists()


def test_red_advice_is_not_texted_to_a_patient_who_opted_out(enrolled):
    """H11: STOP is honoured (the outbox keeps it as suppressed, never sent); the
    advice is still in the reply."""
    enrolled.sms_opted_out_at = timezone.now()
    enrolled.save()
    result = submit(enrolled, answers=green_answers(jaundice=True))
    assert "Call the clinic now" in result.advice
    assert OutgoingMessage.objects.get(kind=MessageKind.ADVICE).status == "suppressed"


def test_red_advice_is_not_texted_without_the_clinics_record_of_consent(enrolled):
    enrolled.sms_consent = False
    enrolled.save()
    submit(enrolled, answers=green_answers(jaundice=True))
    assert not OutgoingMessage.objects.filter(kind=MessageKind.ADVICE).exists()


def test_amber_queues_one_nurse_call_per_alert(enrolled):
    """H7: a repeat amber finding does not queue a second call or page anyone."""
    first = submit(enrolled, answers=green_answers(right_upper_pain=True))
    submit(enrolled, answers=green_answers(right_upper_pain=True))
    assert first.level == "amber"
    assert "A nurse will call you today" in first.advice
    item = WorklistItem.objects.get()
    assert item.kind == "nurse_call" and item.alert_id == first.alert_ids[0]
    assert not OutgoingMessage.objects.filter(kind=MessageKind.STAFF_PAGE).exists()


def test_amber_fever_schedules_an_extra_check_in_twelve_hours_later(make_enrolled):
    """H10: the extra check-in waits for the end of the patient's quiet hours."""
    # 06:00 UTC is 09:00 in Istanbul: 12 h later is 21:00 local, the start of quiet
    # hours, so it moves to 08:00 the next morning.
    with time_machine.travel(datetime(2026, 3, 10, 6, 0, tzinfo=UTC), tick=False):
        patient = make_enrolled()
        result = submit(patient, answers=green_answers(temperature_c=38.2))
    assert [a.rule_id for a in Alert.objects.all()] == ["fever"]
    follow_up = result.follow_up
    assert follow_up.origin == "rule" and follow_up.status == "scheduled"
    assert follow_up.due_at == datetime(2026, 3, 11, 5, 0, tzinfo=UTC)


def test_extra_fever_check_in_outside_quiet_hours_is_exactly_twelve_hours_later(make_enrolled):
    with time_machine.travel(datetime(2026, 3, 10, 4, 0, tzinfo=UTC), tick=False):  # 07:00 local
        patient = make_enrolled()
        result = submit(patient, answers=green_answers(temperature_c=38.0))
    assert result.follow_up.due_at == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 19:00 local
    assert ScheduledCheckIn.objects.filter(origin="rule").count() == 1


def test_answering_a_scheduled_check_in_completes_it(enrolled):
    scheduled = ScheduledCheckIn.objects.create(patient=enrolled, due_at=timezone.now())
    result = submit(enrolled, scheduled_check_in_id=scheduled.pk)
    scheduled.refresh_from_db()
    assert scheduled.status == "completed" and scheduled.closed_at is not None
    assert result.check_in.scheduled_check_in_id == scheduled.pk


def test_green_advice_names_the_next_check_in_in_local_time(enrolled):
    ScheduledCheckIn.objects.create(patient=enrolled, due_at=datetime(2099, 5, 1, 6, 0, tzinfo=UTC))
    result = submit(enrolled)
    assert result.advice == "Thank you. Your next check-in: 01.05.2099 09:00."


def test_late_entry_is_judged_against_the_history_as_it_stood(patient, make_enrolled, nurse):
    """H3: weight_gain_fast compares with the lowest weight of the 72 h BEFORE taken_at.

    Check-ins at -50 h (77.0 kg) and -2 h (79.5 kg); a nurse enters a phone call taken
    at -60 h (79.0 kg). Against the history then (nothing earlier) it is not a gain;
    the -2 h check-in, judged when it came, was a 2.5 kg gain over -50 h. Discharged
    four days ago, so -60 h is after discharge whatever the hour the test runs at."""
    enrolled = make_enrolled(patient=patient, discharged_days_ago=4)
    now = timezone.now()
    submit(
        enrolled,
        channel="staff",
        submitted_by=nurse,
        taken_at=now - timedelta(hours=50),
        answers=green_answers(weight_kg=77.0),
    )
    later = submit(
        enrolled,
        channel="staff",
        submitted_by=nurse,
        taken_at=now - timedelta(hours=2),
        answers=green_answers(weight_kg=79.5),
    )
    assert [Alert.objects.get(pk=pk).rule_id for pk in later.alert_ids] == ["weight_gain_fast"]
    late = submit(
        enrolled,
        channel="staff",
        submitted_by=nurse,
        taken_at=now - timedelta(hours=60),
        answers=green_answers(weight_kg=79.0),
    )
    assert late.level == "green"
    assert late.check_in.taken_at == now - timedelta(hours=60)


def test_late_entered_fever_counts_only_earlier_fevers(enrolled, nurse):
    """fever_persistent looks back 24 h from taken_at, not from when it was typed."""
    now = timezone.now()
    submit(
        enrolled,
        channel="staff",
        submitted_by=nurse,
        taken_at=now - timedelta(hours=30),
        answers=green_answers(temperature_c=38.1),
    )
    # 26 h after the first fever: outside the 24 h window -> amber fever only.
    outside = submit(
        enrolled,
        channel="staff",
        submitted_by=nurse,
        taken_at=now - timedelta(hours=4),
        answers=green_answers(temperature_c=38.1),
    )
    assert outside.level == "amber"
    # A call taken 20 h ago, entered now: the -30 h fever is 10 h before it -> red.
    inside = submit(
        enrolled,
        channel="staff",
        submitted_by=nurse,
        taken_at=now - timedelta(hours=20),
        answers=green_answers(temperature_c=38.1),
    )
    assert inside.level == "red"
    assert "fever_persistent" in [Alert.objects.get(pk=pk).rule_id for pk in inside.alert_ids]


def test_events_carry_the_check_in_and_the_alert_as_the_api_returns_it(enrolled, nurse_client):
    """H1: the dashboard events are stored with the check-in, in the API's shape."""
    result = submit(enrolled, answers=green_answers(jaundice=True))
    received = Event.objects.get(type="check_in.received")
    assert received.data == {"id": result.check_in.pk, "patient": enrolled.pk, "level": "red", "complete": True}
    assert received.clinic_id == enrolled.clinic_id
    created = Event.objects.get(type="alert.created")
    api = nurse_client.get(f"/api/v1/alerts/{result.alert_ids[0]}/").json()
    assert created.data == api
    submit(enrolled, answers=green_answers(jaundice=True))
    updated = Event.objects.get(type="alert.updated")
    assert len(updated.data["occurrences"]) == 2
    assert updated.data == nurse_client.get(f"/api/v1/alerts/{result.alert_ids[0]}/").json()


def test_a_rejected_check_in_stores_nothing_at_all(enrolled):
    """H4: nothing stored, no event, no message."""
    from followup.services.checkins import CheckInRejected

    with pytest.raises(CheckInRejected) as rejected:
        submit(enrolled, answers=green_answers(temperature_c=380))
    assert rejected.value.errors == {"answers": {"temperature_c": ["Must be between 34.0 and 43.0 °C."]}}
    assert not CheckIn.objects.exists()
    assert not Event.objects.exists()
    assert not OutgoingMessage.objects.exists()
