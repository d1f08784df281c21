"""POST/GET /api/v1/check-ins/: strict validation naming every bad answer (H4),
Idempotency-Key, taken_at, and who sees what (H12)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.models import AuditRecord, IdempotencyRecord
from backend.services import patient_user_get_or_create
from followup.models import Alert, CheckIn, ScheduledCheckIn
from notifications.models import Event, OutgoingMessage
from tests.factories import ABSENT, green_answers

pytestmark = pytest.mark.django_db

URL = "/api/v1/check-ins/"


def post(client, body, **headers):
    return client.post(URL, body, format="json", **headers)


def assert_nothing_stored():
    assert not CheckIn.objects.exists()
    assert not Alert.objects.exists()
    assert not Event.objects.exists()
    assert not OutgoingMessage.objects.exists()


# --- submission -------------------------------------------------------------------------


def test_patient_submits_own_check_in_and_gets_triage(enrolled, patient_client):
    response = post(patient_client, {"answers": green_answers(jaundice=True), "scheduled_check_in": None})
    assert response.status_code == 201, response.json()
    body = response.json()
    stored = CheckIn.objects.get()
    assert body["id"] == stored.pk
    assert body["submitted_at"].endswith("Z")
    assert body["triage"]["level"] == "red"
    assert "Call the clinic now" in body["triage"]["advice"]
    assert body["triage"]["alerts"] == [Alert.objects.get().pk]
    assert body["channel"] == "app" and body["patient"] == enrolled.pk
    assert "evaluation_trace" not in body  # staff see the rules' trace, patients the advice


def test_nurse_submits_for_a_patient_of_the_clinic(enrolled, nurse_client, nurse):
    response = post(nurse_client, {"patient": enrolled.pk, "answers": green_answers()})
    assert response.status_code == 201, response.json()
    check_in = CheckIn.objects.get()
    assert check_in.channel == "staff" and check_in.submitted_by == nurse
    assert response.json()["evaluation_trace"]
    assert AuditRecord.objects.filter(object_type="check_in", action="create", patient_id=enrolled.pk).exists()


@pytest.mark.parametrize(
    ("answer_changes", "named"),
    [
        ({"temperature_c": 380}, "temperature_c"),
        ({"temperature_c": "38.5"}, "temperature_c"),
        ({"abdominal_pain": 7.5}, "abdominal_pain"),
        ({"jaundice": "yes"}, "jaundice"),
        ({"wound": "Red"}, "wound"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
        ({"jaundice": None}, "jaundice"),
    ],
)
def test_bad_answer_is_400_naming_the_question_and_stores_nothing(enrolled, patient_client, answer_changes, named):
    """H4: a typing error is neither stored nor judged."""
    response = post(patient_client, {"answers": green_answers(**answer_changes)})
    assert response.status_code == 400
    assert list(response.json()) == ["answers"]
    assert list(response.json()["answers"]) == [named]
    assert_nothing_stored()


def test_every_bad_answer_is_named_in_one_reply(enrolled, patient_client):
    """H4: 380 for 38.0, a string for a number, an unknown question, a missing one."""
    body = green_answers(temperature_c=380, weight_kg="79", jaundice=ABSENT)
    body["mood"] = "fine"
    response = post(patient_client, {"answers": body})
    assert response.status_code == 400
    errors = response.json()["answers"]
    assert set(errors) == {"temperature_c", "weight_kg", "jaundice", "mood"}
    assert errors["jaundice"] == ["This answer is required."]
    assert errors["mood"] == ["Unknown question."]
    assert "34.0" in errors["temperature_c"][0]
    assert_nothing_stored()


def test_answers_must_be_an_object(enrolled, patient_client):
    """H4: a body that is not an answer set is refused whole."""
    response = post(patient_client, {"answers": [1, 2]})
    assert response.status_code == 400
    assert list(response.json()) == ["answers"]
    assert_nothing_stored()


def test_drain_questions_are_required_for_a_patient_discharged_with_a_drain(make_enrolled, nurse_client):
    """H3: the bile-leak questions cannot be skipped when the episode has a drain."""
    patient = make_enrolled(drain=True)
    response = post(nurse_client, {"patient": patient.pk, "answers": green_answers()})
    assert response.status_code == 400
    assert set(response.json()["answers"]) == {"drain_output_ml", "drain_bile_colored"}
    ok = post(
        nurse_client,
        {"patient": patient.pk, "answers": green_answers(drain_output_ml=120, drain_bile_colored=False)},
    )
    assert ok.status_code == 201


def test_scheduled_check_in_id_must_be_a_number(enrolled, patient_client):
    response = post(patient_client, {"answers": green_answers(), "scheduled_check_in": "5"})
    assert response.status_code == 400
    assert list(response.json()) == ["scheduled_check_in"]


def test_another_patients_scheduled_check_in_is_unknown(enrolled, other_patient, patient_client):
    """H5, H12: answers never attach to another patient's scheduled check-in."""
    foreign = ScheduledCheckIn.objects.create(patient=other_patient, due_at=timezone.now())
    response = post(patient_client, {"answers": green_answers(), "scheduled_check_in": foreign.pk})
    assert response.status_code == 400
    assert list(response.json()) == ["scheduled_check_in"]
    foreign.refresh_from_db()
    assert foreign.status == "scheduled"
    assert_nothing_stored()


