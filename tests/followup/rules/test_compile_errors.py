"""A broken rules file never loads: each mistake raises RuleLoadError naming the
source file, the rule id and the reason.

H3 (a rule misses a warning sign): a misspelt question, a boolean compared with a
number or a choice word the question does not offer would make a rule that can
never fire; compiling refuses it instead of loading it silently.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from followup.rules import FieldSpec, RuleLoadError, compile_rules

SOURCE = "followup/protocols/data/test-protocol/rules.yaml"


def rule(rule_id: str = "probe", **changes: Any) -> dict[str, Any]:
    """A valid amber rule with some keys changed (None removes a key)."""
    raw: dict[str, Any] = {
        "id": rule_id,
        "title": "Probe",
        "severity": "amber",
        "action": "nurse_call_today",
        "advice": "amber",
        "source": ["S1"],
        "phases": ["acute"],
        "when": {"answer": "chills", "is": True},
    }
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def red(rule_id: str = "probe", **changes: Any) -> dict[str, Any]:
    return rule(rule_id, severity="red", action="recall_now", advice="red", **changes)


def compile_them(fields: dict[str, FieldSpec], *rules: dict[str, Any]) -> None:
    compile_rules(list(rules), fields=fields, version="7", source=SOURCE)


def expect_error(fields: dict[str, FieldSpec], rules: list[dict[str, Any]], rule_id: str, reason: str) -> str:
    with pytest.raises(RuleLoadError) as caught:
        compile_them(fields, *rules)
    message = str(caught.value)
    assert SOURCE in message
    assert f"'{rule_id}'" in message
    assert reason in message
    assert caught.value.rule_id == rule_id
    assert caught.value.source == SOURCE
    return message


def test_a_valid_rule_compiles(fields: dict[str, FieldSpec]) -> None:
    compile_them(fields, rule())


def test_unknown_question_names_file_rule_and_question(fields: dict[str, FieldSpec]) -> None:
    """H3: a misspelt question would never be answered, so the rule would never fire."""
    message = expect_error(
        fields,
        [rule(when={"any": [{"answer": "temprature_c", ">=": 38.5}]})],
        "probe",
        "unknown question 'temprature_c'",
    )
    assert "when.any[0]" in message


def test_boolean_compared_with_a_number_is_a_type_mismatch(fields: dict[str, FieldSpec]) -> None:
    """H3: `chills >= 1` is a wrong comparison; booleans take `is: true/false`."""
    expect_error(fields, [rule(when={"answer": "chills", ">=": 1})], "probe", "type mismatch")


def test_boolean_compared_with_is_1_is_a_type_mismatch(fields: dict[str, FieldSpec]) -> None:
    """H3: YAML 1 is not true."""
    expect_error(fields, [rule(when={"answer": "chills", "is": 1})], "probe", "type mismatch")


def test_number_compared_with_a_word_is_a_type_mismatch(fields: dict[str, FieldSpec]) -> None:
    """H3: a threshold written as text ("38.5") would compare wrongly."""
    expect_error(fields, [rule(when={"answer": "temperature_c", ">=": "38.5"})], "probe", "type mismatch")


def test_number_compared_with_is_true_is_a_type_mismatch(fields: dict[str, FieldSpec]) -> None:
    expect_error(fields, [rule(when={"answer": "temperature_c", "is": True})], "probe", "type mismatch")


def test_choice_word_not_offered_is_a_type_mismatch(fields: dict[str, FieldSpec]) -> None:
    """H3: `wound == infected` can never hold: the question offers normal, red, discharge, opened."""
    message = expect_error(fields, [rule(when={"answer": "wound", "==": "infected"})], "probe", "type mismatch")
    assert "'infected'" in message


def test_choice_word_not_offered_inside_in_is_a_type_mismatch(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(when={"previous": "abdominal_swelling", "in": ["mild", "moderate"]})],
        "probe",
        "no choice 'moderate'",
    )


def test_choices_have_no_order(fields: dict[str, FieldSpec]) -> None:
    expect_error(fields, [rule(when={"answer": "appetite", ">": "none"})], "probe", "choices have no order")


def test_unknown_operator_is_refused(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(when={"answer": "temperature_c", "=>": 38.5})],
        "probe",
        "unknown operator or function '=>'",
    )


def test_unknown_function_is_refused(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(when={"median": "weight_kg", ">=": 70})],
        "probe",
        "unknown operator or function 'median'",
    )


def test_python_expression_is_not_evaluated(fields: dict[str, FieldSpec]) -> None:
    """The rule language is data; a string is never run as code."""
    expect_error(fields, [rule(when="temperature_c >= 38.5")], "probe", "a condition must be a mapping")


def test_duplicate_rule_id_is_refused(fields: dict[str, FieldSpec]) -> None:
    expect_error(fields, [rule("fever"), rule("fever")], "fever", "duplicate rule id")


def test_unknown_covers_target_is_refused(fields: dict[str, FieldSpec]) -> None:
    """H3: a misspelt covered rule would leave the amber firing beside the red (or hide another)."""
    expect_error(
        fields,
        [red("fever_high", covers=["fevr"]), rule("fever")],
        "fever_high",
        "covers unknown rule 'fevr'",
    )


def test_an_amber_rule_cannot_cover(fields: dict[str, FieldSpec]) -> None:
    expect_error(fields, [rule("a", covers=["b"]), rule("b")], "a", "only a red rule may cover")


def test_a_red_rule_cannot_be_covered(fields: dict[str, FieldSpec]) -> None:
    """H3: covering must never hide a red finding."""
    expect_error(fields, [red("a", covers=["b"]), red("b")], "a", "a red finding is never hidden")


def test_bad_severity_is_refused(fields: dict[str, FieldSpec]) -> None:
    expect_error(fields, [rule(severity="orange")], "probe", "bad severity 'orange'")


def test_bad_action_is_refused(fields: dict[str, FieldSpec]) -> None:
    expect_error(fields, [rule(action="page_everyone")], "probe", "bad action 'page_everyone'")


def test_missing_condition_is_refused(fields: dict[str, FieldSpec]) -> None:
    expect_error(fields, [rule(when=None)], "probe", "missing key 'when'")


def test_misspelt_rule_key_is_refused(fields: dict[str, FieldSpec]) -> None:
    """`cover:` instead of `covers:` would silently cover nothing."""
    expect_error(fields, [red(cover=["fever"])], "probe", "unknown key 'cover'")


def test_unknown_phase_is_refused(fields: dict[str, FieldSpec]) -> None:
    expect_error(fields, [rule(phases=["acute", "chronic"])], "probe", "unknown phase 'chronic'")


def test_missing_source_is_refused(fields: dict[str, FieldSpec]) -> None:
    """H3: rules are reviewed data with sources."""
    expect_error(fields, [rule(source=[])], "probe", "source must be a non-empty list")


def test_consecutive_needs_two_check_ins_or_more(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(when={"consecutive": 1, "when": {"answer": "nausea", "is": True}})],
        "probe",
        "consecutive needs a whole number of check-ins >= 2",
    )


def test_within_hours_needs_a_positive_window(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(when={"within_hours": 0, "when": {"answer": "temperature_c", ">=": 38.0}})],
        "probe",
        "within_hours needs a number of hours > 0",
    )


def test_baseline_only_exists_for_weight(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(when={"answer": "abdominal_pain", "rise_from": "baseline", ">=": 3})],
        "probe",
        "no baseline for 'abdominal_pain'",
    )


def test_change_of_a_choice_is_a_type_mismatch(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(when={"answer": "appetite", "rise_from": "previous", ">=": 1})],
        "probe",
        "type mismatch",
    )


def test_unknown_change_reference_is_refused(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(when={"answer": "weight_kg", "rise_from": {"lowest_within_days": 3}, ">=": 2.0})],
        "probe",
        "unknown reference",
    )


def test_percent_needs_a_change(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(when={"answer": "weight_kg", "as": "percent", ">=": 5.0})],
        "probe",
        "'as' needs rise_from or fall_from",
    )


def test_two_comparisons_in_one_leaf_are_refused(fields: dict[str, FieldSpec]) -> None:
    """`{answer: hr, '>': 100, '<=': 120}` is ambiguous; write it with all:."""
    expect_error(
        fields,
        [rule(when={"answer": "heart_rate_bpm", ">": 100, "<=": 120})],
        "probe",
        "needs exactly one comparison",
    )


def test_unknown_lab_code_is_refused(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(trigger="lab", when={"lab": "bilirubin_mg_dl", ">": 3})],
        "probe",
        "unknown lab code 'bilirubin_mg_dl'",
    )


def test_a_lab_rule_cannot_read_check_in_answers(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(trigger="lab", when={"answer": "jaundice", "is": True})],
        "probe",
        "a lab rule can only read lab results",
    )


def test_a_lab_result_cannot_be_read_inside_consecutive(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(when={"consecutive": 2, "when": {"lab": "inr", ">": 1.7}})],
        "probe",
        "cannot be read inside consecutive",
    )


def test_follow_up_check_in_only_on_check_in_rules(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(trigger="lab", when={"lab": "inr", ">": 1.7}, follow_up_check_in_hours=12)],
        "probe",
        "only applies to check-in rules",
    )


def test_phase_override_for_a_phase_the_rule_does_not_have(fields: dict[str, FieldSpec]) -> None:
    expect_error(
        fields,
        [rule(in_phase={"surveillance": {"action": "imaging"}})],
        "probe",
        "'surveillance' is not one of this rule's phases",
    )


def test_error_from_a_yaml_text_names_the_rule(fields: dict[str, FieldSpec]) -> None:
    """The same errors come out of a real YAML text, as a clinician would write it."""
    text = """
