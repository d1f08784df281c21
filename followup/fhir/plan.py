"""Checking a Bundle's entries before anything is written: who may post each, which
patient each names (in the caller's clinic only: another clinic's is unknown, H12),
whether a lab result's unit converts. Problems are recorded on the entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.models import Clinic, Patient, User
from followup.fhir import codes
from followup.fhir.entries import (
    EnrolmentRequest,
    Entry,
    LabRequest,
    PatientRef,
    checkin_answers,
    enrolment_request,
    lab_request,
    patient_ref,
)
from followup.services.observations import observation_convert


@dataclass(frozen=True)
class Caller:
    kind: str  # staff, integration or patient
    user: User
    clinic_id: int | None
    patient_id: int | None = None


@dataclass
class Plan:
    entry: Entry
    kind: str  # patient, enrolment, procedure, lab, check_in
    patient: Patient | None = None
    patient_full_url: str = ""  # the Patient entry of the Bundle it names
    mrn: str = ""
    lab: LabRequest | None = None
    answers: dict[str, Any] | None = None
    enrolment: EnrolmentRequest | None = None


WHO_MAY = {
    "Patient": ("staff", "integration"),
    "Encounter": ("staff", "integration"),
    "Procedure": ("staff", "integration"),
    "Observation": ("staff", "integration"),
    "QuestionnaireResponse": ("staff", "patient"),
}
KINDS = {"Patient": "patient", "Encounter": "enrolment", "Procedure": "procedure", "Observation": "lab"}


def _clinic(caller: Caller) -> Clinic | None:
    if caller.clinic_id is not None:
        return Clinic.objects.filter(pk=caller.clinic_id).first()
    return Clinic.objects.filter(patients__pk=caller.patient_id).first()


def _mrn(entry: Entry, clinic: Clinic) -> str:
    system = codes.mrn_system(clinic_id=clinic.pk, configured=clinic.mrn_system)
    for identifier in entry.resource.get("identifier") or []:
        if identifier.get("system") == system and identifier.get("value"):
            return str(identifier["value"])
    entry.problem(
        f"an identifier with this clinic's MRN system ({system}) is required.", element="identifier", code="required"
    )
    return ""


class _Resolver:
    """Finds the patient an entry names, within the caller's clinic."""

    def __init__(self, *, caller: Caller, clinic: Clinic, patient_entries: dict[str, str]) -> None:
        self.caller, self.clinic = caller, clinic
        self.system = codes.mrn_system(clinic_id=clinic.pk, configured=clinic.mrn_system)
        self.patient_entries = patient_entries  # fullUrl -> MRN
        self.by_mrn = set(patient_entries.values())

    def resolve(self, plan: Plan, ref: PatientRef, element: str) -> None:
        entry, patients = plan.entry, Patient.objects.filter(clinic=self.clinic)
        if self.caller.kind == "patient":
            patients = patients.filter(pk=self.caller.patient_id)
        if ref.full_url is not None:
            if ref.full_url not in self.patient_entries:
                entry.problem(
                    f"{ref.full_url} is neither a Patient of this Bundle nor Patient/<id>.",
                    element=element,
                    code="not-found",
                )
                return
            plan.patient_full_url, mrn = ref.full_url, self.patient_entries[ref.full_url]
            plan.patient = patients.filter(mrn=mrn).first()
            return
        if ref.mrn is not None:
            if ref.system not in (None, self.system):
                entry.problem(
                    f"identifier system {ref.system} is not this clinic's MRN system ({self.system}).",
                    element=element,
                    code="not-found",
                )
                return
            plan.patient = patients.filter(mrn=ref.mrn).first()
            if plan.patient is None and ref.mrn in self.by_mrn:
                plan.patient_full_url = next(url for url, mrn in self.patient_entries.items() if mrn == ref.mrn)
            elif plan.patient is None:
                entry.problem(f"no patient with MRN {ref.mrn} in this clinic.", element=element, code="not-found")
            return
        plan.patient = patients.filter(pk=ref.patient_id).first()
        if plan.patient is None:
            entry.problem(f"Patient/{ref.patient_id} is not known.", element=element, code="not-found")


def plan_entries(*, entries: list[Entry], caller: Caller) -> list[Plan]:
    """One plan per entry that passed its checks' first stage; problems on entries."""
    clinic = _clinic(caller)
    assert clinic is not None
    plans: list[Plan] = []
    patient_entries: dict[str, str] = {}
    for entry in entries:
        if entry.issues:
            continue
        if caller.kind not in WHO_MAY[entry.type]:
            entry.problem(f"this account may not post a {entry.type}.", code="forbidden")
        elif entry.type == "Patient":
            plan = Plan(entry=entry, kind="patient", mrn=_mrn(entry, clinic))
            if plan.mrn:
                patient_entries[entry.full_url or f"#entry{entry.index}"] = plan.mrn
                plan.patient = Patient.objects.filter(clinic=clinic, mrn=plan.mrn).first()
            plans.append(plan)
    resolver = _Resolver(caller=caller, clinic=clinic, patient_entries=patient_entries)
    procedures = [entry for entry in entries if entry.type == "Procedure" and not entry.issues]
    for entry in entries:
        if entry.issues or entry.type == "Patient":
            continue
        plan = Plan(entry=entry, kind=KINDS.get(entry.type, "check_in"))
        ref = patient_ref(entry, "subject")
        if ref is not None:
            resolver.resolve(plan, ref, "subject")
        if plan.kind == "lab":
            plan.lab = _lab_checked(entry)
        elif plan.kind == "check_in":
            plan.answers = checkin_answers(entry)
        elif plan.kind == "procedure" and not any(
            other.type == "Encounter" and other.resource.get("subject") == entry.resource.get("subject")
            for other in entries
        ):
            entry.problem("a Procedure is taken with the Encounter of the discharge of the same subject; none came.")
        elif plan.kind == "enrolment":
            subject = entry.resource.get("subject")
            same = [p for p in procedures if p.resource.get("subject") == subject]
            plan.enrolment = enrolment_request(entry, same[0] if same else None)
        plans.append(plan)
    return plans


def _lab_checked(entry: Entry) -> LabRequest | None:
    lab = lab_request(entry)
    if lab is None:
        return None
    _value, errors = observation_convert(code=lab.code, value=lab.value, unit=lab.unit)
    for name, messages in errors.items():
        element = {"unit": "valueQuantity.code", "value": "valueQuantity.value"}.get(name, "code")
        entry.problem(" ".join(messages), element=element, code="value")
    return lab
