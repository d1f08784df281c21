"""Every resource Vigil emits is checked against the FHIR R4 models before it leaves:
a resource that does not parse is a bug of ours, never the reader's problem."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class


def fhir_validated(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` unchanged, after the R4 model of its type parsed it (raises
    pydantic's ValidationError otherwise)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def reference(resource_type: str, resource_id: object) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


def instant(moment: Any) -> str:
    """An aware datetime as a FHIR instant (seconds, with its offset)."""
    return moment.isoformat(timespec="seconds")


def typed_value(value: object) -> dict[str, Any]:
    """A JSON value as one ``value[x]`` element of an extension."""
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    return {"valueString": str(value)}
