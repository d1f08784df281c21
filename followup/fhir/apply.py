"""Writing one checked entry of a Bundle through Vigil's services. A service's refusal
(bad answers, an implausible value, an episode already enrolled) becomes an
``EntryRefused`` naming the entry and the fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any

from backend.audit import AuditContext, audit_record, audit_rows
from backend.models import AuditAction, Clinic, Episode, Patient
from backend.serializers import PatientSerializer
from followup.fhir import codes
from followup.fhir.entries import Entry, moment_of
from followup.fhir.outcome import Issue
from followup.fhir.plan import Caller, Plan
from followup.models import CheckIn
from followup.selectors import active_enrollment
from followup.services.checkin_rate import CheckInRateExceeded, checkin_submit_within_rate
from followup.services.checkins import CheckInRejected, checkin_submit
from followup.services.enrollment import enrollment_create
from followup.services.observations import ObservationRejected, observation_create
from followup.services.scheduling import ScheduleConflict, ScheduleRejected

PROTOCOL_SLUG = "post-hepatectomy"


@dataclass
class Outcome:
    status: str
    location: str = ""
    issues: list[Issue] = field(default_factory=list)

    @classmethod
    def refused(cls, status: int, issues: list[Issue]) -> Outcome:
        return cls(status=f"{status} {HTTPStatus(status).phrase}", issues=issues)


class EntryRefused(Exception):
    def __init__(self, entry: Entry, status: int = 400) -> None:
        super().__init__(str(entry.issues))
        self.entry, self.status = entry, status


def _refuse(entry: Entry, errors: dict[str, Any], status: int = 400) -> EntryRefused:
    for name, messages in errors.items():
        text = (
            messages
            if isinstance(messages, str)
            else "; ".join(map(str, messages if isinstance(messages, list) else [messages]))
        )
        entry.problem(f"{name}: {text}", code="processing")
    return EntryRefused(entry, status)


def _patient_of(plan: Plan, created: dict[str, int]) -> Patient:
    if plan.patient is not None:
        return plan.patient
    patient = Patient.objects.filter(pk=created.get(plan.patient_full_url)).first()
    if patient is None:
        raise _refuse(plan.entry, {"subject": ["the Patient entry it names was not stored."]})
    return patient


def apply_entry(*, plan: Plan, caller: Caller, created_patients: dict[str, int], audit: AuditContext | None) -> Outcome:
    if plan.kind == "patient":
        return _patient(plan=plan, caller=caller, created=created_patients, audit=audit)
    if plan.kind == "procedure":
        return Outcome(status="200 OK")  # read with its Encounter
    patient = _patient_of(plan, created_patients)
    if plan.kind == "enrolment":
        return _enrol(plan=plan, caller=caller, patient=patient, audit=audit)
    if plan.kind == "lab":
        return _lab(plan=plan, caller=caller, patient=patient, audit=audit)
    return _check_in(plan=plan, caller=caller, patient=patient, audit=audit)


def _patient_fields(resource: dict[str, Any], clinic: Clinic, mrn: str) -> dict[str, Any]:
    name = (resource.get("name") or [{}])[0]
    phone = next((t.get("value") for t in resource.get("telecom") or [] if t.get("system") in ("phone", "sms")), None)
    language = next(
        (
            coding.get("code")
            for item in resource.get("communication") or []
            for coding in (item.get("language") or {}).get("coding") or []
        ),
        clinic.default_language,
    )
    zone = next(
        (e.get("valueCode") for e in resource.get("extension") or [] if e.get("url") == codes.EXT_TIMEZONE), None
    )
    return {
        "mrn": mrn,
        "given_name": " ".join(name.get("given") or []),
        "family_name": name.get("family") or "",
        "phone": phone,
        "language": (language or "en")[:2],
        "timezone": zone or clinic.timezone,
    }


def _patient(*, plan: Plan, caller: Caller, created: dict[str, int], audit: AuditContext | None) -> Outcome:
    """A Patient of the hospital: the one with this MRN if the clinic has them (not
    changed: the clinic's record is Vigil's), else created."""
    key = plan.entry.full_url or f"#entry{plan.entry.index}"
    if plan.patient is not None:
        created[key] = plan.patient.pk
        return Outcome(status="200 OK", location=f"Patient/{plan.patient.pk}")
    clinic = Clinic.objects.get(pk=caller.clinic_id)
    context = {"request": SimpleNamespace(user=caller.user)}
    serializer = PatientSerializer(data=_patient_fields(plan.entry.resource, clinic, plan.mrn), context=context)
    if not serializer.is_valid():
        raise _refuse(plan.entry, dict(serializer.errors))
    patient = serializer.save(clinic_id=clinic.pk)
    audit_record(
        actor=caller.user,
        action=AuditAction.CREATE,
        object_type="patient",
        objects=[(patient.pk, patient.pk)],
        clinic_id=clinic.pk,
        audit=audit,
    )
    created[key] = patient.pk
    return Outcome(status="201 Created", location=f"Patient/{patient.pk}")


def _enrol(*, plan: Plan, caller: Caller, patient: Patient, audit: AuditContext | None) -> Outcome:
    request = plan.enrolment
    assert request is not None
    episode = Episode(
        patient=patient,
        procedure=request.procedure,
        surgery_date=request.surgery_date,
        discharge_date=request.discharge_date,
        drain_at_discharge=request.drain_at_discharge,
    )
    if episode.discharge_date < episode.surgery_date:
        raise _refuse(plan.entry, {"period": ["the discharge date is before the surgery date."]})
    episode.save()
    audit_rows(
        actor=caller.user,
        action=AuditAction.CREATE,
        object_type="episode",
        rows=[episode],
        clinic_id=patient.clinic_id,
        audit=audit,
    )
    try:
        enrollment = enrollment_create(
            episode=episode, protocol_slug=PROTOCOL_SLUG, has_pulse_device=False, by=caller.user, audit=audit
        )
    except ScheduleRejected as rejected:
        raise _refuse(plan.entry, rejected.errors) from rejected
    except ScheduleConflict as conflict:
        raise _refuse(plan.entry, conflict.errors or {"episode": [conflict.detail]}, 409) from conflict
    return Outcome(status="201 Created", location=f"CarePlan/{enrollment.pk}")


def _lab(*, plan: Plan, caller: Caller, patient: Patient, audit: AuditContext | None) -> Outcome:
    lab = plan.lab
    assert lab is not None
    try:
        result = observation_create(
            patient=patient,
            code=lab.code,
            value=lab.value,
            unit=lab.unit,
            observed_at=lab.observed_at,
            entered_by=caller.user,
            reference_low=lab.reference_low,
            reference_high=lab.reference_high,
            source_system=lab.source_system,
            source_id=lab.source_id,
            audit=audit,
        )
    except ObservationRejected as rejected:
        raise _refuse(plan.entry, rejected.errors) from rejected
    # A result already received (same identifier) is not stored again (200, not 201).
    status = "201 Created" if getattr(result, "created", True) else "200 OK"
    return Outcome(status=status, location=f"Observation/{result.observation.pk}")


def _questionnaire_check(*, plan: Plan, patient: Patient) -> None:
    """A QuestionnaireResponse naming a Questionnaire answers that protocol's
    questions: it must be the protocol the patient is followed on (any version: the
    answers are validated against the patient's own)."""
    named = str(plan.entry.resource.get("questionnaire") or "").partition("|")[0]
    enrollment = active_enrollment(patient_id=patient.pk)
    if not named or enrollment is None:
        return  # no enrollment: the check-in path refuses it, naming why
    expected = codes.protocol_url(enrollment.protocol_version.protocol.slug)
    if named != expected:
        plan.entry.problem(
            f"questionnaire {named} is not the patient's protocol ({expected}).", element="questionnaire"
        )
        raise EntryRefused(plan.entry)


def _check_in(*, plan: Plan, caller: Caller, patient: Patient, audit: AuditContext | None) -> Outcome:
    """Through the check-in path: a patient's app within the protocol's rate, answered
    now; staff may say when the answers were given (``authored``)."""
    _questionnaire_check(plan=plan, patient=patient)
    try:
        if caller.kind == "patient":
            result = checkin_submit_within_rate(
                patient_id=patient.pk,
                answers=plan.answers,
                channel=CheckIn.Source.APP,
                submitted_by=caller.user,
                audit=audit,
            )
        else:
            result = checkin_submit(
                patient_id=patient.pk,
                answers=plan.answers,
                channel=CheckIn.Source.STAFF,
                submitted_by=caller.user,
                taken_at=moment_of(plan.entry.resource.get("authored", "")),
                audit=audit,
            )
    except CheckInRejected as rejected:
        raise _refuse(plan.entry, rejected.errors, rejected.status_code) from rejected
    except CheckInRateExceeded as exceeded:
        raise _refuse(
            plan.entry, {"rate": [f"too many check-ins; retry in {exceeded.retry_after} s."]}, 429
        ) from exceeded
    return Outcome(status="201 Created", location=f"QuestionnaireResponse/{result.check_in.pk}")
