"""Plain data that goes in and out of the rules engine.

Everything here is a frozen, slotted dataclass of JSON-like values and aware
datetimes: the Django side builds the inputs from its models and stores the
outputs (``Finding.as_dict()``) on alerts. Nothing here imports Django.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

#: Question types a protocol may declare (the clinical file's "type" column).
FIELD_TYPES: tuple[str, ...] = ("boolean", "integer", "number", "scale", "choice")
NUMERIC_FIELD_TYPES: frozenset[str] = frozenset({"integer", "number", "scale"})

Level = Literal["red", "amber", "green"]
EvidenceValue = bool | int | float | str | None


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What the engine needs to know about one question to type-check rules.

    ``type`` is one of :data:`FIELD_TYPES`; ``choices`` lists the exact words of a
    ``choice`` question (``None`` for other types); ``unit`` only makes evidence
    easier to read ("baseline 80.0 kg").
    """

    type: str
    choices: tuple[str, ...] | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class PastCheckIn:
    """A submitted check-in of the same patient (any phase, any order)."""

    taken_at: datetime
    answers: Mapping[str, object]

    def __post_init__(self) -> None:
        _require_aware(self.taken_at, "PastCheckIn.taken_at")


@dataclass(frozen=True, slots=True)
class LabResult:
    """One staff-entered lab observation, value already converted to SI.

    The lab rules count days after surgery on ``observed_at.date()`` in the
    datetime's own time zone: pass it in the patient's local time.
    """

    code: str
    value: float
    observed_at: datetime
    # The reference range the laboratory reported with the result (SI, either end may
    # be absent): a rule on "the upper limit of normal" uses ``reference_high`` when
    # there is one, the protocol's default otherwise (protocol v2).
    reference_low: float | None = None
    reference_high: float | None = None

    def __post_init__(self) -> None:
        _require_aware(self.observed_at, "LabResult.observed_at")
        for name in ("value", "reference_low", "reference_high"):
            value: object = getattr(self, name)
            if value is None and name != "value":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or not math.isfinite(value):
                raise ValueError(f"LabResult {self.code!r} needs a finite number for {name}, got {value!r}")
            if value.__class__ is not float:
                object.__setattr__(self, name, float(value))  # a Decimal from a model field reads as its float


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationInput:
    """Everything one check-in evaluation may look at.

    ``history`` may hold any submitted check-ins of the patient, in any order and
    even ones taken after ``taken_at`` (a check-in entered late): the engine uses
    only those taken strictly before ``taken_at``, so the answers are judged
    against the history as it stood then. ``labs`` likewise: only observations
    with ``observed_at <= taken_at`` are read.
    """

    answers: Mapping[str, object]
    taken_at: datetime
    phase: str
    day_since_discharge: int
    day_since_surgery: int | None = None
    baseline_weight_kg: float | None = None
    history: Sequence[PastCheckIn] = ()
    labs: Sequence[LabResult] = ()
    surgery_date: date | None = None

    def __post_init__(self) -> None:
        _require_aware(self.taken_at, "EvaluationInput.taken_at")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One condition that held, with the value that made it hold.

    ``condition`` is written for a surgeon ("lost 10.2 % of baseline 80.0 kg
    (>= 10.0 %)"); ``value`` is the raw answer or lab value (JSON-safe).
    """

    field: str
    value: EvidenceValue
    condition: str

    def as_dict(self) -> dict[str, EvidenceValue]:
        return {"field": self.field, "value": self.value, "condition": self.condition}


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that fired (and was not covered by a red rule that also fired)."""

    rule_id: str
    rule_version: str
    title: str
    severity: Literal["red", "amber"]
    action: str
    advice: str
    evidence: tuple[Evidence, ...]
    follow_up_check_in_hours: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "title": self.title,
            "severity": self.severity,
            "action": self.action,
            "advice": self.advice,
            "evidence": [item.as_dict() for item in self.evidence],
            "follow_up_check_in_hours": self.follow_up_check_in_hours,
        }


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """A compiled rule's description, as staff pages and alerts show it.

    ``action`` is the default action; :meth:`action_in` gives the action in a
    phase that overrides it (surveillance ``jaundice`` asks for imaging).
    """

    id: str
    title: str
    severity: Literal["red", "amber"]
    action: str
    advice: str
    source: tuple[str, ...]
    version: str
    phases: tuple[str, ...]
    trigger: Literal["check_in", "lab"]
    covers: tuple[str, ...] = ()
    follow_up_check_in_hours: int | None = None
    note: str | None = None
    lab_codes: tuple[str, ...] = ()
    phase_actions: tuple[tuple[str, str], ...] = field(default=())

    def action_in(self, phase: str) -> str:
        for name, action in self.phase_actions:
            if name == phase:
                return action
        return self.action


def _require_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value!r}")
