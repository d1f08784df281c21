"""Vigil's rows as FHIR R4 resources (plain dicts, validated on the way out): Patient,
lab Observations, check-ins as QuestionnaireResponses with their vital-sign
Observations, alerts as Flags, appointments and recalls as Appointments, the
follow-up as a CarePlan. The protocol as a Questionnaire is in ``questionnaire``.

Alerts are Flags, not DetectedIssues: R4 scopes DetectedIssue to an issue with a
patient's *clinical actions* (an interaction, a duplicate therapy: ``implicated`` and
``mitigation`` are about orders), whereas a Vigil alert is a warning about the
patient's state for whoever looks after them next, open until a nurse resolves it,
which is what a Flag is (status active/inactive, period, author). The evidence a Flag
has no element for is carried by the standard ``flag-detail`` extension (the check-in
or lab result that fired it) and one Vigil extension per evidence item."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from backend.models import Patient
from followup.fhir import codes
from followup.fhir.validate import fhir_validated, instant, reference, typed_value
from followup.models import Alert, Appointment, CheckIn, Enrollment, Observation
from followup.protocols.definition import ProtocolDefinition
from followup.services.observations import OBSERVATION_CODES


def patient_resource(patient: Patient) -> dict[str, Any]:
    clinic = patient.clinic
    return fhir_validated(
        {
            "resourceType": "Patient",
            "id": str(patient.pk),
            "identifier": [
                {
                    "use": "usual",
                    "type": {"coding": [{"system": codes.IDENTIFIER_TYPE, "code": "MR"}]},
                    "system": codes.mrn_system(clinic_id=clinic.pk, configured=clinic.mrn_system),
                    "value": patient.mrn,
                }
            ],
            "active": True,
            "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
            "telecom": [{"system": "phone", "value": str(patient.phone), "use": "mobile"}],
            "communication": [
                {"language": {"coding": [{"system": codes.BCP47, "code": patient.language}]}, "preferred": True}
            ],
            "managingOrganization": {"display": clinic.name},
            "extension": [{"url": codes.EXT_TIMEZONE, "valueCode": patient.timezone}],
        }
    )


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": codes.UCUM, "code": codes.ucum_of(unit)}


def _observation_code(code: str) -> dict[str, Any]:
    coding = [{"system": codes.OBSERVATION_CODE_SYSTEM, "code": code}]
    if code in codes.LOINC_OUT:
        loinc = codes.LOINC_OUT[code]
        coding.insert(0, {"system": codes.LOINC, "code": loinc.code, "display": loinc.display})
    spec = OBSERVATION_CODES.get(code)
    return {"coding": coding, "text": spec.label if spec else code}


def _category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": code}]}]


def observation_resource(observation: Observation) -> dict[str, Any]:
    """A lab result (or staff-entered vital) in SI, with the lab's reference range."""
    spec = OBSERVATION_CODES.get(observation.code)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(observation.pk),
        "status": "final",
        "category": _category("laboratory" if spec is None or spec.kind == "lab" else "vital-signs"),
        "code": _observation_code(observation.code),
        "subject": reference("Patient", observation.patient_id),
        "effectiveDateTime": instant(observation.observed_at),
        "issued": instant(observation.created_at),
        "valueQuantity": _quantity(observation.value, observation.unit),
    }
    source_id = getattr(observation, "source_id", "")
    if source_id:
        resource["identifier"] = [{"system": observation.source_system or None, "value": source_id}]
        if not observation.source_system:
            del resource["identifier"][0]["system"]
    low, high = getattr(observation, "reference_low", None), getattr(observation, "reference_high", None)
    if low is not None or high is not None:
        bounds: dict[str, Any] = {}
        if low is not None:
            bounds["low"] = _quantity(low, observation.unit)
        if high is not None:
            bounds["high"] = _quantity(high, observation.unit)
        resource["referenceRange"] = [bounds]
    return fhir_validated(resource)


