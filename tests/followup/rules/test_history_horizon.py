"""What history a compiled rule set can look at (followup/rules/horizon.py, issue 17):
computed when the rules compile, it bounds the check-in path's history read. That the
bounded read gives the same evaluation is the property test of
tests/followup/services/test_checkins_history_bound.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from followup.rules import FieldSpec, HistoryHorizon, Predicate, RuleSet, compile_rules


def _rule(when: dict[str, Any], *, trigger: str = "check_in") -> dict[str, Any]:
    return {
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


def _horizon(fields: dict[str, FieldSpec], when: dict[str, Any], trigger: str = "check_in") -> HistoryHorizon:
    ruleset = compile_rules([_rule(when, trigger=trigger)], fields=fields, version="1", source="probe.yaml")
    return ruleset.history_horizon(phase="acute", trigger=trigger)  # type: ignore[arg-type]


def test_the_default_protocol_reads_two_check_ins_and_one_row_per_window(ruleset: RuleSet) -> None:
    acute = ruleset.history_horizon(phase="acute")
    assert acute.check_ins == 2  # nausea on three check-ins in a row
    assert not acute.unbounded and not acute.reads_labs
    assert {(window.kind, window.span, window.question) for window in acute.windows} == {
        ("latest_where", timedelta(hours=24), ""),  # fever_persistent
        ("lowest", timedelta(hours=72), "weight_kg"),  # weight_gain_fast
    }
    (fever,) = [window for window in acute.windows if window.kind == "latest_where"]
    assert fever.predicate == Predicate("number", "temperature_c", ">=", 38.0)


def test_surveillance_adds_the_earliest_weight_of_90_days(ruleset: RuleSet) -> None:
    kinds = {(window.kind, window.span) for window in ruleset.history_horizon(phase="surveillance").windows}
    assert ("earliest", timedelta(days=90)) in kinds


def test_the_lab_rules_read_a_few_results_per_code(ruleset: RuleSet) -> None:
    labs = ruleset.history_horizon(phase="acute", trigger="lab")
    assert labs.check_ins == 0 and not labs.windows
    assert dict(labs.lab_latest)["bilirubin_umol_l"] == 3  # two rises in a row
    assert dict(labs.lab_latest)["cea_ng_ml"] == 2  # the previous result
    assert labs.lab_lowest_since_surgery == ("cea_ng_ml",)


def test_consecutive_counts_what_its_condition_reads_before_each_check_in(fields) -> None:
    when = {"consecutive": 3, "when": {"answer": "abdominal_pain", "rise_from": "previous", ">=": 1}}
    assert _horizon(fields, when).check_ins == 3


def test_within_hours_over_choices_booleans_and_answered_is_one_row(fields) -> None:
    when = {
        "within_hours": 36,
        "when": {"any": [{"answer": "abdominal_swelling", "in": ["mild", "severe"]}, {"not": {"answered": "nausea"}}]},
    }
    horizon = _horizon(fields, when)
    assert not horizon.unbounded and horizon.check_ins == 1
    (window,) = horizon.windows
    assert window.predicate == Predicate(
        "any",
        children=(
            Predicate("choice", "abdominal_swelling", "in", ("mild", "severe")),
            Predicate("not", children=(Predicate("answered", "nausea"),)),
        ),
    )


@pytest.mark.parametrize(
    "when",
    [
        # A window judged from each check-in of a run, a run judged inside a window:
        # not a fixed set of rows, so the whole history is read (correct, not flat).
        {"consecutive": 2, "when": {"answer": "weight_kg", "rise_from": {"lowest_within_hours": 72}, ">=": 2}},
        {"within_hours": 24, "when": {"previous": "nausea", "is": True}},
        {"within_hours": 24, "when": {"answer": "weight_kg", "fall_from": "baseline", "as": "percent", ">=": 5}},
    ],
)
def test_shapes_the_bounded_read_does_not_serve_read_everything(fields, when) -> None:
    assert _horizon(fields, when).unbounded


def test_no_protocol_we_ship_needs_the_whole_history(ruleset: RuleSet) -> None:
    for phase in ruleset.phases:
        for trigger in ("check_in", "lab"):
            assert not ruleset.history_horizon(phase=phase, trigger=trigger).unbounded  # type: ignore[arg-type]


def test_an_unknown_phase_is_refused_as_evaluate_refuses_it(ruleset: RuleSet) -> None:
    with pytest.raises(ValueError, match="unknown phase"):
        ruleset.history_horizon(phase="recovery")
