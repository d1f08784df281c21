"""The FHIR read API (issue 21, must-shows 1 and 5): every resource parses with the
R4 models of fhir.resources; ``$everything`` is one Bundle in a fixed number of
statements whatever the history; a patient token reads only its own, staff only
their clinic's, the clinic's service account none; every read is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from backend.models import AuditRecord
from followup.models import Alert, Appointment, CheckIn, Enrollment
from tests.answers import green_answers
from tests.factories import LabResultFactory

pytestmark = pytest.mark.django_db

AUDIT_INSERT = 'INSERT INTO "backend_auditrecord"'
SEARCHES = ("Observation", "QuestionnaireResponse", "Flag", "Appointment", "CarePlan")


def history_create(patient, count: int) -> None:
    """``count`` check-ins, as many alerts (a third of them open) and appointments, and
    a few labs: rows as the services leave them."""
    enrollment = Enrollment.objects.get(patient=patient, status="active")
    now = timezone.now()
    for n in range(count):
        at = now - timedelta(hours=count - n)
        check_in = CheckIn.objects.create(
            patient=patient,
            enrollment=enrollment,
            protocol_version=enrollment.protocol_version,
            answers=green_answers(temperature_c=37.0 + n % 10 / 10, heart_rate_bpm=70 + n),
            taken_at=at,
            channel="app",
            level="amber" if n % 3 == 0 else "green",
        )
        Alert.objects.create(
            patient=patient,
            clinic=patient.clinic,
            rule_id=f"rule_{n}",
            rule_version="2026.1",
            rule_title=f"Rule {n}",
            severity="amber",
            status="open" if n % 3 == 0 else "resolved",
            resolved_at=None if n % 3 == 0 else now,
            check_in=check_in,
            evidence=[{"field": "temperature_c", "value": 38.1, "condition": ">= 38.0"}],
        )
        Appointment.objects.create(
            patient=patient,
            enrollment=enrollment,
            kind="recall" if n % 5 == 0 else "lab",
            starts_at=at + timedelta(days=3),
        )
        if n % 5 == 0:
            LabResultFactory(patient=patient, value=15 + n, observed_at=at)


def everything(client, patient):
    return client.get(f"/fhir/Patient/{patient.pk}/$everything", HTTP_ACCEPT="application/fhir+json")


def test_everything_is_a_valid_bundle_in_the_same_statements_for_3_and_30(
    make_enrolled, nurse, nurse_client, django_assert_max_num_queries
):
    """H18 (bounded reads): one statement per resource type, however long the history."""
    short, long = make_enrolled(by=nurse), make_enrolled(by=nurse)
    history_create(short, 3)
    history_create(long, 30)
    everything(nurse_client, short)  # warms the protocol definition and the token caches
    counts = []
    for patient in (short, long):
        with django_assert_max_num_queries(12), CaptureQueriesContext(connection) as queries:
            response = everything(nurse_client, patient)
        assert response.status_code == 200
        statements = [query["sql"] for query in queries.captured_queries]
        counts.append((len(statements), [sql for sql in statements if not sql.startswith(AUDIT_INSERT)]))
        bundle = Bundle.model_validate(response.json())
        assert bundle.type == "searchset"
    # The same reads, one per resource type. The audit rows are one INSERT, except on
    # SQLite, whose 999-parameter limit makes Django split a long one in batches.
    assert len(counts[0][1]) == len(counts[1][1]) <= 7
    if connection.vendor == "postgresql":
        assert counts[0][0] == counts[1][0]

    resources = [entry["resource"] for entry in response.json()["entry"]]
    kinds = [resource["resourceType"] for resource in resources]
    assert kinds[0] == "Patient"
    assert kinds.count("QuestionnaireResponse") == 30 and kinds.count("Flag") == 30
    assert kinds.count("CarePlan") == 1 and kinds.count("Appointment") >= 30
    # Temperature, weight, heart rate and pain of each check-in, and the six labs.
    assert kinds.count("Observation") == 30 * 4 + 6
    loinc = {
        coding["code"]
        for resource in resources
        if resource["resourceType"] == "Observation"
        for coding in resource["code"]["coding"]
        if coding["system"] == "http://loinc.org"
    }
    assert loinc == {"8310-5", "29463-7", "8867-4", "72514-3", "14631-6"}
    for resource in resources:  # every one parses as its own R4 type too
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert AuditRecord.objects.filter(action="read", patient_id=long.pk, object_type="check_in").count() == 30


def test_a_patient_token_reads_only_its_own(make_enrolled, enrolled, patient_client):
    """H12: another patient's data is not found, never forbidden."""
    someone = make_enrolled()
    history_create(enrolled, 2)
    history_create(someone, 2)
    assert patient_client.get(f"/fhir/Patient/{enrolled.pk}").status_code == 200
    assert everything(patient_client, enrolled).status_code == 200
    for path in (f"/fhir/Patient/{someone.pk}", f"/fhir/Patient/{someone.pk}/$everything"):
        response = patient_client.get(path)
        assert response.status_code == 404 and response.json()["resourceType"] == "OperationOutcome"
    for name in SEARCHES:
        own = patient_client.get(f"/fhir/{name}").json()
        assert own["total"] > 0 and all(_subject(e["resource"]) == enrolled.pk for e in own["entry"])
        assert patient_client.get(f"/fhir/{name}?patient={someone.pk}").json()["total"] == 0


