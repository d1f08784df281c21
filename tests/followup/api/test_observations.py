"""Observations: unit required and converted to SI, plausibility per code (H15), and
the lab rules judged with the results as they stood when the sample was taken."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from followup.models import Alert, Appointment, Observation, WorklistItem
from notifications.models import MessageKind, OutgoingMessage

pytestmark = pytest.mark.django_db

URL = "/api/v1/observations/"


def lab(client, patient, code, value, unit, observed_at=None, **headers):
    body = {
        "patient": patient.pk,
        "code": code,
        "value": value,
        "unit": unit,
        "observed_at": (observed_at or timezone.now() - timedelta(minutes=5)).isoformat(),
    }
    return client.post(URL, body, format="json", **headers)


@pytest.fixture
def day_seven(make_enrolled):
    """Discharged today, operated on a week ago: today is day 7 after surgery."""
    return make_enrolled(discharged_days_ago=0)


def test_bilirubin_in_mg_dl_is_stored_in_umol_l_with_the_entry_kept(enrolled, nurse_client, nurse):
    """H15."""
    response = lab(nurse_client, enrolled, "bilirubin_umol_l", 2.0, "mg/dL")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["value"] == pytest.approx(34.2)
    assert body["unit"] == "µmol/L"
    assert body["entered_value"] == 2.0 and body["entered_unit"] == "mg/dL"
    stored = Observation.objects.get()
    assert stored.value == pytest.approx(34.2) and stored.entered_by == nurse


def test_unit_spellings_of_one_unit_are_accepted(enrolled, nurse_client):
    assert lab(nurse_client, enrolled, "bilirubin_umol_l", 20, "umol/L").status_code == 201
    assert lab(nurse_client, enrolled, "bilirubin_umol_l", 20, "μmol/l").status_code == 201
    assert lab(nurse_client, enrolled, "albumin_g_l", 3.5, "g/dL").json()["value"] == pytest.approx(35.0)


@pytest.mark.parametrize(
    ("code", "value", "unit", "named"),
    [
        ("bilirubin_umol_l", 20, "mmol/L", "unit"),
        ("bilirubin_umol_l", 20, "", "unit"),
        ("inr", 1.2, None, "unit"),
        ("bilirubin_umol_l", "20", "µmol/L", "value"),
        ("bilirubin_umol_l", True, "µmol/L", "value"),
        ("bilirubin_umol_l", 80, "mg/dL", "value"),  # 1368 µmol/L: mg/dL typed for µmol/L
        ("inr", 25, "ratio", "value"),
        ("albumin_g_l", 350, "g/L", "value"),
        ("potassium", 4.0, "mmol/L", "code"),
    ],
)
def test_bad_value_unit_or_code_is_400_naming_it_and_stores_nothing(enrolled, nurse_client, code, value, unit, named):
    """H15: an implausible value or a unit that does not belong to the code."""
    response = lab(nurse_client, enrolled, code, value, unit)
    assert response.status_code == 400
    assert named in response.json()
    assert not Observation.objects.exists()


def test_every_bad_field_is_named_together(enrolled, nurse_client):
    response = nurse_client.post(
        URL,
        {"patient": enrolled.pk, "code": "inr", "value": "1,2", "unit": "%", "observed_at": "yesterday"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"value", "unit", "observed_at"}


def test_observed_in_the_future_is_400(enrolled, nurse_client):
    response = lab(nurse_client, enrolled, "inr", 1.1, "ratio", observed_at=timezone.now() + timedelta(hours=2))
    assert response.status_code == 400
    assert list(response.json()) == ["observed_at"]


def test_phlf_50_50_on_day_five_or_later_is_a_red_alert_with_a_recall(day_seven, nurse_client):
    """H15 / S6: bilirubin 3.2 mg/dL (54.7 µmol/L) and INR 1.9 on day 7 after surgery."""
    first = lab(nurse_client, day_seven, "inr", 1.9, "ratio")
    assert first.status_code == 201
    assert [Alert.objects.get(pk=pk).rule_id for pk in first.json()["alerts"]] == ["inr_high"]
    second = lab(nurse_client, day_seven, "bilirubin_umol_l", 3.2, "mg/dL")
    assert second.status_code == 201
    rules = {Alert.objects.get(pk=pk).rule_id: Alert.objects.get(pk=pk) for pk in second.json()["alerts"]}
    assert set(rules) == {"phlf_50_50", "bilirubin_rising"}
    red = rules["phlf_50_50"]
    assert red.severity == "red" and red.observation_id == second.json()["id"]
    evidence = nurse_client.get(f"/api/v1/alerts/{red.pk}/").json()["evidence"]
    assert {item["field"] for item in evidence} == {"bilirubin_umol_l", "inr"}
    assert Appointment.objects.get(kind="recall").origin_alert == red
    # A lab value is not the patient's answer: no advice text goes to them.
    assert not OutgoingMessage.objects.filter(kind=MessageKind.ADVICE).exists()
    # Lab ambers ask for a review, not a nurse's call.
    assert not WorklistItem.objects.exists()


def test_phlf_values_before_day_five_open_nothing(make_enrolled, nurse_client):
    patient = make_enrolled(discharged_days_ago=2)  # surgery 9 days ago
    early = timezone.now() - timedelta(days=6)  # day 3 after surgery
    assert lab(nurse_client, patient, "inr", 1.9, "ratio", observed_at=early).status_code == 201
    response = lab(nurse_client, patient, "bilirubin_umol_l", 60, "µmol/L", observed_at=early)
    assert response.json()["alerts"] == []
    assert not Alert.objects.exists()


def test_a_back_dated_result_is_judged_with_the_labs_as_they_stood(make_enrolled, nurse_client):
    """An INR of 1.9 entered today but observed before an earlier bilirubin: the
    bilirubin observed later is not part of its picture."""
    patient = make_enrolled(discharged_days_ago=0)
    now = timezone.now()
    lab(nurse_client, patient, "bilirubin_umol_l", 60, "µmol/L", observed_at=now - timedelta(hours=1))
    back_dated = lab(nurse_client, patient, "inr", 1.9, "ratio", observed_at=now - timedelta(hours=20))
    rules = [Alert.objects.get(pk=pk).rule_id for pk in back_dated.json()["alerts"]]
    assert rules == ["inr_high"]


def test_an_unrelated_result_does_not_refire_an_old_abnormal_one(make_enrolled, nurse_client):
    patient = make_enrolled(discharged_days_ago=0)
    lab(nurse_client, patient, "albumin_g_l", 20, "g/L")
    assert lab(nurse_client, patient, "alt_u_l", 40, "U/L").json()["alerts"] == []
    assert Alert.objects.get().occurrences.count() == 1


def test_staff_only_and_clinic_scoped(enrolled, nurse_client, other_nurse_client, patient_client):
    """H12."""
    created = lab(nurse_client, enrolled, "inr", 1.1, "ratio").json()
    assert patient_client.get(URL).status_code == 403
    assert lab(patient_client, enrolled, "inr", 1.1, "ratio").status_code == 403
    assert other_nurse_client.get(URL).json()["count"] == 0
    foreign = lab(other_nurse_client, enrolled, "inr", 1.1, "ratio")
    assert foreign.status_code == 400 and list(foreign.json()) == ["patient"]
    listed = nurse_client.get(f"{URL}?patient={enrolled.pk}&code=inr").json()
    assert [row["id"] for row in listed["results"]] == [created["id"]]


def test_idempotency_key_enters_a_result_once(enrolled, nurse_client):
    taken = timezone.now() - timedelta(hours=1)
    first = lab(nurse_client, enrolled, "cea_ng_ml", 3.1, "ng/mL", taken, HTTP_IDEMPOTENCY_KEY="lab-1")
    second = lab(nurse_client, enrolled, "cea_ng_ml", 3.1, "ng/mL", taken, HTTP_IDEMPOTENCY_KEY="lab-1")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert Observation.objects.count() == 1


def test_list_query_count_does_not_grow(enrolled, nurse_client, make_enrolled, django_assert_max_num_queries):
    lab(nurse_client, enrolled, "albumin_g_l", 20, "g/L")
    with django_assert_max_num_queries(10) as few:
        nurse_client.get(URL)
    # Counted now: a later request resets the connection's query log.
    baseline = len(few)
    for _ in range(3):
        patient = make_enrolled(discharged_days_ago=0)
        lab(nurse_client, patient, "albumin_g_l", 20, "g/L")
        lab(nurse_client, patient, "inr", 1.9, "ratio")
    with django_assert_max_num_queries(baseline):
        assert nurse_client.get(URL).json()["count"] == 7
