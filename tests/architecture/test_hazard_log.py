"""The hazard log keeps every hazard of the clinical file, and each closed hazard's
control is tied to tests that exist (DCB0129's spirit: no control without evidence)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.hazard_log import LOG, hazard_tests_find, hazard_titles

SHARED_HAZARDS = Path(__file__).resolve().parents[3] / "shared" / "clinical" / "hazards.md"


def _statuses() -> dict[int, str]:
    statuses = {}
    for line in LOG.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and re.fullmatch(r"H\d{1,2}", cells[0]):
            statuses[int(cells[0][1:])] = cells[-1]
    return statuses


def test_it_lists_every_hazard_of_the_clinical_file() -> None:
    logged = set(hazard_titles())
    assert set(range(1, 19)) <= logged
    if SHARED_HAZARDS.exists():  # beside the checkout, as in CI
        shared = {int(m) for m in re.findall(r"^\| H(\d+) \|", SHARED_HAZARDS.read_text(encoding="utf-8"), re.M)}
        assert shared <= logged


def test_every_closed_hazard_has_tests_that_name_it() -> None:
    tests, modules = hazard_tests_find()
    for hazard, status in _statuses().items():
        if status == "closed":
            assert tests[hazard] or modules[hazard], f"H{hazard} is closed without a test naming it"


def test_the_conversation_hazards_are_tied_to_their_tests() -> None:
    tests, modules = hazard_tests_find()
    h16 = tests[16] | modules[16]
    assert any("test_conversations_warning_signs.py" in test for test in h16)
    assert any("test_reply_corpus.py" in test for test in h16)
    assert any("test_conversations_warning_signs.py" in test for test in tests[17] | modules[17])
