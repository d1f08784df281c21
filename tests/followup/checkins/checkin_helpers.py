"""Answer sets and small helpers for the check-in path tests."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from typing import Any

# Every required acute answer, nothing abnormal: a green check-in.
GREEN_ANSWERS: dict[str, Any] = {
    "temperature_c": 36.8,
    "chills": False,
    "jaundice": False,
    "dark_urine": False,
    "itching": False,
    "abdominal_pain": 2,
    "right_upper_pain": False,
    "abdominal_swelling": "none",
    "nausea": False,
    "vomiting_episodes_24h": 0,
    "vomit_blood": False,
    "black_stools": False,
    "bowel_movement_days": 1,
    "appetite": "normal",
    "weight_kg": 79.0,
    "confusion": False,
    "shortness_of_breath": False,
    "leg_swelling": "none",
    "swallowing_difficulty": False,
    "wound": "normal",
    "patient_urgent": False,
}


def answers(**changes: Any) -> dict[str, Any]:
    """The green answer set with some answers changed (None removes one)."""
    result = {**GREEN_ANSWERS, **changes}
    return {key: value for key, value in result.items() if value is not None}


def at_local(day: date, hour: int, minute: int = 0, tz: str = "Europe/Istanbul") -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zoneinfo.ZoneInfo(tz))
