"""A transaction Bundle is all or nothing (issue 21, must-show 4): a malformed one, one
naming a patient the clinic does not have, or one with a unit that cannot be converted
is refused with an OperationOutcome naming the entry and the problem, and nothing of
it is stored."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from backend.models import AuditRecord
from followup.models import Alert, Observation
from notifications.models import OutgoingMessage
from tests.fhir.fhir_kit import bundle, mrn_ref, post_bundle, six_labs

pytestmark = pytest.mark.django_db


def _refused(response, *, index: int, words: str) -> dict:
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    outcome = response.json()
    OperationOutcome.model_validate(outcome)
    issue = next(issue for issue in outcome["issue"] if f"entry {index}" in issue["diagnostics"])
    assert f"urn:uuid:00000000-0000-0000-0000-{index + 1:012d}" in issue["diagnostics"]
    assert any(path.startswith(f"Bundle.entry[{index}]") for path in issue["expression"])
    assert words in issue["diagnostics"]
    return issue


def _nothing_stored() -> None:
    assert Observation.objects.count() == 0
    assert Alert.objects.count() == 0
    assert OutgoingMessage.objects.count() == 0
    assert not AuditRecord.objects.filter(action="create").exists()


def test_a_malformed_entry_refuses_the_whole_transaction(integration_client, clinic, day5_patient):
    entries = six_labs(clinic, "H-0042")
    entries[4]["resource"]["valueQuantity"]["value"] = "one hundred"
    issue = _refused(post_bundle(integration_client, bundle(entries)), index=4, words="Decimal")
    assert issue["code"] == "structure"
    _nothing_stored()


def test_a_missing_patient_refuses_the_whole_transaction(integration_client, clinic, day5_patient):
    """H5 (a result attached to the wrong patient) and H12: a patient of another clinic
    is as unknown as one that does not exist."""
    entries = six_labs(clinic, "H-0042")
    entries[2]["resource"]["subject"] = mrn_ref(clinic, "H-9999")
    issue = _refused(post_bundle(integration_client, bundle(entries)), index=2, words="no patient with MRN H-9999")
    assert issue["code"] == "not-found"
    _nothing_stored()


def test_another_clinics_patient_is_a_missing_patient(integration_client, clinic, other_clinic, day5_patient):
    """H5, H12: an MRN is read in the account's own clinic's system only."""
    from tests.factories import PatientFactory

    PatientFactory(clinic=other_clinic, mrn="X-1")
    entries = six_labs(clinic, "H-0042")
    entries[1]["resource"]["subject"] = mrn_ref(other_clinic, "X-1")
    _refused(post_bundle(integration_client, bundle(entries)), index=1, words="not this clinic's MRN system")
    entries[1]["resource"]["subject"] = mrn_ref(clinic, "X-1")
    _refused(post_bundle(integration_client, bundle(entries)), index=1, words="no patient with MRN X-1")
    _nothing_stored()


def test_a_unit_that_cannot_be_converted_refuses_the_whole_transaction(integration_client, clinic, day5_patient):
    """H15: a unit is never assumed."""
    entries = six_labs(clinic, "H-0042")
    quantity = entries[0]["resource"]["valueQuantity"]
    quantity["unit"] = quantity["code"] = "mmol/mol"
    issue = _refused(post_bundle(integration_client, bundle(entries)), index=0, words="'mmol/mol' is not a unit")
    assert issue["expression"] == ["Bundle.entry[0].resource.valueQuantity.code"]
    _nothing_stored()


def test_a_refusal_by_the_service_rolls_back_the_entries_before_it(integration_client, clinic, day5_patient):
    """The checks before writing pass; the service refuses the last entry (a result
    from the future) after five were written: none of them stays."""
    entries = six_labs(clinic, "H-0042")
    entries[5]["resource"]["effectiveDateTime"] = "2100-01-01T00:00:00+00:00"
    issue = _refused(post_bundle(integration_client, bundle(entries)), index=5, words="observed_at")
    assert issue["code"] == "processing"
    _nothing_stored()


def test_a_body_that_is_not_a_bundle_is_an_operation_outcome(integration_client):
    response = integration_client.post("/fhir/Bundle", data={"resourceType": "Patient"}, format="json")
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_body_that_is_not_json_is_an_operation_outcome(integration_client):
    response = integration_client.generic("POST", "/fhir/Bundle", "{not json", content_type="application/fhir+json")
    assert response.status_code == 400
    OperationOutcome.model_validate(response.json())


def test_a_body_too_large_is_a_413_operation_outcome(integration_client, clinic, day5_patient, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_bundle(integration_client, bundle(six_labs(clinic, "H-0042")))
    assert response.status_code == 413
    OperationOutcome.model_validate(response.json())
    assert response.json()["issue"][0]["code"] == "too-costly"
    assert not Observation.objects.exists()
