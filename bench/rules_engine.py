"""Rules engine throughput: evaluations per second for the default protocol.

Run: ``.venv/bin/python bench/rules_engine.py [--rounds 7] [--seconds 0.5]``

Measures, in the same run and on the same input (the post-hepatectomy rules,
one acute check-in with 30 submitted check-ins and 12 lab results of history):

* ``baseline``: a loop that only reads the same answers (the current check-in's
  and every past check-in's), the floor any evaluator pays;
* ``evaluate``: ``RuleSet.evaluate`` (findings and evidence, trace left lazy);
* ``evaluate+trace``: the same with the trace rendered;
* ``evaluate_labs``: ``RuleSet.evaluate_labs`` for every lab rule.

Each figure is the median of several rounds. Prints figures; never fails.
The target is >= 20,000 evaluations/s per core for ``evaluate``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from followup.rules import (  # noqa: E402 - after the path set-up above
    EvaluationInput,
    LabResult,
    PastCheckIn,
    compile_rules,
)
from tests.answers import PROTOCOL_FIELDS  # noqa: E402

RULES_FILE = ROOT / "followup/protocols/data/post-hepatectomy/rules.yaml"

FIELDS = dict(PROTOCOL_FIELDS)  # the question types the rules tests use (tests/answers.py)


def answers(day: int) -> dict[str, object]:
    """A plausible check-in: a little fever and pain now and then, weight drifting."""
    return {
        "temperature_c": 37.2 + (day % 5) * 0.2,
        "chills": day % 7 == 0,
        "jaundice": False,
        "dark_urine": day % 11 == 0,
        "itching": False,
        "abdominal_pain": 2 + day % 4,
        "right_upper_pain": day % 6 == 0,
        "abdominal_swelling": "mild" if day % 9 == 0 else "none",
        "nausea": day % 3 == 0,
        "vomiting_episodes_24h": 1 if day % 8 == 0 else 0,
        "fluids_kept_down": True,
        "vomit_blood": False,
        "black_stools": False,
        "bowel_movement_days": day % 3,
        "appetite": "reduced" if day % 4 == 0 else "normal",
        "weight_kg": 79.0 - day * 0.1,
        "heart_rate_bpm": 80 + day % 15,
        "confusion": False,
        "shortness_of_breath": False,
        "leg_swelling": "both" if day % 10 == 0 else "none",
        "swallowing_difficulty": False,
        "wound": "normal",
        "drain_output_ml": 150.0,
        "drain_bile_colored": False,
        "patient_urgent": False,
    }


def build_input() -> tuple[EvaluationInput, list[LabResult], datetime]:
    surgery = date(2025, 2, 20)
    discharge = datetime(2025, 2, 27, 9, 0, tzinfo=UTC)
    now = discharge + timedelta(days=31)
    history = [PastCheckIn(taken_at=discharge + timedelta(days=day), answers=answers(day)) for day in range(1, 31)]
    labs = [
        LabResult(code=code, value=value + step, observed_at=discharge + timedelta(days=step * 7))
        for step in range(3)
        for code, value in (("bilirubin_umol_l", 30.0), ("inr", 1.2), ("alt_u_l", 80.0), ("albumin_g_l", 30.0))
    ]
    data = EvaluationInput(
        answers={**answers(31), "temperature_c": 38.1, "abdominal_pain": 5},
        taken_at=now,
        phase="acute",
        day_since_discharge=31,
        day_since_surgery=38,
        baseline_weight_kg=80.0,
        history=history,
        labs=labs,
        surgery_date=surgery,
    )
    return data, labs, now


def rate(run: Callable[[], object], seconds: float) -> float:
    """Calls per second over a batch lasting about ``seconds``."""
    batch = 1
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            run()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return batch / elapsed
        batch *= 2 if elapsed < seconds / 4 else max(2, int(seconds / max(elapsed, 1e-9)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one round")
    args = parser.parse_args()

    ruleset = compile_rules(
        yaml.safe_load(RULES_FILE.read_text(encoding="utf-8")), fields=FIELDS, version="bench", source=str(RULES_FILE)
    )
    data, labs, now = build_input()

    def baseline() -> object:
        total = 0
        current = data.answers
        for name in current:
            if current.get(name) is not None:
                total += 1
        for past in data.history:
            for name in past.answers:
                if past.answers.get(name) is not None:
                    total += 1
        return total

    def evaluate() -> object:
        return ruleset.evaluate(data)

    def evaluate_with_trace() -> object:
        return ruleset.evaluate(data).trace

    def evaluate_labs() -> object:
        return ruleset.evaluate_labs(labs=labs, at=now, phase="acute", surgery_date=data.surgery_date)

    result = ruleset.evaluate(data)
    print(f"python {platform.python_version()} on {platform.machine()}, {len(ruleset)} rules, ", end="")
    print(f"{len(data.history)} past check-ins, {len(labs)} lab results; level {result.level}: {result.rule_ids}")
    cases: list[tuple[str, Callable[[], object]]] = [
        ("baseline (read the answers)", baseline),
        ("evaluate", evaluate),
        ("evaluate+trace", evaluate_with_trace),
        ("evaluate_labs", evaluate_labs),
    ]
    figures: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(args.rounds):
        for name, run in cases:  # interleaved so drift hits every case alike
            figures[name].append(rate(run, args.seconds))
    base = statistics.median(figures[cases[0][0]])
    for name, _ in cases:
        median = statistics.median(figures[name])
        print(
            f"{name:30s} {median:12,.0f} /s   {1e6 / median:8.2f} us each   "
            f"{base / median:6.1f} x baseline   (median of {args.rounds})"
        )


if __name__ == "__main__":
    main()