def test_answering_a_completed_check_in_again_is_409(enrolled, patient_client):
    scheduled = ScheduledCheckIn.objects.create(patient=enrolled, due_at=timezone.now())
    assert post(patient_client, {"answers": green_answers(), "scheduled_check_in": scheduled.pk}).status_code == 201
    again = post(patient_client, {"answers": green_answers(), "scheduled_check_in": scheduled.pk})
    assert again.status_code == 409
    assert "already answered" in again.json()["scheduled_check_in"][0]
    assert CheckIn.objects.count() == 1


def test_a_cancelled_check_in_cannot_be_answered(enrolled, patient_client):
    scheduled = ScheduledCheckIn.objects.create(patient=enrolled, due_at=timezone.now(), status="cancelled")
    response = post(patient_client, {"answers": green_answers(), "scheduled_check_in": scheduled.pk})
    assert response.status_code == 409
    assert_nothing_stored()


def test_a_patient_not_enrolled_is_400(patient_client, patient):
    response = post(patient_client, {"answers": green_answers()})
    assert response.status_code == 400
    assert list(response.json()) == ["patient"]


def test_staff_must_name_a_patient_of_their_clinic(enrolled, nurse_client, other_nurse_client):
    """H12: another clinic's patient reads as unknown."""
    assert list(post(nurse_client, {"answers": green_answers()}).json()) == ["patient"]
    foreign = post(other_nurse_client, {"patient": enrolled.pk, "answers": green_answers()})
    assert foreign.status_code == 400
    assert list(foreign.json()) == ["patient"]
    assert_nothing_stored()


# --- taken_at -----------------------------------------------------------------------------


def test_staff_taken_at_in_the_future_is_400(enrolled, nurse_client):
    """H14: a clock error does not become history."""
    taken_at = (timezone.now() + timedelta(hours=1)).isoformat()
    response = post(nurse_client, {"patient": enrolled.pk, "answers": green_answers(), "taken_at": taken_at})
    assert response.status_code == 400
    assert list(response.json()) == ["taken_at"]
    assert_nothing_stored()


def test_staff_taken_at_before_discharge_is_400(enrolled, nurse_client):
    """H14."""
    taken_at = (timezone.now() - timedelta(days=5)).isoformat()
    response = post(nurse_client, {"patient": enrolled.pk, "answers": green_answers(), "taken_at": taken_at})
    assert response.status_code == 400
    assert "discharge" in response.json()["taken_at"][0]
    assert_nothing_stored()