def _answer(question_type: str, value: object, *, slug: str, question_id: str) -> dict[str, Any]:
    if question_type == "boolean":
        return {"valueBoolean": value}
    if question_type in ("integer", "scale"):
        return {"valueInteger": int(value)}  # type: ignore[call-overload]
    if question_type == "number":
        return {"valueDecimal": value}
    return {"valueCoding": {"system": codes.choice_system(slug, question_id), "code": value}}


QR_STATUS = {True: "completed", False: "stopped"}


def questionnaire_response_resource(check_in: CheckIn, definition: ProtocolDefinition) -> dict[str, Any]:
    """A check-in as the answers to its protocol version's Questionnaire, with its
    triage level. An SMS conversation that ended early is ``stopped``."""
    items = []
    for question in definition.questions:
        if question.id not in check_in.answers:
            continue
        value = check_in.answers[question.id]
        answer = _answer(question.type, value, slug=definition.slug, question_id=question.id)
        items.append({"linkId": question.id, "text": question.label, "answer": [answer]})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(check_in.pk),
        "questionnaire": f"{codes.protocol_url(definition.slug)}|{definition.version}",
        "status": QR_STATUS[check_in.complete],
        "subject": reference("Patient", check_in.patient_id),
        "authored": instant(check_in.taken_at),
        "extension": [
            {"url": codes.EXT_TRIAGE_LEVEL, "valueCode": check_in.level},
            {"url": codes.EXT_CHANNEL, "valueCode": check_in.channel},
        ],
        "item": items,
    }
    if check_in.channel != CheckIn.Source.STAFF:
        resource["source"] = reference("Patient", check_in.patient_id)
    return fhir_validated(resource)


def checkin_observation_resources(check_in: CheckIn, definition: ProtocolDefinition) -> list[dict[str, Any]]:
    """Temperature, weight, heart rate and pain of a check-in as Observations derived
    from its QuestionnaireResponse."""
    resources = []
    for code, category in codes.CHECKIN_OBSERVATIONS.items():
        value = check_in.answers.get(code)
        if value is None or isinstance(value, bool) or not definition.has_question(code):
            continue
        unit = definition.question(code).unit or "score"
        resources.append(
            fhir_validated(
                {
                    "resourceType": "Observation",
                    "id": f"checkin-{check_in.pk}-{codes.LOINC_OUT[code].code}",
                    "status": "final",
                    "category": _category(category),
                    "code": _observation_code(code),
                    "subject": reference("Patient", check_in.patient_id),
                    "effectiveDateTime": instant(check_in.taken_at),
                    "valueQuantity": _quantity(value, unit),
                    "derivedFrom": [reference("QuestionnaireResponse", check_in.pk)],
                }
            )
        )
    return resources


FLAG_PRIORITY = {"red": "PH", "amber": "PM"}


def _evidence_extension(item: dict[str, Any]) -> dict[str, Any]:
    parts = [{"url": "field", "valueString": str(item.get("field", ""))}]
    if item.get("value") is not None:
        parts.append({"url": "value", **typed_value(item["value"])})
    if item.get("condition"):
        parts.append({"url": "condition", "valueString": str(item["condition"])})
    return {"url": codes.EXT_EVIDENCE, "extension": parts}


def flag_resource(alert: Alert) -> dict[str, Any]:
    """An alert as a Flag: active while open or acknowledged, with what fired it."""
    extension: list[dict[str, Any]] = [
        {
            "url": codes.FLAG_PRIORITY,
            "valueCodeableConcept": {
                "coding": [{"system": codes.FLAG_PRIORITY_CODES, "code": FLAG_PRIORITY[alert.severity]}],
                "text": alert.severity,
            },
        },
        {"url": codes.EXT_ALERT_STATUS, "valueCode": alert.status},
    ]
    if alert.check_in_id is not None:
        extension.append(
            {"url": codes.FLAG_DETAIL, "valueReference": reference("QuestionnaireResponse", alert.check_in_id)}
        )
    if alert.observation_id is not None:
        extension.append({"url": codes.FLAG_DETAIL, "valueReference": reference("Observation", alert.observation_id)})
    extension += [_evidence_extension(item) for item in alert.evidence if isinstance(item, dict)]
    period = {"start": instant(alert.created_at)}
    if alert.resolved_at is not None:
        period["end"] = instant(alert.resolved_at)
    return fhir_validated(
        {
            "resourceType": "Flag",
            "id": str(alert.pk),
            "extension": extension,
            "status": "inactive" if alert.status == Alert.Status.RESOLVED else "active",
            "category": [{"coding": [{"system": codes.FLAG_CATEGORY, "code": "clinical"}]}],
            "code": {
                "coding": [{"system": codes.RULE_SYSTEM, "code": alert.rule_id, "version": alert.rule_version}],
                "text": alert.rule_title,
            },
            "subject": reference("Patient", alert.patient_id),
            "period": period,
        }
    )


