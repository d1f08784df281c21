"""Where the time goes when a target is missed: py-spy over the serving processes.

``record`` samples every process of a server (gunicorn's workers included) while a load
runs, in py-spy's raw (collapsed stacks) format; ``summary`` folds the stacks into the
functions that hold the most samples: inclusive for Vigil's own code (what to look at),
self time for everything (where the CPU actually is).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def record(*, pid: int, seconds: float, out: Path, during: Callable[[], Any]) -> tuple[Any, str]:
    """Sample ``pid`` and its children for ``seconds`` while ``during()`` runs."""
    binary = py_spy()
    if binary is None:
        return during(), "py-spy is not installed (requirements-dev.txt pins it)"
    command = [binary, "record", "--pid", str(pid), "--subprocesses", "--duration", str(int(seconds))]
    command += ["--rate", "200", "--format", "raw", "--output", str(out), "--nonblocking"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    result = during()
    _, error = process.communicate(timeout=seconds + 60)
    if process.returncode or not out.exists():
        return result, f"py-spy failed: {error.decode(errors='replace')[-300:]}"
    return result, ""


def _function(frame: str) -> tuple[str, str]:
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), ""
    return match["name"], match["file"]


def _ours(path: str) -> bool:
    if "/.venv/" in path or "site-packages" in path:
        return False
    return path.startswith(("backend/", "followup/", "notifications/", "config/", "bench/")) or str(ROOT) in path


def summary(raw: Path, top: int = 15) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_function(frame) for frame in stack.split(";") if "(" in frame]
        if not frames:
            continue
        name, path = frames[-1]
        own[f"{name} ({path.replace(str(ROOT) + '/', '')})"] += count
        seen = set()
        for name, path in frames:
            if _ours(path):
                key = f"{name} ({path.replace(str(ROOT) + '/', '')})"
                if key not in seen:
                    seen.add(key)
                    inclusive[key] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples; Vigil's functions by inclusive share:"]
    lines += [f"  {100 * count / total:5.1f}%  {key}" for key, count in inclusive.most_common(top)]
    lines.append("where the CPU is (self time, any code):")
    lines += [f"  {100 * count / total:5.1f}%  {key}" for key, count in own.most_common(top)]
    return "\n".join(lines)
