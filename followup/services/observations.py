"""Labs and vitals entered by staff: unit required and converted to SI on entry, a
plausibility range per code (H15), and the protocol's lab rules judged with the
patient's results as they stood when the sample was taken.

A bilirubin of 3.2 entered as µmol/L when it was mg/dL would hide liver failure
(3.2 mg/dL is 54.7 µmol/L); entered the other way round it would page a surgeon
for nothing. So the unit is never assumed, and a value outside what the body can
produce is a typing error, not a finding."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Patient, User
from followup.history import history_read
from followup.models import Observation
from followup.selectors import active_enrollment
from followup.services.alert_follow_through import AlertFollowThrough, alert_follow_through
from followup.services.alerts import AlertChange, alert_record_finding
from followup.services.observation_units import (
    OBSERVATION_CODES,
    ObservationCode,
    observation_convert,
    reference_range_convert,
)
from followup.services.protocols import protocol_definition

__all__ = [
    "OBSERVATION_CODES",
    "ObservationCode",
    "ObservationRejected",
    "ObservationResult",
    "observation_convert",
    "observation_create",
    "observation_list",
]


class ObservationRejected(Exception):
    """Bad input (400): errors by field, DRF style. Nothing was stored."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class ObservationResult:
    observation: Observation
    alert_changes: list[AlertChange]
    follow_through: AlertFollowThrough | None
    # False when the result had been received before (same source system and id): the
    # stored observation is returned and no rule ran.
    created: bool = True

    @property
    def alert_ids(self) -> list[int]:
        return [change.alert.pk for change in self.alert_changes]


def observation_list(
    *, clinic_id: int, patient_id: int | None = None, code: str | None = None
) -> QuerySet[Observation]:
    observations = Observation.objects.filter(patient__clinic_id=clinic_id)
    if patient_id is not None:
        observations = observations.filter(patient_id=patient_id)
    if code is not None:
        observations = observations.filter(code=code)
    return observations.order_by("-observed_at", "-id")


def observation_create(
    *,
    patient: Patient,
    code: str,
    value: object,
    unit: object,
    observed_at: datetime,
    entered_by: User | None,
    audit: AuditContext | None = None,
    reference_low: object = None,
    reference_high: object = None,
    source_system: str = "",
    source_id: str = "",
) -> ObservationResult:
    """Store a result in SI (the entered value and unit kept beside it, the lab's
    reference range converted with the value) and judge the lab rules reading this
    code, with the labs as they stood at ``observed_at``; a finding opens an alert or
    adds an occurrence exactly as a check-in's does.

    A result whose ``source_system`` + ``source_id`` this patient already has is not
    stored again and runs no rule (``created`` False): a hospital resending a Bundle
    pages nobody twice. A patient without an active enrollment has no protocol to
    judge by: the result is stored and no rule runs."""
    value_si, (low_si, high_si) = _input_checked(
        code=code,
        value=value,
        unit=unit,
        observed_at=observed_at,
        reference=(reference_low, reference_high),
        source=(source_system, source_id),
    )
    spec = OBSERVATION_CODES[code]
    assert isinstance(unit, str) and isinstance(value, int | float)
    with transaction.atomic():
        # One writer per patient at a time: the results judged are the ones stored, and
        # a result sent twice at once is seen by the second sender as already received.
        patient = Patient.objects.select_for_update().select_related("clinic").get(pk=patient.pk)
        received = _already_received(patient=patient, source_system=source_system, source_id=source_id)
        if received is not None:
            return ObservationResult(observation=received, alert_changes=[], follow_through=None, created=False)
        observation = Observation.objects.create(
            patient=patient,
            code=code,
            value=value_si,
            unit=spec.unit,
            entered_value=float(value),
            entered_unit=unit.strip(),
            observed_at=observed_at,
            entered_by=entered_by,
            reference_low=low_si,
            reference_high=high_si,
            source_system=source_system,
            source_id=source_id,
        )
        _audit_created(observation=observation, actor=entered_by, audit=audit)
        changes, follow_through = _lab_rules_act_on(observation=observation, audit=audit)
    return ObservationResult(observation=observation, alert_changes=changes, follow_through=follow_through)


def _audit_created(*, observation: Observation, actor: User | None, audit: AuditContext | None) -> None:
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="observation",
        objects=[(observation.pk, observation.patient_id)],
        clinic_id=observation.patient.clinic_id,
        audit=audit,
    )


def _already_received(*, patient: Patient, source_system: str, source_id: str) -> Observation | None:
    if not source_id:
        return None
    return Observation.objects.filter(patient=patient, source_system=source_system, source_id=source_id).first()


def _input_checked(
    *,
    code: str,
    value: object,
    unit: object,
    observed_at: datetime,
    reference: tuple[object, object],
    source: tuple[str, str],
) -> tuple[float, tuple[float | None, float | None]]:
    """The value and the reference range in SI; ``ObservationRejected`` naming every
    bad field otherwise."""
    value_si, errors = observation_convert(code=code, value=value, unit=unit)
    range_si, range_errors = reference_range_convert(code=code, unit=unit, low=reference[0], high=reference[1])
    errors.update({name: messages for name, messages in range_errors.items() if name not in errors})
    if observed_at.tzinfo is None:
        errors.setdefault("observed_at", []).append("Give the time with its offset (ISO 8601).")
    elif observed_at > timezone.now():
        errors.setdefault("observed_at", []).append("Cannot be in the future.")
    if source[0] and not source[1]:
        errors.setdefault("source_id", []).append("Required with source_system.")
    if errors:
        raise ObservationRejected(errors)
    return value_si, range_si


def _lab_rules_act_on(
    *, observation: Observation, audit: AuditContext | None
) -> tuple[list[AlertChange], AlertFollowThrough | None]:
    """Judge the lab rules reading the observation's code, with the labs as they stood
    when it was observed, and open or add to alerts as a check-in's findings do."""
    patient, observed_at = observation.patient, observation.observed_at
    enrollment = active_enrollment(patient_id=patient.pk)
    if enrollment is None:
        return [], None
    definition = protocol_definition(enrollment.protocol_version)
    episode = enrollment.episode
    local = observed_at.astimezone(zoneinfo.ZoneInfo(patient.timezone))
    phase = definition.schedule.phase_of_day(max((local.date() - episode.discharge_date).days, 0))
    # The results the lab rules can look at (a few per code, the lowest since surgery),
    # as they stood when the sample was taken: one statement, whatever the history.
    history = history_read(
        patient_id=patient.pk,
        timezone=patient.timezone,
        moment=observed_at,
        horizon=definition.ruleset.history_horizon(phase=phase, trigger="lab"),
        surgery_date=episode.surgery_date,
    )
    evaluation = definition.ruleset.evaluate_labs(
        labs=history.labs, at=local, phase=phase, surgery_date=episode.surgery_date, codes={observation.code}
    )
    changes = [
        alert_record_finding(
            patient=patient,
            protocol_version=enrollment.protocol_version,
            finding=finding,
            observation=observation,
            actor=observation.entered_by,
            audit=audit,
        )
        for finding in evaluation.findings
    ]
    follow_through = alert_follow_through(
        patient=patient, enrollment=enrollment, changes=changes, actor=observation.entered_by, audit=audit
    )
    return changes, follow_through
