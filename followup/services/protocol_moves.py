"""Moving an enrolled patient to another version of their protocol.

A new version becomes current for new enrollments only; a patient stays on the
version they were enrolled on until a nurse moves them (clinical file, "Changes in
version 2"). Before the move, the target version's rules are replayed on the
patient's history (every check-in and lab result of the enrollment, each judged with
the history as it stood then), beside the rules of the version they are on, so the
nurse sees what would have fired differently: a rule that would newly have fired is
a finding the patient may have now and nobody looked at (H3). The replay changes
nothing; the move itself changes the enrollment's version, re-plans what has not
happened yet (v2's surveillance windows) and is audited."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Episode, User
from followup.models import CheckIn, Enrollment, Observation, ProtocolVersion
from followup.protocols import ProtocolDefinition
from followup.rules import EvaluationInput, LabResult, PastCheckIn
from followup.services.plans import PlanChange, plan_recompute
from followup.services.protocols import protocol_definition


class ProtocolMoveRejected(Exception):
    """Bad input (400): errors by field. Nothing changed."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class ReplayedItem:
    """A check-in or lab result judged differently by the two versions."""

    kind: str  # "check_in" or "observation"
    id: int
    at: datetime
    fired_now: tuple[str, ...]
    fired_target: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        now, target = set(self.fired_now), set(self.fired_target)
        return {
            "kind": self.kind,
            "id": self.id,
            "at": self.at.isoformat(),
            "fired_now": list(self.fired_now),
            "fired_target": list(self.fired_target),
            "appear": sorted(target - now),
            "disappear": sorted(now - target),
        }


@dataclass(frozen=True)
class ProtocolReplay:
    enrollment_id: int
    current: ProtocolVersion
    target: ProtocolVersion
    check_ins: int
    lab_results: int
    differences: list[ReplayedItem]

    def as_dict(self) -> dict[str, object]:
        return {
            "enrollment": self.enrollment_id,
            "current_version": {"id": self.current.pk, "version": self.current.version},
            "target_version": {"id": self.target.pk, "version": self.target.version},
            "check_ins": self.check_ins,
            "lab_results": self.lab_results,
            "differences": [item.as_dict() for item in self.differences],
        }


def protocol_move_target(*, enrollment: Enrollment, version_id: object) -> ProtocolVersion:
    """The version to move to: ``version_id`` (a version of the same protocol), or the
    protocol's current version when None. Raises ``ProtocolMoveRejected``."""
    versions = ProtocolVersion.objects.select_related("protocol").filter(
        protocol_id=enrollment.protocol_version.protocol_id
    )
    if version_id is None:
        target = versions.filter(is_current=True).first()
    elif isinstance(version_id, bool) or not isinstance(version_id, int):
        raise ProtocolMoveRejected({"version": ["A version id (a whole number) is required."]})
    else:
        target = versions.filter(pk=version_id).first()
    if target is None:
        raise ProtocolMoveRejected({"version": ["No such version of the patient's protocol."]})
    if enrollment.status != Enrollment.Status.ACTIVE:
        raise ProtocolMoveRejected({"enrollment": ["The enrollment has ended."]})
    if target.pk == enrollment.protocol_version_id:
        raise ProtocolMoveRejected({"version": [f"The patient is already on version {target.version}."]})
    return target


