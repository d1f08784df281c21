"""Fixtures for the rules engine tests: no Django, only the engine and the rules file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from followup.rules import FieldSpec, RuleSet, compile_rules
from tests.answers import PROTOCOL_FIELDS

RULES_FILE = Path(__file__).resolve().parents[3] / "followup/protocols/data/post-hepatectomy/rules.yaml"


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
