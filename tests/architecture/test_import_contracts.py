"""DESIGN.md's arrows, checked by import-linter over the real import graph: follow-up
logic decides (it may use delivery and the base), delivery (notifications) imports
nothing from follow-up logic, backend imports neither, the rules engine imports no
Django. A new import against them fails here and in lint; the second test shows each
contract really breaks on a forbidden import, on a copy of the tree."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = [
    "notifications imports nothing from followup",
    "backend imports neither followup nor notifications",
    "the rules engine is pure Python (no Django)",
    "followup above notifications above backend",
]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    linter = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(linter), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_it_keeps_every_import_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in CONTRACTS:
        assert f"{contract} KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden_import", "broken"),
    [
        ("notifications/outbox_copy.py", "import followup.selectors", CONTRACTS[0]),
        ("backend/models_copy.py", "import notifications.models", CONTRACTS[1]),
        ("followup/rules/engine_copy.py", "import django.utils.timezone", CONTRACTS[2]),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, forbidden_import: str, broken: str
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / ".importlinter", tree)
    for package in ("backend", "followup", "notifications", "config"):
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    (tree / module).write_text(f"{forbidden_import}\n")

    result = lint_imports(tree)

    assert result.returncode != 0, result.stdout
    assert f"{broken} BROKEN" in result.stdout
