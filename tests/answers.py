"""The one green answer set of the default protocol (post-hepatectomy, acute phase).

Every required acute question answered, nothing abnormal (the clinical contract in
post-hepatectomy.md, "Questions"): a check-in the rules judge green. Plain Python, no
Django and no pytest, so the benchmarks (bench/) and the pure rules tests import it too;
with it, the types of the questions as the rules engine sees them (``PROTOCOL_FIELDS``).
"""

from __future__ import annotations

from typing import Any

from followup.rules import FieldSpec


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""Pass as an answer to leave that question out (``None`` stays: a null answer)."""

_GREEN: tuple[tuple[str, Any], ...] = (
    ("temperature_c", 36.8),
    ("chills", False),
    ("jaundice", False),
    ("dark_urine", False),
    ("itching", False),
    ("abdominal_pain", 2),
    ("right_upper_pain", False),
    ("abdominal_swelling", "none"),
    ("nausea", False),
    ("vomiting_episodes_24h", 0),
    ("vomit_blood", False),
    ("black_stools", False),
    ("bowel_movement_days", 1),
    ("appetite", "normal"),
    ("weight_kg", 79.0),
    ("confusion", False),
    ("shortness_of_breath", False),
    ("leg_swelling", "none"),
    ("swallowing_difficulty", False),
    ("wound", "normal"),
    ("patient_urgent", False),
)


def green_answers(**changes: Any) -> dict[str, Any]:
    """A fresh green acute check-in, with some answers changed (``ABSENT`` removes one)."""
    result = {**dict(_GREEN), **changes}
    return {key: value for key, value in result.items() if value is not ABSENT}


def red_answers(**changes: Any) -> dict[str, Any]:
    """The green set with jaundice: a red warning sign after a hepatectomy (liver
    failure, bile leak)."""
    return green_answers(jaundice=True, **changes)


# The acute-phase questions of the clinical contract (post-hepatectomy.md, "Questions").
PROTOCOL_FIELDS: dict[str, FieldSpec] = {
    "temperature_c": FieldSpec(type="number", unit="°C"),
    "chills": FieldSpec(type="boolean"),
    "jaundice": FieldSpec(type="boolean"),
    "dark_urine": FieldSpec(type="boolean"),
    "itching": FieldSpec(type="boolean"),
    "abdominal_pain": FieldSpec(type="scale"),
    "right_upper_pain": FieldSpec(type="boolean"),
    "abdominal_swelling": FieldSpec(type="choice", choices=("none", "mild", "severe")),
    "nausea": FieldSpec(type="boolean"),
    "vomiting_episodes_24h": FieldSpec(type="integer"),
    "fluids_kept_down": FieldSpec(type="boolean"),
    "vomit_blood": FieldSpec(type="boolean"),
    "black_stools": FieldSpec(type="boolean"),
    "bowel_movement_days": FieldSpec(type="integer"),
    "appetite": FieldSpec(type="choice", choices=("normal", "reduced", "none")),
    "weight_kg": FieldSpec(type="number", unit="kg"),
    "heart_rate_bpm": FieldSpec(type="integer"),
    "confusion": FieldSpec(type="boolean"),
    "shortness_of_breath": FieldSpec(type="boolean"),
    "leg_swelling": FieldSpec(type="choice", choices=("none", "both", "one")),
    "swallowing_difficulty": FieldSpec(type="boolean"),
    "wound": FieldSpec(type="choice", choices=("normal", "red", "discharge", "opened")),
    "drain_output_ml": FieldSpec(type="number", unit="mL"),
    "drain_bile_colored": FieldSpec(type="boolean"),
    "patient_urgent": FieldSpec(type="boolean"),
}
