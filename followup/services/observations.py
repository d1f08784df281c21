"""Labs and vitals entered by staff: unit required and converted to SI on entry, a
plausibility range per code (H15), and the protocol's lab rules judged with the
patient's results as they stood when the sample was taken.

A bilirubin of 3.2 entered as µmol/L when it was mg/dL would hide liver failure
(3.2 mg/dL is 54.7 µmol/L); entered the other way round it would page a surgeon
for nothing. So the unit is never assumed, and a value outside what the body can
produce is a typing error, not a finding."""

from __future__ import annotations

import math
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
from followup.services.protocols import protocol_definition


@dataclass(frozen=True)
class ObservationCode:
    """One code: its SI unit, the units accepted on entry with their factor to SI,
    and the plausible range in SI (inclusive)."""

    code: str
    label: str
    unit: str
    units: dict[str, float]
    minimum: float
    maximum: float
    kind: str  # "lab" or "vital"


def _code(code: str, label: str, unit: str, units: dict[str, float], low: float, high: float, kind: str = "lab"):  # type: ignore[no-untyped-def]
    return ObservationCode(code=code, label=label, unit=unit, units=units, minimum=low, maximum=high, kind=kind)


# Plausibility ranges are wide on purpose (what a sick patient can have, not what is
# normal): they catch a wrong unit or a slipped decimal, never a real extreme value.
OBSERVATION_CODES: dict[str, ObservationCode] = {
    item.code: item
    for item in (
        # 1 mg/dL of bilirubin is 17.1 µmol/L (the clinical file, "Labs").
        _code("bilirubin_umol_l", "Bilirubin", "µmol/L", {"µmol/L": 1.0, "mg/dL": 17.1}, 1, 1000),
        _code("inr", "INR", "ratio", {"ratio": 1.0, "INR": 1.0}, 0.5, 15),
        _code("alt_u_l", "ALT", "U/L", {"U/L": 1.0, "IU/L": 1.0}, 1, 20000),
        _code("ast_u_l", "AST", "U/L", {"U/L": 1.0, "IU/L": 1.0}, 1, 20000),
        _code("alp_u_l", "Alkaline phosphatase", "U/L", {"U/L": 1.0, "IU/L": 1.0}, 1, 5000),
        _code("albumin_g_l", "Albumin", "g/L", {"g/L": 1.0, "g/dL": 10.0}, 5, 70),
        _code("cea_ng_ml", "CEA", "ng/mL", {"ng/mL": 1.0, "µg/L": 1.0}, 0, 100000),
        _code("weight_kg", "Weight", "kg", {"kg": 1.0}, 25, 300, "vital"),
        _code("temperature_c", "Temperature", "°C", {"°C": 1.0}, 34, 43, "vital"),
        _code("heart_rate_bpm", "Heart rate", "bpm", {"bpm": 1.0, "/min": 1.0}, 20, 250, "vital"),
        _code("systolic_bp_mmhg", "Systolic blood pressure", "mmHg", {"mmHg": 1.0}, 40, 300, "vital"),
        _code("diastolic_bp_mmhg", "Diastolic blood pressure", "mmHg", {"mmHg": 1.0}, 20, 200, "vital"),
        _code("spo2_percent", "Oxygen saturation", "%", {"%": 1.0}, 50, 100, "vital"),
    )
}


def _unit_key(unit: str) -> str:
    # "umol/l", "μmol/L" (Greek mu) and "µmol/L" (micro sign) are one unit; case does
    # not tell any of our units apart.
    return unit.strip().replace("μ", "u").replace("µ", "u").replace(" ", "").casefold()


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

    @property
    def alert_ids(self) -> list[int]:
        return [change.alert.pk for change in self.alert_changes]


def observation_convert(*, code: str, value: object, unit: object) -> tuple[float, dict[str, list[str]]]:
    """The value in SI, or errors naming ``code``, ``value`` or ``unit``."""
    spec = OBSERVATION_CODES.get(code)
    if spec is None:
        return 0.0, {"code": [f"Unknown code. Known codes: {', '.join(OBSERVATION_CODES)}."]}
    errors: dict[str, list[str]] = {}
    factor: float | None = None
    if not isinstance(unit, str) or not unit.strip():
        errors["unit"] = [f"A unit is required for {code}: one of {', '.join(spec.units)}."]
    else:
        factor = next((f for name, f in spec.units.items() if _unit_key(name) == _unit_key(unit)), None)
        if factor is None:
            errors["unit"] = [f"'{unit}' is not a unit for {code}: use one of {', '.join(spec.units)}."]
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors["value"] = ["A number is required."]
    elif not math.isfinite(value):
        errors["value"] = ["Must be a finite number."]
    if errors:
        return 0.0, errors
    assert factor is not None and isinstance(value, int | float)
    converted = round(float(value) * factor, 4)
    if not spec.minimum <= converted <= spec.maximum:
        shown = f"{value} {unit}" + (f" = {converted:g} {spec.unit}" if factor != 1.0 else "")
        return 0.0, {
            "value": [
                f"{shown} is not a plausible {spec.label}: expected between {spec.minimum:g} and "
                f"{spec.maximum:g} {spec.unit}. Check the value and the unit."
            ]
        }
    return converted, {}


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
    entered_by: User,
    audit: AuditContext | None = None,
) -> ObservationResult:
    """Store a result in SI (the entered value and unit kept beside it) and judge the
    lab rules reading this code, with the labs as they stood at ``observed_at``; a
    finding opens an alert or adds an occurrence exactly as a check-in's does.

    A patient without an active enrollment has no protocol to judge by: the result is
    stored and no rule runs."""
    value_si, errors = observation_convert(code=code, value=value, unit=unit)
    now = timezone.now()
    if observed_at.tzinfo is None:
        errors.setdefault("observed_at", []).append("Give the time with its offset (ISO 8601).")
    elif observed_at > now:
        errors.setdefault("observed_at", []).append("Cannot be in the future.")
    if errors:
        raise ObservationRejected(errors)
    spec = OBSERVATION_CODES[code]
    assert isinstance(unit, str) and isinstance(value, int | float)
    with transaction.atomic():
        # One writer per patient at a time: the results judged are the ones stored.
        patient = Patient.objects.select_for_update().select_related("clinic").get(pk=patient.pk)
        observation = Observation.objects.create(
            patient=patient,
            code=code,
            value=value_si,
            unit=spec.unit,
            entered_value=float(value),
            entered_unit=unit.strip(),
            observed_at=observed_at,
            entered_by=entered_by,
        )
        audit_record(
            actor=entered_by,
            action=AuditAction.CREATE,
            object_type="observation",
            objects=[(observation.pk, patient.pk)],
            clinic_id=patient.clinic_id,
            audit=audit,
        )
        changes, follow_through = _lab_rules_act_on(observation=observation, audit=audit)
    return ObservationResult(observation=observation, alert_changes=changes, follow_through=follow_through)


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
