"""What the FHIR read API reads: a patient's rows, scoped to the caller (another
clinic's or another patient's is not found, H12), in a fixed number of statements
whatever the length of the history (one per resource type)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend import scoping
from backend.models import Patient, User
from followup.fhir import resources
from followup.models import Alert, Appointment, CheckIn, Enrollment, Observation, ProtocolVersion
from followup.services.protocols import protocol_definition

SEARCH_TYPES = ("Observation", "QuestionnaireResponse", "Flag", "Appointment", "CarePlan")


def patient_for(*, user: User, patient_id: int) -> Patient | None:
    return scoping.patient_list_for(user=user).select_related("clinic").filter(pk=patient_id).first()


@dataclass
class PatientRows:
    """The rows behind a patient's resources, for the resources and the audit."""

    patient: Patient
    check_ins: list[CheckIn]
    observations: list[Observation]
    alerts: list[Alert]
    appointments: list[Appointment]
    enrollments: list[Enrollment]

    def audit_objects(self) -> dict[str, list[tuple[object, int | None]]]:
        pid = self.patient.pk
        return {
            "check_in": [(row.pk, pid) for row in self.check_ins],
            "observation": [(row.pk, pid) for row in self.observations],
            "alert": [(row.pk, pid) for row in self.alerts],
            "appointment": [(row.pk, pid) for row in self.appointments],
            "enrollment": [(row.pk, pid) for row in self.enrollments],
        }


def patient_rows(*, patient: Patient, types: tuple[str, ...] = SEARCH_TYPES) -> PatientRows:
    """Only the tables ``types`` need (Observation needs the check-ins too: their vital
    signs are Observations)."""
    wanted = set(types)
    check_ins: list[CheckIn] = []
    if wanted & {"QuestionnaireResponse", "Observation"}:
        check_ins = list(CheckIn.objects.filter(patient=patient).select_related("protocol_version"))
    observations = list(Observation.objects.filter(patient=patient)) if "Observation" in wanted else []
    alerts = list(Alert.objects.filter(patient=patient).order_by("created_at", "id")) if "Flag" in wanted else []
    appointments = list(Appointment.objects.filter(patient=patient)) if wanted & {"Appointment", "CarePlan"} else []
    enrollments = (
        list(Enrollment.objects.filter(patient=patient).select_related("episode", "protocol_version"))
        if "CarePlan" in wanted
        else []
    )
    return PatientRows(patient, check_ins, observations, alerts, appointments, enrollments)


def _definition(version: ProtocolVersion) -> Any:
    return protocol_definition(version)


def patient_resources(rows: PatientRows, *, types: tuple[str, ...] = SEARCH_TYPES) -> list[dict[str, Any]]:
    """The FHIR resources of ``rows`` of the resource types asked, in a stable order."""
    out: list[dict[str, Any]] = []
    if "QuestionnaireResponse" in types:
        out += [resources.questionnaire_response_resource(c, _definition(c.protocol_version)) for c in rows.check_ins]
    if "Observation" in types:
        out += [resources.observation_resource(o) for o in rows.observations]
        for check_in in rows.check_ins:
            out += resources.checkin_observation_resources(check_in, _definition(check_in.protocol_version))
    if "Flag" in types:
        out += [resources.flag_resource(alert) for alert in rows.alerts]
    if "Appointment" in types:
        out += [resources.appointment_resource(appointment) for appointment in rows.appointments]
    if "CarePlan" in types:
        for enrollment in rows.enrollments:
            ids = [a.pk for a in rows.appointments if a.enrollment_id == enrollment.pk]
            out.append(resources.careplan_resource(enrollment, _definition(enrollment.protocol_version), ids))
    return out


def protocol_version_get(*, version_id: int) -> ProtocolVersion | None:
    return ProtocolVersion.objects.filter(pk=version_id).first()
