"""Bundle builders of the FHIR tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

FHIR = "application/fhir+json"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
LAB_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.lab"


def post_bundle(client, bundle: dict[str, Any]):
    return client.post("/fhir/Bundle", data=bundle, format="json", HTTP_ACCEPT=FHIR)


def mrn_ref(clinic, mrn: str) -> dict[str, Any]:
    return {"identifier": {"system": f"urn:vigil:clinic:{clinic.pk}:mrn", "value": mrn}}


def lab_entry(
    n: int,
    subject: dict[str, Any],
    loinc: str,
    value: float,
    unit: str,
    *,
    low: float | None = None,
    high: float | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """One lab result as a hospital's LIS sends it: LOINC, UCUM, the reference range."""
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": LAB_SYSTEM, "value": f"R-{n:04d}"}],
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
        ],
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": subject,
        "effectiveDateTime": at or (timezone.now() - timedelta(hours=1)).isoformat(timespec="seconds"),
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }
    if low is not None or high is not None:
        bounds = {}
        if low is not None:
            bounds["low"] = {"value": low, "unit": unit, "system": UCUM, "code": unit}
        if high is not None:
            bounds["high"] = {"value": high, "unit": unit, "system": UCUM, "code": unit}
        resource["referenceRange"] = [bounds]
    return {
        "fullUrl": f"urn:uuid:00000000-0000-0000-0000-{n:012d}",
        "resource": resource,
        "request": {"method": "POST", "url": "Observation"},
    }


def six_labs(clinic, mrn: str) -> list[dict[str, Any]]:
    subject = mrn_ref(clinic, mrn)
    return [
        lab_entry(1, subject, "1975-2", 3.1, "mg/dL", low=0.2, high=1.2),  # bilirubin 53.01 µmol/L
        lab_entry(2, subject, "6301-6", 1.8, "{INR}", low=0.8, high=1.2),
        lab_entry(3, subject, "1742-6", 85, "U/L", high=45),
        lab_entry(4, subject, "1920-8", 70, "U/L", high=40),
        lab_entry(5, subject, "6768-6", 110, "U/L", low=40, high=130),
        lab_entry(6, subject, "1751-7", 3.2, "g/dL", low=3.5, high=5.0),  # albumin 32 g/L
    ]


def bundle(entries: list[dict[str, Any]], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": entries}