APPOINTMENT_STATUS = {
    Appointment.Status.PROPOSED: "proposed",
    Appointment.Status.SCHEDULED: "booked",
    Appointment.Status.CONFIRMED: "booked",
    Appointment.Status.ATTENDED: "fulfilled",
    Appointment.Status.MISSED: "noshow",
    Appointment.Status.CANCELLED: "cancelled",
}
# Vigil keeps a start time only; FHIR wants an end with it (invariant app-2).
APPOINTMENT_MINUTES = 30


def appointment_resource(appointment: Appointment) -> dict[str, Any]:
    """A planned visit, lab, imaging or recall. A recall names the alert it came from."""
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(appointment.pk),
        "status": APPOINTMENT_STATUS[appointment.status],
        "appointmentType": {
            "coding": [
                {"system": codes.APPOINTMENT_TYPE, "code": "FOLLOWUP"},
                {"system": codes.APPOINTMENT_KIND_SYSTEM, "code": appointment.kind},
            ],
            "text": appointment.kind,
        },
        "start": instant(appointment.starts_at),
        "end": instant(appointment.starts_at + timedelta(minutes=APPOINTMENT_MINUTES)),
        "minutesDuration": APPOINTMENT_MINUTES,
        "created": instant(appointment.created_at),
        "participant": [{"actor": reference("Patient", appointment.patient_id), "status": "accepted"}],
    }
    if appointment.reason:
        resource["description"] = appointment.reason
    if appointment.origin_alert_id is not None:
        resource["reasonReference"] = [reference("Flag", appointment.origin_alert_id)]
    return fhir_validated(resource)


def _schedule_text(entry: Any) -> str:
    unit = "days" if entry.unit == "day" else "months"
    rhythm = f"every {entry.every}" if entry.every else "on weekdays " + ",".join(map(str, entry.weekdays))
    return f"{entry.kind} {unit} {entry.first}-{entry.last}, {rhythm}, at {entry.at:%H:%M}"


def careplan_resource(
    enrollment: Enrollment, definition: ProtocolDefinition, appointment_ids: list[int]
) -> dict[str, Any]:
    """The follow-up plan: its check-in rhythm from the protocol's schedule (answered
    with the protocol's Questionnaire) and its appointments by reference."""
    questionnaire = f"{codes.protocol_url(definition.slug)}|{definition.version}"
    activities: list[dict[str, Any]] = [
        {
            "detail": {
                "kind": "Task",
                "instantiatesCanonical": [questionnaire],
                "code": {"text": entry.kind},
                "status": "in-progress" if enrollment.status == Enrollment.Status.ACTIVE else "stopped",
                "scheduledString": _schedule_text(entry),
                "description": entry.detail or entry.phase,
            }
        }
        for entry in definition.schedule.entries
        if entry.kind == "check_in"
    ]
    activities += [{"reference": reference("Appointment", pk)} for pk in appointment_ids]
    return fhir_validated(
        {
            "resourceType": "CarePlan",
            "id": str(enrollment.pk),
            "status": "active" if enrollment.status == Enrollment.Status.ACTIVE else "completed",
            "intent": "plan",
            "title": definition.title,
            "instantiatesUri": [codes.protocol_url(definition.slug)],
            "subject": reference("Patient", enrollment.patient_id),
            "period": {"start": enrollment.episode.discharge_date.isoformat()},
            "created": instant(enrollment.enrolled_at),
            "activity": activities,
        }
    )