- id: fever_high
  title: High fever
  severity: red
  action: recall_now
  advice: red
  source: [S1, S5]
  covers: [fever]
  phases: [acute]
  when:
    any:
      - {answer: temperature_c, ">=": 38.5}
      - all:
          - {answer: temperature_c, ">=": 38.0}
          - {answer: chills, ">=": 1}
- id: fever
  title: Fever
  severity: amber
  action: nurse_call_today
  advice: amber
  source: [S1]
  phases: [acute]
  when: {answer: temperature_c, ">=": 38.0}
"""
    message = expect_error(fields, yaml.safe_load(text), "fever_high", "type mismatch")
    assert "when.any[1].all[1]" in message


def test_a_file_that_is_not_a_list_is_refused(fields: dict[str, FieldSpec]) -> None:
    with pytest.raises(RuleLoadError, match="must hold a list of rules") as caught:
        compile_rules({"rules": []}, fields=fields, version="1", source=SOURCE)  # type: ignore[arg-type]
    assert SOURCE in str(caught.value)


def test_an_entry_without_an_id_is_refused(fields: dict[str, FieldSpec]) -> None:
    with pytest.raises(RuleLoadError, match="entry #2 needs an id") as caught:
        compile_them(fields, rule(), rule(id=None))
    assert SOURCE in str(caught.value)