def _subject(resource) -> int:
    reference = (resource.get("subject") or resource.get("participant", [{}])[0].get("actor"))["reference"]
    return int(reference.split("/")[1])


def test_staff_read_only_their_clinics_patients(make_enrolled, nurse_client, other_nurse_client):
    patient = make_enrolled()
    history_create(patient, 2)
    for path in (f"/fhir/Patient/{patient.pk}", f"/fhir/Patient/{patient.pk}/$everything"):
        assert nurse_client.get(path).status_code == 200
        response = other_nurse_client.get(path)
        assert response.status_code == 404 and response.json()["resourceType"] == "OperationOutcome"
    for name in SEARCHES:
        assert nurse_client.get(f"/fhir/{name}?patient=Patient/{patient.pk}").json()["total"] > 0
        assert other_nurse_client.get(f"/fhir/{name}?patient={patient.pk}").json()["total"] == 0
    reads = AuditRecord.objects.filter(action="read", patient_id=patient.pk, actor_role="nurse")
    assert reads.filter(object_type="patient").exists() and reads.filter(object_type="alert").exists()


def test_the_service_account_reads_nothing(make_enrolled, integration_client, protocol_version):
    patient = make_enrolled()
    paths = [f"/fhir/Patient/{patient.pk}", f"/fhir/Patient/{patient.pk}/$everything"]
    paths.append(f"/fhir/Questionnaire/{protocol_version.pk}")
    paths += [f"/fhir/{name}?patient={patient.pk}" for name in SEARCHES]
    for path in paths:
        response = integration_client.get(path)
        assert response.status_code == 403, path
        assert response.json()["resourceType"] == "OperationOutcome"
    assert not AuditRecord.objects.filter(action="read").exists()


def test_without_a_token_it_is_401_as_an_operation_outcome(anonymous_client, enrolled):
    response = anonymous_client.get(f"/fhir/Patient/{enrolled.pk}")
    assert response.status_code == 401
    assert response.json()["issue"][0]["code"] == "login"


def test_metadata_questionnaire_and_unknown_paths_parse(nurse_client, protocol_version):
    metadata = nurse_client.get("/fhir/metadata")
    assert metadata.status_code == 200 and metadata["Content-Type"].startswith("application/fhir+json")
    statement = get_fhir_model_class("CapabilityStatement").model_validate(metadata.json())
    assert {resource.type for resource in statement.rest[0].resource} >= {"Patient", "Questionnaire", *SEARCHES}
    questionnaire = nurse_client.get(f"/fhir/Questionnaire/{protocol_version.pk}")
    assert questionnaire.status_code == 200
    parsed = get_fhir_model_class("Questionnaire").model_validate(questionnaire.json())
    items = {item.linkId: item for item in parsed.item}
    assert items["temperature_c"].type == "decimal" and items["wound"].type == "choice"
    assert items["fluids_kept_down"].enableWhen[0].question == "vomiting_episodes_24h"
    translations = questionnaire.json()["item"][0]["_text"]["extension"]
    assert {ext["extension"][0]["valueCode"] for ext in translations} == {"tr", "de", "ru", "uk", "az"}
    assert nurse_client.get("/fhir/Questionnaire/999999").status_code == 404
    unknown = nurse_client.get("/fhir/Medication/1")
    assert unknown.status_code == 404 and unknown.json()["resourceType"] == "OperationOutcome"