def test_taken_at_without_offset_is_400(enrolled, nurse_client):
    """H14: a time without its zone is refused, not guessed."""
    response = post(
        nurse_client, {"patient": enrolled.pk, "answers": green_answers(), "taken_at": "2026-11-23T09:30:00"}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["taken_at"]


def test_staff_taken_at_an_hour_ago_is_kept(enrolled, nurse_client):
    taken_at = timezone.now() - timedelta(hours=1)
    response = post(
        nurse_client, {"patient": enrolled.pk, "answers": green_answers(), "taken_at": taken_at.isoformat()}
    )
    assert response.status_code == 201
    assert CheckIn.objects.get().taken_at == taken_at


def test_a_patient_cannot_set_taken_at(enrolled, patient_client):
    """API.md: a patient's check-in through the API is taken when it arrives. (The
    patient app's own door, /app/api/check-ins/, sends answers queued offline with the
    time they were given: tests/patient_app/test_app_check_in_door.py.)"""
    taken_at = (timezone.now() - timedelta(hours=1)).isoformat()
    response = post(patient_client, {"answers": green_answers(), "taken_at": taken_at})
    assert response.status_code == 400
    assert list(response.json()) == ["taken_at"]
    assert_nothing_stored()


# --- idempotency ------------------------------------------------------------------------------


def test_same_idempotency_key_twice_stores_one_check_in_and_replays_the_reply(enrolled, patient_client):
    body = {"answers": green_answers(jaundice=True)}
    first = post(patient_client, body, HTTP_IDEMPOTENCY_KEY="retry-1")
    second = post(patient_client, body, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert CheckIn.objects.count() == 1
    assert Alert.objects.get().occurrences.count() == 1


def test_same_key_with_another_body_is_409(enrolled, patient_client):
    assert post(patient_client, {"answers": green_answers()}, HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    response = post(patient_client, {"answers": green_answers(temperature_c=37.0)}, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 409
    assert CheckIn.objects.count() == 1


def test_a_key_is_scoped_to_the_caller(enrolled, patient_client, make_enrolled, make_client):
    other = make_enrolled()
    other_client = make_client(patient_user_get_or_create(other))
    assert post(patient_client, {"answers": green_answers()}, HTTP_IDEMPOTENCY_KEY="same").status_code == 201
    assert post(other_client, {"answers": green_answers()}, HTTP_IDEMPOTENCY_KEY="same").status_code == 201
    assert CheckIn.objects.count() == 2


def test_a_rejected_request_is_not_remembered(enrolled, patient_client):
    """A 400 changed nothing, so the corrected retry with the key goes through."""
    bad = post(patient_client, {"answers": green_answers(temperature_c=380)}, HTTP_IDEMPOTENCY_KEY="fix")
    assert bad.status_code == 400
    good = post(patient_client, {"answers": green_answers(temperature_c=38.0)}, HTTP_IDEMPOTENCY_KEY="fix")
    assert good.status_code == 201


def test_a_key_is_kept_24_hours_then_freed(enrolled, patient_client):
    body = {"answers": green_answers()}
    assert post(patient_client, body, HTTP_IDEMPOTENCY_KEY="old").status_code == 201
    record = IdempotencyRecord.objects.get()
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(hours=23, minutes=59))
    assert post(patient_client, body, HTTP_IDEMPOTENCY_KEY="old")["Idempotent-Replayed"] == "true"
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(hours=25))
    assert post(patient_client, body, HTTP_IDEMPOTENCY_KEY="old").status_code == 201
    assert CheckIn.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 1


# --- reading ------------------------------------------------------------------------------------


def test_a_patient_lists_only_their_own_whatever_the_filter(enrolled, patient_client, make_enrolled, nurse):
    """H12."""
    from followup.services.checkins import checkin_submit

    other = make_enrolled()
    checkin_submit(patient_id=other.pk, answers=green_answers(), channel="staff", submitted_by=nurse)
    mine = checkin_submit(patient_id=enrolled.pk, answers=green_answers(), channel="app")
    for url in (URL, f"{URL}?patient={other.pk}"):
        body = patient_client.get(url).json()
        assert [row["id"] for row in body["results"]] == [mine.check_in.pk]


def test_another_patients_check_in_is_404_for_a_patient(enrolled, patient_client, make_enrolled, nurse):
    """H12."""
    from followup.services.checkins import checkin_submit

    other = make_enrolled()
    theirs = checkin_submit(patient_id=other.pk, answers=green_answers(), channel="staff", submitted_by=nurse)
    assert patient_client.get(f"{URL}{theirs.check_in.pk}/").status_code == 404


def test_staff_of_another_clinic_get_404_and_an_empty_list(enrolled, other_nurse_client, nurse_client):
    """H12."""
    created = post(nurse_client, {"patient": enrolled.pk, "answers": green_answers()}).json()
    assert other_nurse_client.get(f"{URL}{created['id']}/").status_code == 404
    assert other_nurse_client.get(URL).json()["count"] == 0
    assert other_nurse_client.get(f"{URL}?patient={enrolled.pk}").json()["count"] == 0


def test_detail_shows_answers_times_channel_and_triage(enrolled, nurse_client, patient_client):
    """H12: the read is audited."""
    created = post(patient_client, {"answers": green_answers(right_upper_pain=True)}).json()
    detail = nurse_client.get(f"{URL}{created['id']}/").json()
    assert detail["answers"]["right_upper_pain"] is True
    assert detail["taken_at"] and detail["submitted_at"] and detail["channel"] == "app"
    assert detail["triage"] == created["triage"]
    assert AuditRecord.objects.filter(object_type="check_in", action="read", object_id=str(created["id"])).exists()


def test_staff_list_filters_by_patient(enrolled, nurse_client, make_enrolled):
    other = make_enrolled()
    post(nurse_client, {"patient": enrolled.pk, "answers": green_answers()})
    post(nurse_client, {"patient": other.pk, "answers": green_answers()})
    assert nurse_client.get(URL).json()["count"] == 2
    filtered = nurse_client.get(f"{URL}?patient={other.pk}").json()
    assert [row["patient"] for row in filtered["results"]] == [other.pk]
    assert nurse_client.get(f"{URL}?patient=abc").status_code == 400


def test_list_query_count_does_not_grow_with_rows(
    enrolled, nurse_client, make_enrolled, nurse, django_assert_max_num_queries
):
    from followup.services.checkins import checkin_submit

    for _ in range(2):
        checkin_submit(
            patient_id=enrolled.pk, answers=green_answers(jaundice=True), channel="staff", submitted_by=nurse
        )
    with django_assert_max_num_queries(10) as few:
        assert nurse_client.get(URL).json()["count"] == 2
    # Counted now: a later request resets the connection's query log.
    baseline = len(few)
    for _ in range(3):
        patient = make_enrolled()
        for _ in range(4):
            checkin_submit(
                patient_id=patient.pk, answers=green_answers(right_upper_pain=True), channel="staff", submitted_by=nurse
            )
    with django_assert_max_num_queries(baseline):
        assert nurse_client.get(URL).json()["count"] == 14


def test_patient_token_is_refused_without_a_patient_and_anonymous_is_401(anonymous_client):
    assert anonymous_client.get(URL).status_code == 401
    assert anonymous_client.post(URL, {"answers": green_answers()}, format="json").status_code == 401
