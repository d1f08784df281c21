"""Fixtures for the rules engine tests: no Django, only the engine and the rules file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from followup.rules import FieldSpec, RuleSet, compile_rules

RULES_FILE = Path(__file__).resolve().parents[2] / "followup/protocols/data/post-hepatectomy/rules.yaml"

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


@pytest.fixture(scope="session")
def fields() -> dict[str, FieldSpec]:
    return dict(PROTOCOL_FIELDS)


@pytest.fixture(scope="session")
def raw_rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, list)
    return loaded


@pytest.fixture(scope="session")
def ruleset(raw_rules: list[dict[str, Any]], fields: dict[str, FieldSpec]) -> RuleSet:
    return compile_rules(raw_rules, fields=fields, version="1", source=str(RULES_FILE))
