"""Reading the entries of a posted Bundle into plain requests (no writes): which
patient each names, the lab result's Vigil code, value, unit and reference range, the
check-in's answers, the enrolment's dates. A problem is an ``Issue`` naming the entry
(index and fullUrl) and the element."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from followup.fhir import codes
from followup.fhir.outcome import Issue

ACCEPTED = ("Patient", "Encounter", "Procedure", "Observation", "QuestionnaireResponse")
RESULT_STATUSES = ("final", "amended", "corrected")


@dataclass
class Entry:
    index: int
    full_url: str
    resource: dict[str, Any]
    issues: list[Issue] = field(default_factory=list)

    @property
    def type(self) -> str:
        return str(self.resource.get("resourceType", ""))

    def where(self, element: str = "") -> str:
        base = f"Bundle.entry[{self.index}]"
        return f"{base}.resource.{element}" if element else base

    def problem(self, diagnostics: str, *, element: str = "", code: str = "invalid") -> None:
        named = f"entry {self.index}" + (f" ({self.full_url})" if self.full_url else "")
        self.issues.append(Issue(f"{named}: {diagnostics}", code, (self.where(element),)))


@dataclass(frozen=True)
class PatientRef:
    """How an entry names its patient: a Vigil id, an MRN, or a Patient entry."""

    patient_id: int | None = None
    mrn: str | None = None
    system: str | None = None
    full_url: str | None = None


def patient_ref(entry: Entry, element: str) -> PatientRef | None:
    value = entry.resource.get(element)
    if not isinstance(value, dict):
        entry.problem("names no patient.", element=element, code="required")
        return None
    identifier = value.get("identifier")
    reference = str(value.get("reference") or "")
    if isinstance(identifier, dict) and identifier.get("value"):
        return PatientRef(mrn=str(identifier["value"]), system=identifier.get("system"))
    if reference.startswith("Patient?identifier="):
        system, _, mrn = reference.removeprefix("Patient?identifier=").rpartition("|")
        return PatientRef(mrn=mrn, system=system or None)
    if reference.startswith("Patient/") and reference.removeprefix("Patient/").isdigit():
        return PatientRef(patient_id=int(reference.removeprefix("Patient/")))
    if reference:
        return PatientRef(full_url=reference)
    entry.problem("names no patient (a reference or an identifier).", element=element, code="required")
    return None


def moment_of(text: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _day(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _number(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    return value


@dataclass(frozen=True)
class LabRequest:
    code: str
    value: object
    unit: str
    observed_at: datetime
    reference_low: float | None
    reference_high: float | None
    source_system: str
    source_id: str


def _vigil_code(entry: Entry) -> str | None:
    for coding in (entry.resource.get("code") or {}).get("coding") or []:
        if coding.get("system") == codes.LOINC and coding.get("code") in codes.LOINC_IN:
            return codes.LOINC_IN[coding["code"]]
        if coding.get("system") == codes.OBSERVATION_CODE_SYSTEM:
            return str(coding.get("code"))
    return None


def _bound(range_: dict[str, Any], name: str) -> float | None:
    quantity = range_.get(name)
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        return None
    return float(quantity["value"])


def lab_request(entry: Entry) -> LabRequest | None:
    resource = entry.resource
    code = _vigil_code(entry)
    if code is None:
        entry.problem(
            "no LOINC code Vigil reads (bilirubin, INR, ALT, AST, ALP, albumin, CEA, vitals).",
            element="code",
            code="code-invalid",
        )
    if resource.get("status") not in RESULT_STATUSES:
        entry.problem(f"status '{resource.get('status')}': only final results are taken.", element="status")
    quantity = resource.get("valueQuantity")
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        entry.problem("a valueQuantity with a value is required.", element="valueQuantity", code="required")
        return None
    unit = (
        quantity.get("code") if quantity.get("system") == codes.UCUM and quantity.get("code") else quantity.get("unit")
    )
    observed_at = moment_of(resource.get("effectiveDateTime") or resource.get("effectiveInstant") or "")
    if observed_at is None:
        entry.problem("effectiveDateTime with its offset is required.", element="effectiveDateTime", code="required")
    ranges = resource.get("referenceRange") or [{}]
    identifier = (resource.get("identifier") or [{}])[0]
    if code is None or observed_at is None:
        return None
    return LabRequest(
        code=code,
        value=_number(quantity["value"]),
        unit=codes.unit_of(str(unit or "")),
        observed_at=observed_at,
        reference_low=_bound(ranges[0], "low"),
        reference_high=_bound(ranges[0], "high"),
        source_system=str(identifier.get("system") or ""),
        source_id=str(identifier.get("value") or ""),
    )


ANSWER_KEYS = ("valueBoolean", "valueInteger", "valueDecimal", "valueString")


def checkin_answers(entry: Entry) -> dict[str, Any] | None:
    """``{question id: answer}`` of a QuestionnaireResponse (a choice by its code)."""
    answers: dict[str, Any] = {}
    for position, item in enumerate(entry.resource.get("item") or []):
        given = (item.get("answer") or [None])[0]
        if not isinstance(given, dict):
            entry.problem(f"item '{item.get('linkId')}' has no answer.", element=f"item[{position}].answer")
            continue
        if isinstance(given.get("valueCoding"), dict):
            answers[item["linkId"]] = given["valueCoding"].get("code")
            continue
        key = next((key for key in ANSWER_KEYS if key in given), None)
        if key is None:
            entry.problem("answers are boolean, integer, decimal or coding.", element=f"item[{position}].answer")
            continue
        answers[item["linkId"]] = _number(given[key])
    return answers if not entry.issues else None


@dataclass(frozen=True)
class EnrolmentRequest:
    discharge_date: date
    surgery_date: date
    procedure: str
    drain_at_discharge: bool


def enrolment_request(encounter: Entry, procedure: Entry | None) -> EnrolmentRequest | None:
    period = encounter.resource.get("period") or {}
    discharge = _day(period.get("end", ""))
    if discharge is None:
        encounter.problem(
            "the discharge date (period.end) is required to enrol.", element="period.end", code="required"
        )
        return None
    surgery: date | None = _day(period.get("start", ""))
    name = "Hepatectomy"
    if procedure is not None:
        performed = procedure.resource.get("performedDateTime") or (
            procedure.resource.get("performedPeriod") or {}
        ).get("start")
        surgery = _day(performed or "") or surgery
        name = str((procedure.resource.get("code") or {}).get("text") or name)
    if surgery is None:
        encounter.problem(
            "the surgery date is required (Procedure.performed or Encounter.period.start).",
            element="period.start",
            code="required",
        )
        return None
    drain = any(
        ext.get("url") == codes.EXT_DRAIN and ext.get("valueBoolean") is True
        for ext in encounter.resource.get("extension") or []
    )
    return EnrolmentRequest(
        discharge_date=discharge, surgery_date=surgery, procedure=name[:200], drain_at_discharge=drain
    )
