"""The hazard log's test lists, found by searching the test suite for hazard ids.

A test counts for a hazard when its name, docstring, body or comments mention the id
(``H16``); a test module whose docstring names the hazard counts for all its tests and
is listed under "modules". ``python -m tests.hazard_log`` prints the lists;
``--write`` replaces the "Tests per hazard" section of ``docs/hazard-log.md`` (the
table above it and the findings below it are written by hand).
"""

from __future__ import annotations

import argparse
import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "docs" / "hazard-log.md"
HAZARD_ID = re.compile(r"\bH(\d{1,2})\b")
SECTION_START = "## Tests per hazard"
SECTION_END = "## Findings"


def _ids(text: str) -> set[int]:
    return {int(match) for match in HAZARD_ID.findall(text)}


def hazard_titles() -> dict[int, str]:
    """Hazard id -> hazard text, from the log's table."""
    titles = {}
    for line in LOG.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and re.fullmatch(r"H\d{1,2}", cells[0]):
            titles[int(cells[0][1:])] = cells[1]
    return titles


def hazard_tests_find() -> tuple[dict[int, set[str]], dict[int, set[str]]]:
    """``(tests, modules)``: test node ids and module paths per hazard id."""
    tests: dict[int, set[str]] = defaultdict(set)
    modules: dict[int, set[str]] = defaultdict(set)
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        relative = path.relative_to(ROOT).as_posix()
        for hazard in _ids(ast.get_docstring(tree) or ""):
            modules[hazard].add(relative)
        lines = source.splitlines()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                body = "\n".join(lines[node.lineno - 1 : node.end_lineno])
                for hazard in _ids(body):
                    tests[hazard].add(f"{relative}::{node.name}")
    return tests, modules


def section() -> str:
    titles = hazard_titles()
    tests, modules = hazard_tests_find()
    out = [SECTION_START, ""]
    for hazard in sorted(titles):
        out += [f"### H{hazard}: {titles[hazard]}", ""]
        out += [f"- `{test}`" for test in sorted(tests[hazard])]
        if modules[hazard]:
            out.append("- modules: " + ", ".join(f"`{module}`" for module in sorted(modules[hazard])))
        if not tests[hazard] and not modules[hazard]:
            out.append("- none yet")
        out.append("")
    return "\n".join(out)


def write() -> None:
    text = LOG.read_text(encoding="utf-8")
    start, end = text.index(SECTION_START), text.index(SECTION_END)
    LOG.write_text(text[:start] + section() + "\n" + text[end:], encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the section in docs/hazard-log.md")
    if parser.parse_args().write:
        write()
    else:
        print(section())
