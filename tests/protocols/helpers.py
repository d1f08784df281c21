"""Build protocol directories for tests: the default protocol, or a broken copy."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from followup.protocols import DEFAULT_DATA_DIR

DEFAULT_DIR = DEFAULT_DATA_DIR / "post-hepatectomy"


def _plain(data: Any) -> Any:
    # A JSON round trip drops YAML anchors, so a mutation touches one entry only.
    return json.loads(json.dumps(data))


def default_protocol_data() -> dict[str, Any]:
    return _plain(yaml.safe_load((DEFAULT_DIR / "protocol.yaml").read_text(encoding="utf-8")))


def default_rules_data() -> list[dict[str, Any]]:
    return _plain(yaml.safe_load((DEFAULT_DIR / "rules.yaml").read_text(encoding="utf-8")))


def write_protocol(
    directory: Path,
    mutate: Callable[[dict[str, Any]], object] | None = None,
    *,
    mutate_rules: Callable[[list[dict[str, Any]]], object] | None = None,
) -> Path:
    """A copy of the default protocol in ``directory``, changed by ``mutate``."""
    data = default_protocol_data()
    rules = default_rules_data()
    if mutate is not None:
        mutate(data)
    if mutate_rules is not None:
        mutate_rules(rules)
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in (("protocol.yaml", data), ("rules.yaml", rules)):
        text = yaml.safe_dump(content, allow_unicode=True, sort_keys=False)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def question(data: dict[str, Any], question_id: str) -> dict[str, Any]:
    return next(q for q in data["questions"] if q["id"] == question_id)
