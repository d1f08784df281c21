"""Operators of the rule language that the default protocol does not use (yet):
each behaves as documented in followup/rules/__init__.py.

H3: a clinic that tunes its protocol with these operators gets the same
guarantees: the boundary is where the rule says, absent data never fires.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from followup.rules import EvaluationInput, FieldSpec, LabResult, PastCheckIn, RuleSet, compile_rules

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def one_rule(fields: dict[str, FieldSpec], when: dict[str, Any], trigger: str = "check_in") -> RuleSet:
    raw = {
        "id": "probe",
        "title": "Probe",
        "severity": "amber",
        "action": "review",
        "advice": "amber",
        "source": ["S1"],
        "phases": ["acute"],
        "trigger": trigger,
        "when": when,
    }
    return compile_rules([raw], fields=fields, version="t", source="probe.yaml")


def fires(
    ruleset: RuleSet,
    answers: dict[str, object],
    *,
    history: list[PastCheckIn] | None = None,
    day_since_discharge: int = 5,
    day_since_surgery: int | None = 12,
    baseline: float | None = 80.0,
) -> bool:
    evaluation = ruleset.evaluate(
        EvaluationInput(
            answers=answers,
            taken_at=T0,
            phase="acute",
            day_since_discharge=day_since_discharge,
            day_since_surgery=day_since_surgery,
            baseline_weight_kg=baseline,
            history=history or [],
        )
    )
    return evaluation.rule_ids == ["probe"]


def past(hours: float, **answers: object) -> PastCheckIn:
    return PastCheckIn(taken_at=T0 - timedelta(hours=hours), answers=answers)


@pytest.mark.parametrize(("day", "expected"), [(13, False), (14, True), (15, True)])
def test_days_since_discharge_compares_the_day(fields: dict[str, FieldSpec], day: int, expected: bool) -> None:
    ruleset = one_rule(
        fields,
        {"all": [{"answer": "wound", "==": "red"}, {"days_since": "discharge", ">=": 14}]},
    )
    assert fires(ruleset, {"wound": "red"}, day_since_discharge=day) is expected


def test_days_since_surgery_without_a_surgery_date_does_not_fire(fields: dict[str, FieldSpec]) -> None:
    ruleset = one_rule(fields, {"days_since": "surgery", ">": 7})
    assert fires(ruleset, {}, day_since_surgery=8)
    assert not fires(ruleset, {}, day_since_surgery=None)


def test_answered_holds_only_for_a_present_answer(fields: dict[str, FieldSpec]) -> None:
    ruleset = one_rule(fields, {"answered": "heart_rate_bpm"})
    assert fires(ruleset, {"heart_rate_bpm": 80})
    assert not fires(ruleset, {})
    assert not fires(ruleset, {"heart_rate_bpm": None})


def test_previous_reads_the_latest_earlier_check_in(fields: dict[str, FieldSpec]) -> None:
    ruleset = one_rule(fields, {"previous": "temperature_c", ">=": 38.0})
    assert fires(ruleset, {}, history=[past(48, temperature_c=36.5), past(24, temperature_c=38.0)])
    assert not fires(ruleset, {}, history=[past(48, temperature_c=38.5), past(24, temperature_c=37.0)])
    assert not fires(ruleset, {}, history=[past(24)])  # previous check-in without the answer
    assert not fires(ruleset, {})


@pytest.mark.parametrize(("weight", "expected"), [(78.0, False), (77.95, False), (77.9, True)])
def test_fall_from_previous_in_units(fields: dict[str, FieldSpec], weight: float, expected: bool) -> None:
    ruleset = one_rule(fields, {"answer": "weight_kg", "fall_from": "previous", ">=": 2.1})
    assert fires(ruleset, {"weight_kg": weight}, history=[past(24, weight_kg=80.0)]) is expected


@pytest.mark.parametrize(("weight", "expected"), [(83.96, True), (83.92, False)])
def test_rise_from_baseline_in_percent_rounds_half_up(
    fields: dict[str, FieldSpec], weight: float, expected: bool
) -> None:
    """83.96 is 4.95 % over 80.0, rounded to 5.0; 83.92 is 4.9 %."""
    ruleset = one_rule(fields, {"answer": "weight_kg", "rise_from": "baseline", "as": "percent", ">=": 5.0})
    assert fires(ruleset, {"weight_kg": weight}) is expected


def test_consecutive_may_read_previous_of_each_check_in(fields: dict[str, FieldSpec]) -> None:
    """Pain rising by 1 or more on two check-ins in a row: each check-in is judged
    against its own previous one."""
    ruleset = one_rule(
        fields,
        {"consecutive": 2, "when": {"answer": "abdominal_pain", "rise_from": "previous", ">=": 1}},
    )
    rising = [past(48, abdominal_pain=2), past(24, abdominal_pain=3)]
    assert fires(ruleset, {"abdominal_pain": 4}, history=rising)
    flat = [past(48, abdominal_pain=3), past(24, abdominal_pain=3)]
    assert not fires(ruleset, {"abdominal_pain": 4}, history=flat)


def test_within_hours_with_a_fractional_window(fields: dict[str, FieldSpec]) -> None:
    ruleset = one_rule(fields, {"within_hours": 1.5, "when": {"answer": "patient_urgent", "is": True}})
    assert fires(ruleset, {}, history=[past(1.5, patient_urgent=True)])
    assert not fires(ruleset, {}, history=[past(1.6, patient_urgent=True)])


def test_not_of_an_absent_answer_holds(fields: dict[str, FieldSpec]) -> None:
    """Two-valued logic: `not` of a condition on a missing answer holds (this is
    what makes `ascites` fire on a first check-in). Write `is: false` to require
    an explicit no."""
    assert fires(one_rule(fields, {"not": {"answer": "chills", "is": True}}), {})
    assert not fires(one_rule(fields, {"answer": "chills", "is": False}), {})


SURGERY = date(2025, 1, 1)


def labs_fire(ruleset: RuleSet, *results: LabResult) -> bool:
    evaluation = ruleset.evaluate_labs(
        labs=list(results), at=max(r.observed_at for r in results), phase="acute", surgery_date=SURGERY
    )
    return evaluation.rule_ids == ["probe"]


def result(code: str, value: float, day: int) -> LabResult:
    return LabResult(code, value, datetime(2025, 1, 1, 8, tzinfo=UTC) + timedelta(days=day))


def test_lab_ratio_to_previous(fields: dict[str, FieldSpec]) -> None:
    ruleset = one_rule(fields, {"lab": "alt_u_l", "ratio_to": "previous", ">=": 3}, trigger="lab")
    assert labs_fire(ruleset, result("alt_u_l", 40.0, 10), result("alt_u_l", 120.0, 12))
    assert not labs_fire(ruleset, result("alt_u_l", 40.0, 10), result("alt_u_l", 119.0, 12))
    assert not labs_fire(ruleset, result("alt_u_l", 120.0, 12))


def test_lab_fall_from_previous_in_percent(fields: dict[str, FieldSpec]) -> None:
    ruleset = one_rule(fields, {"lab": "albumin_g_l", "fall_from": "previous", "as": "percent", ">=": 20}, "lab")
    assert labs_fire(ruleset, result("albumin_g_l", 35.0, 10), result("albumin_g_l", 28.0, 12))
    assert not labs_fire(ruleset, result("albumin_g_l", 35.0, 10), result("albumin_g_l", 28.1, 12))


def test_lab_day_bound_uses_the_day_of_the_result(fields: dict[str, FieldSpec]) -> None:
    ruleset = one_rule(fields, {"lab": "alt_u_l", ">": 200, "from_surgery_day": 3}, trigger="lab")
    assert labs_fire(ruleset, result("alt_u_l", 300.0, 3))
    assert not labs_fire(ruleset, result("alt_u_l", 300.0, 2))
