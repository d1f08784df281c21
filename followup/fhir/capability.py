"""The CapabilityStatement (GET /fhir/metadata): what this server reads and accepts."""

from __future__ import annotations

from typing import Any

from followup.fhir import codes
from followup.fhir.validate import fhir_validated

SEARCHABLE = ("Observation", "QuestionnaireResponse", "Flag", "Appointment", "CarePlan")


def _search_resource(resource_type: str) -> dict[str, Any]:
    return {
        "type": resource_type,
        "interaction": [{"code": "search-type"}],
        "searchParam": [{"name": "patient", "type": "reference"}],
    }


def capability_statement() -> dict[str, Any]:
    return fhir_validated(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-12-06",
            "kind": "instance",
            "software": {"name": "Vigil"},
            "implementation": {"description": "Vigil: follow-up after liver surgery"},
            "fhirVersion": codes.FHIR_VERSION,
            "format": [codes.FHIR_JSON, "json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        "code": "Basic",
                                    }
                                ],
                                "text": "Token (Authorization: Token <key>)",
                            }
                        ],
                        "description": (
                            "Staff read their clinic's patients, a patient token its own; "
                            "a clinic's service account posts Bundles only."
                        ),
                    },
                    "resource": [
                        {
                            "type": "Patient",
                            "interaction": [{"code": "read"}],
                            "operation": [
                                {
                                    "name": "everything",
                                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                                }
                            ],
                        },
                        {"type": "Questionnaire", "interaction": [{"code": "read"}]},
                        *[_search_resource(name) for name in SEARCHABLE],
                    ],
                    "interaction": [{"code": "transaction"}, {"code": "batch"}],
                }
            ],
        }
    )
