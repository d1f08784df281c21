"""The evaluation's shape: evidence a surgeon can read, the trace, covering, and
how missing or malformed data is handled.

H3: evidence records the value and condition that fired a rule, so a reviewer
can see a wrong threshold or unit at once; absent answers never fire (nor crash).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followup.rules import (
    AnswerTypeError,
    Evaluation,
    EvaluationInput,
    Evidence,
    LabResult,
    PastCheckIn,
    RuleSet,
)

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def judge(
    ruleset: RuleSet,
    answers: dict[str, object],
    *,
    history: list[PastCheckIn] | None = None,
    baseline: float | None = 80.0,
    phase: str = "acute",
) -> Evaluation:
    return ruleset.evaluate(
        EvaluationInput(
            answers=answers,
            taken_at=T0,
            phase=phase,
            day_since_discharge=4,
            day_since_surgery=10,
            baseline_weight_kg=baseline,
            history=history or [],
        )
    )


def past(hours: float, **answers: object) -> PastCheckIn:
    return PastCheckIn(taken_at=T0 - timedelta(hours=hours), answers=answers)


def evidence_of(evaluation: Evaluation, rule_id: str) -> tuple[Evidence, ...]:
    for finding in evaluation.findings:
        if finding.rule_id == rule_id:
            return finding.evidence
    raise AssertionError(f"{rule_id} did not fire: {evaluation.trace}")


def test_evidence_names_the_value_that_made_the_condition_hold(ruleset: RuleSet) -> None:
    evaluation = judge(ruleset, {"temperature_c": 38.6, "chills": False})
    assert evidence_of(evaluation, "fever_high") == (Evidence("temperature_c", 38.6, ">= 38.5"),)


def test_evidence_lists_every_branch_that_held(ruleset: RuleSet) -> None:
    evaluation = judge(ruleset, {"temperature_c": 38.6, "chills": True})
    assert set(evidence_of(evaluation, "fever_high")) == {
        Evidence("temperature_c", 38.6, ">= 38.5"),
        Evidence("temperature_c", 38.6, ">= 38.0"),
        Evidence("chills", True, "is true"),
    }


def test_percent_evidence_reads_for_a_surgeon(ruleset: RuleSet) -> None:
    """H3: the percentage, its baseline and the threshold are all in the evidence."""
    evaluation = judge(ruleset, {"weight_kg": 71.84}, baseline=80.0)
    assert evidence_of(evaluation, "weight_loss_severe") == (
        Evidence("weight_kg", 71.84, "lost 10.2 % of baseline 80.0 kg (>= 10.0 %)"),
    )


def test_weight_gain_evidence_names_the_lowest_weight_and_window(ruleset: RuleSet) -> None:
    evaluation = judge(ruleset, {"weight_kg": 72.5}, history=[past(48, weight_kg=70.0), past(24, weight_kg=71.0)])
    (item,) = evidence_of(evaluation, "weight_gain_fast")
    assert item.value == 72.5
    assert (
        item.condition
        == "rose 2.5 kg above the lowest 70.0 kg among the earlier check-ins of the last 72 h (>= 2.0 kg)"
    )


def test_in_a_row_evidence_names_each_check_in(ruleset: RuleSet) -> None:
    evaluation = judge(ruleset, {"nausea": True}, history=[past(48, nausea=True), past(24, nausea=True)])
    conditions = [item.condition for item in evidence_of(evaluation, "nausea_persistent")]
    assert conditions == [
        "is true",
        "is true, on the check-in of 2025-03-09T09:00+00:00",
        "is true, on the check-in of 2025-03-08T09:00+00:00",
    ]


def test_fever_persistent_evidence_names_the_earlier_fever(ruleset: RuleSet) -> None:
    evaluation = judge(ruleset, {"temperature_c": 38.1}, history=[past(20, temperature_c=38.3)])
    assert evidence_of(evaluation, "fever_persistent") == (
        Evidence("temperature_c", 38.1, ">= 38.0"),
        Evidence("temperature_c", 38.3, ">= 38.0, on the check-in of 2025-03-09T13:00+00:00 (20.0 h earlier)"),
    )


def test_a_new_swelling_on_a_first_check_in_says_there_was_no_previous_one(ruleset: RuleSet) -> None:
    evaluation = judge(ruleset, {"abdominal_swelling": "mild"})
    assert evidence_of(evaluation, "ascites") == (
        Evidence("abdominal_swelling", "mild", "== mild"),
        Evidence("abdominal_swelling", None, "no previous check-in (so not in [mild, severe] on it)"),
    )


def test_lab_evidence_names_the_day_after_surgery(ruleset: RuleSet) -> None:
    observed = datetime(2025, 3, 6, 8, 0, tzinfo=UTC)
    evaluation = ruleset.evaluate_labs(
        labs=[LabResult("inr", 1.9, observed)], at=observed, phase="acute", surgery_date=date(2025, 3, 1)
    )
    assert evidence_of(evaluation, "inr_high") == (
        Evidence("inr", 1.9, "> 1.7 (result of 2025-03-06, day 5 after surgery)"),
    )


def test_cea_evidence_gives_the_rise_and_the_previous_value(ruleset: RuleSet) -> None:
    surgery = date(2025, 1, 1)
    labs = [
        LabResult("cea_ng_ml", 4.6, datetime(2025, 3, 1, tzinfo=UTC)),
        LabResult("cea_ng_ml", 6.0, datetime(2025, 6, 1, tzinfo=UTC)),
    ]
    evaluation = ruleset.evaluate_labs(labs=labs, at=labs[-1].observed_at, phase="surveillance", surgery_date=surgery)
    conditions = [item.condition for item in evidence_of(evaluation, "cea_rising")]
    assert conditions == [
        "> 5 (result of 2025-06-01, day 151 after surgery)",
        "30.4 % above the previous result 4.6 (2025-03-01) (>= 30 %); result of 2025-06-01, day 151 after surgery",
    ]


def test_evaluation_is_json_serialisable(ruleset: RuleSet) -> None:
    evaluation = judge(
        ruleset,
        {"temperature_c": 38.6, "weight_kg": 71.0, "abdominal_swelling": "mild", "nausea": True},
        history=[past(24, nausea=True, weight_kg=69.0)],
    )
    encoded = json.loads(json.dumps(evaluation.as_dict()))
    assert encoded["level"] == "red"
    finding = encoded["findings"][0]
    assert set(finding) == {
        "rule_id",
        "rule_version",
        "title",
        "severity",
        "action",
        "advice",
        "evidence",
        "follow_up_check_in_hours",
    }
    assert set(finding["evidence"][0]) == {"field", "value", "condition"}


def test_red_findings_come_first(ruleset: RuleSet) -> None:
    evaluation = judge(ruleset, {"patient_urgent": True, "wound": "red", "confusion": True})
    assert [finding.severity for finding in evaluation.findings] == ["red", "amber", "amber"]
    assert evaluation.findings[0].rule_id == "confusion"


def test_trace_says_which_red_suppressed_an_amber(ruleset: RuleSet) -> None:
    evaluation = judge(ruleset, {"temperature_c": 38.2}, history=[past(12, temperature_c=38.4)])
    assert "fever (amber): suppressed by fever_persistent" in evaluation.trace
    assert evaluation.suppressed == {"fever": "fever_persistent"}
    assert evaluation.rule_ids == ["fever_persistent"]


def test_trace_says_when_a_rule_needs_history_the_patient_does_not_have(ruleset: RuleSet) -> None:
    evaluation = judge(ruleset, {"abdominal_pain": 3, "leg_swelling": "both"})
    trace = evaluation.trace
    assert "pain_rising (amber): not fired: needs history the patient does not have yet: previous check-in" in trace
    assert "leg_swelling (amber): not fired: needs history the patient does not have yet: previous check-in" in trace
    assert "jaundice (red): not fired" in trace


def test_trace_says_when_the_baseline_weight_is_missing(ruleset: RuleSet) -> None:
    evaluation = judge(ruleset, {"weight_kg": 60.0}, baseline=None)
    assert (
        "weight_loss_severe (red): not fired: needs data not recorded for the episode: baseline weight"
        in evaluation.trace
    )


def test_trace_has_one_line_per_rule_judged(ruleset: RuleSet) -> None:
    evaluation = judge(ruleset, {"temperature_c": 38.9})
    assert len(evaluation.trace) == len(ruleset.rule_ids_for(phase="acute"))
    assert evaluation.trace[0] == "fever_high (red): fired: temperature_c = 38.9 (>= 38.5)"


def test_empty_answers_are_green_and_never_crash(ruleset: RuleSet) -> None:
    """H3: an absent answer makes the conditions on it not hold, without error."""
    assert judge(ruleset, {}).level == "green"
    history = [past(24), past(48, weight_kg=70.0)]
    assert judge(ruleset, {}, history=history, baseline=None).level == "green"


def test_a_null_answer_counts_as_absent(ruleset: RuleSet) -> None:
    assert judge(ruleset, {"heart_rate_bpm": None, "shortness_of_breath": True}).rule_ids == ["breathless"]


def test_whole_numbers_sent_as_floats_compare_alike(ruleset: RuleSet) -> None:
    """3.0 counts as 3 (the clinical file); the engine compares the numbers."""
    assert judge(ruleset, {"abdominal_pain": 5.0}).rule_ids == ["pain_rising"]


def test_a_wrongly_typed_current_answer_raises_naming_the_question(ruleset: RuleSet) -> None:
    """H4: validation rejects "38.5" as text; if it slipped through, the engine must
    not silently treat it as no fever."""
    with pytest.raises(AnswerTypeError, match="temperature_c"):
        judge(ruleset, {"temperature_c": "38.5"})
    with pytest.raises(AnswerTypeError, match="chills"):
        judge(ruleset, {"chills": 1, "temperature_c": 38.0})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_number_raises_naming_the_question(ruleset: RuleSet, value: float) -> None:
    """H4: NaN compares false with every threshold; it must not pass as "no fever"."""
    with pytest.raises(AnswerTypeError, match="temperature_c"):
        judge(ruleset, {"temperature_c": value})
    with pytest.raises(AnswerTypeError, match="weight_kg"):
        judge(ruleset, {"weight_kg": value})


def test_a_non_finite_lab_value_is_refused() -> None:
    """H15: a lab value that is not a finite number is never judged."""
    with pytest.raises(ValueError, match="finite number"):
        LabResult("inr", float("nan"), T0)


def test_a_wrongly_typed_past_answer_reads_as_absent(ruleset: RuleSet) -> None:
    """An old check-in from another protocol version must not block every future evaluation."""
    evaluation = judge(ruleset, {"abdominal_pain": 4, "leg_swelling": "both"}, history=[past(24, abdominal_pain="1")])
    assert evaluation.level == "green"


def test_windows_are_elapsed_hours_across_a_dst_change(ruleset: RuleSet) -> None:
    """H14: Berlin moved its clocks forward on 2025-03-30; 09:30 the day before to
    10:00 that day is 23.5 real hours (24.5 on the wall clock), so within 24 h."""
    berlin = ZoneInfo("Europe/Berlin")
    taken_at = datetime(2025, 3, 30, 10, 0, tzinfo=berlin)
    history = [PastCheckIn(taken_at=datetime(2025, 3, 29, 9, 30, tzinfo=berlin), answers={"temperature_c": 38.2})]
    evaluation = ruleset.evaluate(
        EvaluationInput(
            answers={"temperature_c": 38.1}, taken_at=taken_at, phase="acute", day_since_discharge=3, history=history
        )
    )
    assert evaluation.rule_ids == ["fever_persistent"]
    assert evaluation.findings[0].evidence[1].condition.endswith("(23.5 h earlier)")


def test_unknown_phase_is_refused(ruleset: RuleSet) -> None:
    with pytest.raises(ValueError, match="unknown phase 'chronic'"):
        judge(ruleset, {}, phase="chronic")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        EvaluationInput(answers={}, taken_at=datetime(2025, 3, 10, 9), phase="acute", day_since_discharge=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        PastCheckIn(taken_at=datetime(2025, 3, 10, 9), answers={})


def test_findings_and_evidence_are_frozen(ruleset: RuleSet) -> None:
    finding = judge(ruleset, {"jaundice": True}).findings[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.severity = "amber"
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.evidence[0].value = False


def test_the_callers_history_is_left_as_given(ruleset: RuleSet) -> None:
    history = [past(24, nausea=True), past(48, nausea=True)]
    snapshot = list(history)
    judge(ruleset, {"nausea": True}, history=history)
    assert history == snapshot


def test_rule_metadata_is_available_by_id(ruleset: RuleSet) -> None:
    meta = ruleset.get("fever_high")
    assert (meta.id, meta.title, meta.severity, meta.action, meta.advice, meta.source, meta.version) == (
        "fever_high",
        "High fever",
        "red",
        "recall_now",
        "red",
        ("S1", "S5"),
        "1",
    )
    assert ruleset.rule_ids[0] == "fever_high"
    assert "fever" in ruleset
    with pytest.raises(KeyError, match="no rule 'fevr'"):
        ruleset.get("fevr")


def test_findings_carry_the_rule_version(ruleset: RuleSet) -> None:
    finding = judge(ruleset, {"confusion": True}).findings[0]
    assert (finding.rule_id, finding.rule_version, finding.title) == ("confusion", "1", "New confusion or drowsiness")


def test_the_engine_imports_nothing_from_django() -> None:
    """The engine is pure Python (DESIGN.md): plain data in, findings out."""
    root = Path(__file__).resolve().parents[3]
    code = (
        "import sys, followup.rules; "
        "leaked = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')); "
        "print(leaked); sys.exit(1 if leaked else 0)"
    )
    completed = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
