"""observation_create with the laboratory's reference range and a source identifier:
ranges stored in SI with the value's own conversion (H15), and a result received
twice stored once, judged once, paged once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from followup.models import Alert, Observation
from followup.services.observations import ObservationRejected, observation_create
from notifications.models import MessageKind, OutgoingMessage

pytestmark = pytest.mark.django_db


def create(patient, nurse, code, value, unit, **extra):
    extra.setdefault("observed_at", timezone.now() - timedelta(minutes=5))
    return observation_create(patient=patient, code=code, value=value, unit=unit, entered_by=nurse, **extra)


@pytest.mark.parametrize(
    ("code", "value", "unit", "si"),
    [
        # The clinical file's conversions, at the protocol's own thresholds.
        ("bilirubin_umol_l", 1.2, "mg/dL", 20.52),
        ("bilirubin_umol_l", 50 / 17.1, "mg/dL", 50.0),
        ("bilirubin_umol_l", 3.1, "mg/dL", 53.01),
        ("bilirubin_umol_l", 53.01, "umol/L", 53.01),
        ("albumin_g_l", 2.5, "g/dL", 25.0),
        ("albumin_g_l", 2.49, "g/dL", 24.9),
        ("cea_ng_ml", 5.0, "ug/L", 5.0),
        ("inr", 1.7, "{INR}", 1.7),
        ("alt_u_l", 200, "[IU]/L", 200.0),
    ],
)
def test_conversions_are_exact_at_the_boundaries(enrolled, nurse, code, value, unit, si):
    """H15: a value typed at a threshold in another unit stores as the threshold."""
    observation = create(enrolled, nurse, code, value, unit).observation
    assert observation.value == si
    assert Observation.objects.get().value == si


def test_reference_range_is_stored_in_si_from_the_entered_unit(enrolled, nurse):
    """H15, H19: a range in mg/dL is converted with the same factor as the value."""
    result = create(enrolled, nurse, "bilirubin_umol_l", 0.8, "mg/dL", reference_low=0.3, reference_high=1.2)
    stored = Observation.objects.get(pk=result.observation.pk)
    assert (stored.reference_low, stored.reference_high) == (5.13, 20.52)
    assert result.created is True


def test_either_end_of_the_range_may_be_missing(enrolled, nurse):
    stored = create(enrolled, nurse, "alt_u_l", 30, "U/L", reference_high=45).observation
    assert (stored.reference_low, stored.reference_high) == (None, 45.0)


@pytest.mark.parametrize(
    ("low", "high", "named"),
    [
        ("0.3", 1.2, "reference_low"),
        (0.3, True, "reference_high"),
        (-1, 1.2, "reference_low"),
        (1.2, 0.3, "reference_high"),
    ],
)
def test_a_bad_range_is_rejected_naming_it_and_nothing_is_stored(enrolled, nurse, low, high, named):
    """H19: a range no laboratory could mean is refused, not used to judge."""
    with pytest.raises(ObservationRejected) as rejected:
        create(enrolled, nurse, "bilirubin_umol_l", 0.8, "mg/dL", reference_low=low, reference_high=high)
    assert named in rejected.value.errors
    assert not Observation.objects.exists()


def test_the_same_source_id_twice_stores_one_observation_and_pages_once(make_enrolled, nurse, on_call_surgeon):
    """H3 (no duplicate alerts): a hospital resending its Bundle pages nobody again."""
    patient = make_enrolled(discharged_days_ago=0)  # day 7 after surgery
    source = {"source_system": "urn:oid:1.2.3.4", "source_id": "lab-0001"}
    create(patient, nurse, "inr", 1.8, "ratio", source_system="urn:oid:1.2.3.4", source_id="lab-0000")
    first = create(patient, nurse, "bilirubin_umol_l", 3.1, "mg/dL", **source)
    assert first.created and "phlf_50_50" in {change.alert.rule_id for change in first.alert_changes}
    pages = OutgoingMessage.objects.filter(kind=MessageKind.STAFF_PAGE).count()
    occurrences = Alert.objects.get(rule_id="phlf_50_50").occurrences.count()
    assert pages >= 1
    again = create(patient, nurse, "bilirubin_umol_l", 3.1, "mg/dL", **source)
    assert again.created is False and again.alert_changes == [] and again.follow_through is None
    assert again.observation.pk == first.observation.pk
    assert Observation.objects.filter(code="bilirubin_umol_l").count() == 1
    assert OutgoingMessage.objects.filter(kind=MessageKind.STAFF_PAGE).count() == pages
    assert Alert.objects.get(rule_id="phlf_50_50").occurrences.count() == occurrences


def test_a_source_id_is_unique_per_patient_not_across_patients(make_enrolled, nurse):
    source = {"source_system": "urn:oid:1.2.3.4", "source_id": "lab-0001"}
    one, two = make_enrolled(), make_enrolled()
    assert create(one, nurse, "alt_u_l", 30, "U/L", **source).created
    assert create(two, nurse, "alt_u_l", 30, "U/L", **source).created
    # Without a source, two equal results are two results.
    assert create(one, nurse, "alt_u_l", 30, "U/L").created and create(one, nurse, "alt_u_l", 30, "U/L").created
    assert Observation.objects.count() == 4


# --- staff entry through the API --------------------------------------------------------------

URL = "/api/v1/observations/"


def test_staff_entry_may_give_the_laboratory_range(make_enrolled, nurse_client):
    """The range typed with the value (mg/dL) is stored and shown in SI, and the v2
    lab rule uses it: ALT 210 U/L with the lab's upper limit 45 opens nothing."""
    patient = make_enrolled(discharged_days_ago=2)  # day 9 after surgery
    body = {
        "patient": patient.pk,
        "code": "bilirubin_umol_l",
        "value": 0.8,
        "unit": "mg/dL",
        "reference_low": 0.3,
        "reference_high": 1.2,
        "observed_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
    }
    response = nurse_client.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["reference_low"], response.json()["reference_high"]) == (5.13, 20.52)
    alt = {**body, "code": "alt_u_l", "value": 210, "unit": "U/L", "reference_low": 5, "reference_high": 45}
    assert nurse_client.post(URL, alt, format="json").json()["alerts"] == []
    alt["reference_high"] = 35
    fired = nurse_client.post(URL, alt, format="json").json()["alerts"]
    assert [Alert.objects.get(pk=pk).rule_id for pk in fired] == ["transaminases_high"]


def test_a_bad_range_is_named_with_the_other_bad_fields(enrolled, nurse_client):
    body = {
        "patient": enrolled.pk,
        "code": "alt_u_l",
        "value": "210",
        "unit": "U/L",
        "reference_high": "45",
        "observed_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
    }
    response = nurse_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"value", "reference_high"}
    assert not Observation.objects.exists()