def protocol_replay(*, enrollment: Enrollment, target: ProtocolVersion) -> ProtocolReplay:
    """Judge the enrollment's check-ins and lab results with the version the patient
    is on and with ``target``, each against the history as it stood then; list those
    the two judge differently. Reads one patient's whole history (two statements)."""
    patient = enrollment.patient
    tz = zoneinfo.ZoneInfo(patient.timezone)
    pair = (protocol_definition(enrollment.protocol_version), protocol_definition(target))
    check_ins = list(CheckIn.objects.filter(patient_id=patient.pk).order_by("taken_at", "id"))
    observations = list(Observation.objects.filter(patient_id=patient.pk).order_by("observed_at", "id"))
    labs = [
        LabResult(
            code=row.code,
            value=row.value,
            observed_at=row.observed_at.astimezone(tz),
            reference_low=row.reference_low,
            reference_high=row.reference_high,
        )
        for row in observations
    ]
    judged_check_ins = [row for row in check_ins if row.enrollment_id == enrollment.pk]
    # The results the lab rules ran on under this enrollment: those entered since it began.
    judged_labs = [row for row in observations if row.created_at >= enrollment.enrolled_at]
    differences = _check_ins_replayed(
        pair=pair, episode=enrollment.episode, tz=tz, judged=judged_check_ins, all_check_ins=check_ins, labs=labs
    )
    for row in judged_labs:
        at = row.observed_at.astimezone(tz)
        fired = [_labs_fired(definition, labs, at, enrollment.episode, row.code) for definition in pair]
        if set(fired[0]) != set(fired[1]):
            differences.append(ReplayedItem("observation", row.pk, row.observed_at, fired[0], fired[1]))
    differences.sort(key=lambda item: (item.at, item.kind, item.id))
    return ProtocolReplay(
        enrollment_id=enrollment.pk,
        current=enrollment.protocol_version,
        target=target,
        check_ins=len(judged_check_ins),
        lab_results=len(judged_labs),
        differences=differences,
    )


def _check_ins_replayed(
    *,
    pair: tuple[ProtocolDefinition, ProtocolDefinition],
    episode: Episode,
    tz: zoneinfo.ZoneInfo,
    judged: list[CheckIn],
    all_check_ins: list[CheckIn],
    labs: list[LabResult],
) -> list[ReplayedItem]:
    history = [PastCheckIn(taken_at=row.taken_at, answers=row.answers) for row in all_check_ins]
    baseline = float(episode.baseline_weight_kg) if episode.baseline_weight_kg is not None else None
    differences: list[ReplayedItem] = []
    for row in judged:
        local = row.taken_at.astimezone(tz).date()
        data = EvaluationInput(
            answers=row.answers,
            taken_at=row.taken_at,
            phase=row.phase,
            day_since_discharge=(local - episode.discharge_date).days,
            day_since_surgery=(local - episode.surgery_date).days,
            baseline_weight_kg=baseline,
            history=history,
            labs=labs,
            surgery_date=episode.surgery_date,
        )
        fired = [tuple(definition.ruleset.evaluate(data).rule_ids) for definition in pair]
        if set(fired[0]) != set(fired[1]):
            differences.append(ReplayedItem("check_in", row.pk, row.taken_at, fired[0], fired[1]))
    return differences


def _labs_fired(
    definition: ProtocolDefinition, labs: list[LabResult], at: datetime, episode: Episode, code: str
) -> tuple[str, ...]:
    phase = definition.schedule.phase_of_day(max((at.date() - episode.discharge_date).days, 0))
    evaluation = definition.ruleset.evaluate_labs(
        labs=labs, at=at, phase=phase, surgery_date=episode.surgery_date, codes={code}
    )
    return tuple(evaluation.rule_ids)


@dataclass(frozen=True)
class ProtocolMoveResult:
    replay: ProtocolReplay
    plan: PlanChange


def protocol_move(
    *, enrollment: Enrollment, target: ProtocolVersion, by: User, audit: AuditContext | None = None
) -> ProtocolMoveResult:
    """Replay ``target`` on the patient's history, then move the enrollment to it and
    re-plan what has not happened yet. Alerts already open stay as they are."""
    with transaction.atomic():
        enrollment = (
            Enrollment.objects.select_for_update()
            .select_related("patient", "episode", "protocol_version__protocol")
            .get(pk=enrollment.pk)
        )
        target = protocol_move_target(enrollment=enrollment, version_id=target.pk)
        replay = protocol_replay(enrollment=enrollment, target=target)
        enrollment.protocol_version = target
        enrollment.save(update_fields=["protocol_version"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            object_type="enrollment_protocol_version",
            objects=[(enrollment.pk, enrollment.patient_id)],
            clinic_id=enrollment.patient.clinic_id,
            audit=audit,
        )
        plan = plan_recompute(enrollment=enrollment, by=by, audit=audit)
    return ProtocolMoveResult(replay=replay, plan=plan)
