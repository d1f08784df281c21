"""DESIGN.md's arrows, checked by import-linter over the real import graph: delivery
(notifications) imports nothing from follow-up logic, backend imports neither, the
rules engine imports no Django. A new import against them fails here and in lint."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_it_keeps_every_import_contract() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "notifications imports nothing from followup KEPT" in result.stdout
