"""Check-ins as QuestionnaireResponses (issue 21, must-show 1): one exported and posted
back goes through the check-in path and gives the same answers and the same triage."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from followup.models import AlertOccurrence, CheckIn
from followup.services.checkins import checkin_submit
from tests.answers import green_answers, red_answers
from tests.fhir.fhir_kit import bundle, post_bundle

pytestmark = pytest.mark.django_db


def _fired(check_in: CheckIn) -> set[str]:
    return set(AlertOccurrence.objects.filter(check_in=check_in).values_list("alert__rule_id", flat=True))


def _exported(client, patient, check_in: CheckIn) -> dict:
    found = client.get(f"/fhir/QuestionnaireResponse?patient={patient.pk}").json()
    resource = next(e["resource"] for e in found["entry"] if e["resource"]["id"] == str(check_in.pk))
    QuestionnaireResponse.model_validate(resource)
    return resource


@pytest.mark.parametrize(
    "answers",
    [
        red_answers(),
        green_answers(wound="red", right_upper_pain=True, vomiting_episodes_24h=1, fluids_kept_down=True),
        green_answers(heart_rate_bpm=72, abdominal_pain=0),
    ],
    ids=["red", "amber", "green"],
)
def test_it_posts_back_with_the_same_answers_and_triage(enrolled, patient_client, nurse, on_call_surgeon, answers):
    """H1: the check-in path is the one path, whatever the door. (Answers whose level
    does not hang on the history: the posted check-in has the original as previous.)"""
    original = checkin_submit(patient_id=enrolled.pk, answers=answers, channel="app", submitted_by=nurse).check_in
    resource = _exported(patient_client, enrolled, original)
    assert resource["extension"][0]["valueCode"] == original.level

    entry = {
        "fullUrl": "urn:uuid:qr-1",
        "resource": resource,
        "request": {"method": "POST", "url": "QuestionnaireResponse"},
    }
    response = post_bundle(patient_client, bundle([entry]))
    assert response.status_code == 200, response.json()
    location = response.json()["entry"][0]["response"]["location"]
    posted = CheckIn.objects.get(pk=int(location.split("/")[1]))
    assert posted.pk != original.pk and posted.channel == "app"
    assert posted.answers == original.answers
    assert posted.level == original.level
    assert _fired(posted) == _fired(original)


def test_bad_answers_are_refused_naming_the_entry_and_the_question(enrolled, patient_client):
    entry = {
        "fullUrl": "urn:uuid:qr-2",
        "resource": {
            "resourceType": "QuestionnaireResponse",
            "status": "completed",
            "subject": {"reference": f"Patient/{enrolled.pk}"},
            "item": [{"linkId": "temperature_c", "answer": [{"valueDecimal": 51.0}]}],
        },
    }
    response = post_bundle(patient_client, bundle([entry]))
    assert response.status_code == 400
    diagnostics = " ".join(issue["diagnostics"] for issue in response.json()["issue"])
    assert "entry 0 (urn:uuid:qr-2)" in diagnostics and "temperature_c" in diagnostics
    assert not CheckIn.objects.exists()


def test_a_patient_posts_only_its_own_check_ins(enrolled, make_enrolled, patient_client, integration_client):
    """H12: another patient reads as unknown; the service account posts no check-ins."""
    someone = make_enrolled()
    resource = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "subject": {"reference": f"Patient/{someone.pk}"},
        "item": [{"linkId": "temperature_c", "answer": [{"valueDecimal": 37.0}]}],
    }
    response = post_bundle(patient_client, bundle([{"fullUrl": "urn:uuid:qr-3", "resource": resource}]))
    assert response.status_code == 400 and "is not known" in response.json()["issue"][0]["diagnostics"]
    response = post_bundle(integration_client, bundle([{"fullUrl": "urn:uuid:qr-3", "resource": resource}]))
    assert response.status_code == 403 and response.json()["issue"][0]["code"] == "forbidden"
    assert not CheckIn.objects.exists()


def test_answers_to_another_questionnaire_are_refused(enrolled, patient_client):
    resource = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "http://example.org/Questionnaire/phq-9",
        "status": "completed",
        "subject": {"reference": f"Patient/{enrolled.pk}"},
        "item": [{"linkId": "temperature_c", "answer": [{"valueDecimal": 37.0}]}],
    }
    response = post_bundle(patient_client, bundle([{"fullUrl": "urn:uuid:qr-4", "resource": resource}]))
    assert response.status_code == 400
    assert "is not the patient's protocol" in response.json()["issue"][0]["diagnostics"]
    assert not CheckIn.objects.exists()
