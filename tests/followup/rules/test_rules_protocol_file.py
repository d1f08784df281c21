"""The default protocol's rules file matches the clinical contract (post-hepatectomy.md).

H3 (a rule misses a warning sign): rule ids, levels, sources, the covering table,
the phases and the extra actions are checked against the contract's tables, so
an edit of the data file that drifts from the reviewed contract fails here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from followup.rules import EvaluationInput, LabResult, RuleSet

# Rules (acute phase) and Labs tables: rule id -> level.
CONTRACT_LEVELS = {
    "fever_high": "red",
    "fever_persistent": "red",
    "fever": "amber",
    "jaundice": "red",
    "gi_bleeding": "red",
    "vomiting_severe": "red",
    "vomiting": "amber",
    "obstruction": "red",
    "constipation": "amber",
    "confusion": "red",
    "ascites_severe": "red",
    "ascites": "amber",
    "pain_severe": "red",
    "pain_rising": "amber",
    "right_upper_pain": "amber",
    "breathless_tachycardic": "red",
    "breathless": "amber",
    "tachycardia_severe": "red",
    "tachycardia": "amber",
    "leg_swelling_one": "amber",
    "leg_swelling": "amber",
    "weight_loss_severe": "red",
    "weight_loss_fast": "amber",
    "weight_gain_fast": "amber",
    "cholestasis": "amber",
    "appetite_lost": "amber",
    "nausea_persistent": "amber",
    "swallowing": "amber",
    "wound_open": "red",
    "wound": "amber",
    "bile_leak": "red",
    "drain_high": "amber",
    "patient_concern": "amber",
    "phlf_50_50": "red",
    "bilirubin_rising": "amber",
    "inr_high": "amber",
    "transaminases_high": "amber",
    "albumin_low": "amber",
    "cea_rising": "amber",
}
LAB_RULES = {"phlf_50_50", "bilirubin_rising", "inr_high", "transaminases_high", "albumin_low", "cea_rising"}

# The covering table.
CONTRACT_COVERS = {
    "fever_high": {"fever"},
    "fever_persistent": {"fever"},
    "vomiting_severe": {"vomiting"},
    "obstruction": {"constipation", "vomiting"},
    "ascites_severe": {"ascites"},
    "pain_severe": {"pain_rising"},
    "breathless_tachycardic": {"breathless", "tachycardia", "leg_swelling_one"},
    "tachycardia_severe": {"tachycardia"},
    "weight_loss_severe": {"weight_loss_fast"},
    "wound_open": {"wound"},
    "jaundice": {"cholestasis"},
    "bile_leak": {"drain_high"},
}

# The "why (source)" column; wound_open and wound name none in the contract.
CONTRACT_SOURCES = {
    "fever_high": {"S1", "S5"},
    "fever_persistent": {"S5", "S8"},
    "fever": {"S1", "S5", "S8"},
    "jaundice": {"S1", "S2", "S6"},
    "gi_bleeding": {"S1"},
    "vomiting_severe": {"S4"},
    "vomiting": {"S1", "S4"},
    "obstruction": {"S1"},
    "constipation": {"S1"},
    "confusion": {"S1", "S6"},
    "ascites_severe": {"S1"},
    "ascites": {"S1"},
    "pain_severe": {"S1"},
    "pain_rising": {"S5"},
    "right_upper_pain": {"S1"},
    "breathless_tachycardic": {"S8"},
    "breathless": {"S5"},
    "tachycardia_severe": {"S8"},
    "tachycardia": {"S8"},
    "leg_swelling_one": {"S8"},
    "leg_swelling": {"S1"},
    "weight_loss_severe": {"S1", "S8"},
    "weight_loss_fast": {"S1", "S8"},
    "weight_gain_fast": {"S8"},
    "cholestasis": {"S1", "S2"},
    "appetite_lost": {"S1"},
    "nausea_persistent": {"S1"},
    "swallowing": {"S1"},
    "bile_leak": {"S7"},
    "drain_high": {"S7"},
    "patient_concern": {"S3"},
    "phlf_50_50": {"S6"},
    "bilirubin_rising": {"S6"},
    "inr_high": {"S6"},
    "transaminases_high": {"S2"},
    "albumin_low": {"S5"},
    "cea_rising": {"S9"},
}

T0 = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)


def judge(ruleset: RuleSet, phase: str = "acute", **answers: object) -> list[tuple[str, str]]:
    evaluation = ruleset.evaluate(
        EvaluationInput(answers=answers, taken_at=T0, phase=phase, day_since_discharge=10, baseline_weight_kg=80.0)
    )
    return [(finding.rule_id, finding.action) for finding in evaluation.findings]


def test_the_file_has_exactly_the_contract_rules_with_their_levels(ruleset: RuleSet) -> None:
    """H3: no contract rule is missing, none is added, no level differs."""
    assert {meta.id: meta.severity for meta in ruleset.rules} == CONTRACT_LEVELS


def test_the_covering_table_is_the_contract_table(ruleset: RuleSet) -> None:
    """H3: a red hides exactly the ambers the contract lists, nothing else."""
    covers = {meta.id: set(meta.covers) for meta in ruleset.rules if meta.covers}
    assert covers == CONTRACT_COVERS


def test_every_rule_cites_the_contract_sources(ruleset: RuleSet) -> None:
    """H3: rules are reviewed data with their sources."""
    for meta in ruleset.rules:
        assert meta.source, meta.id
        if meta.id in CONTRACT_SOURCES:
            assert set(meta.source) == CONTRACT_SOURCES[meta.id], meta.id


def test_every_rule_has_a_title_and_an_advice_key_matching_its_level(ruleset: RuleSet) -> None:
    for meta in ruleset.rules:
        assert meta.title.strip()
        assert meta.advice == meta.severity
        assert meta.version == "1"


def test_red_check_in_rules_recall_now_and_amber_ones_ask_a_nurse_call(ruleset: RuleSet) -> None:
    for meta in ruleset.rules:
        if meta.trigger == "check_in":
            expected = "recall_now" if meta.severity == "red" else "nurse_call_today"
            assert meta.action == expected, meta.id


def test_lab_rules_are_judged_on_lab_entry(ruleset: RuleSet) -> None:
    assert {meta.id for meta in ruleset.rules if meta.trigger == "lab"} == LAB_RULES
    for phase in ("acute", "surveillance"):
        assert set(ruleset.rule_ids_for(phase=phase, trigger="lab")) == LAB_RULES


def test_a_check_in_does_not_re_judge_old_lab_results(ruleset: RuleSet) -> None:
    """H7: an abnormal lab value must not re-open an alert on every check-in."""
    evaluation = ruleset.evaluate(
        EvaluationInput(
            answers={"temperature_c": 36.8},
            taken_at=T0,
            phase="acute",
            day_since_discharge=10,
            labs=[LabResult("bilirubin_umol_l", 90.0, T0 - timedelta(days=1))],
            surgery_date=date(2025, 5, 25),
        )
    )
    assert evaluation.level == "green"


def test_fever_schedules_an_extra_check_in_12_hours_later(ruleset: RuleSet) -> None:
    assert ruleset.get("fever").follow_up_check_in_hours == 12
    evaluation = ruleset.evaluate(
        EvaluationInput(answers={"temperature_c": 38.2}, taken_at=T0, phase="acute", day_since_discharge=3)
    )
    assert [(f.rule_id, f.follow_up_check_in_hours) for f in evaluation.findings] == [("fever", 12)]


def test_no_extra_check_in_when_fever_is_covered_by_a_red(ruleset: RuleSet) -> None:
    evaluation = ruleset.evaluate(
        EvaluationInput(
            answers={"temperature_c": 38.2, "chills": True}, taken_at=T0, phase="acute", day_since_discharge=3
        )
    )
    assert [(f.rule_id, f.follow_up_check_in_hours) for f in evaluation.findings] == [("fever_high", None)]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"jaundice": True}, [("jaundice", "imaging")]),
        ({"abdominal_swelling": "severe"}, [("ascites_severe", "imaging")]),
    ],
)
def test_surveillance_jaundice_or_severe_swelling_is_a_red_recall_for_imaging(
    ruleset: RuleSet, answers: dict[str, object], expected: list[tuple[str, str]]
) -> None:
    """H3: in surveillance these are recurrence signs: red, recall for imaging."""
    assert judge(ruleset, "surveillance", **answers) == expected
    assert judge(ruleset, "acute", **answers) == [(expected[0][0], "recall_now")]
    assert ruleset.get(expected[0][0]).action_in("surveillance") == "imaging"


def test_weight_loss_severe_does_not_apply_in_surveillance(ruleset: RuleSet) -> None:
    assert "weight_loss_severe" in ruleset.rule_ids_for(phase="acute")
    assert "weight_loss_severe" not in ruleset.rule_ids_for(phase="surveillance")
    assert "weight_loss_fast" in ruleset.rule_ids_for(phase="surveillance")


def test_surveillance_keeps_the_rules_of_the_short_form(ruleset: RuleSet) -> None:
    short_form_rules = {
        "jaundice",
        "cholestasis",
        "ascites_severe",
        "ascites",
        "pain_severe",
        "pain_rising",
        "right_upper_pain",
        "weight_loss_fast",
        "weight_gain_fast",
        "appetite_lost",
        "patient_concern",
    }
    assert short_form_rules <= set(ruleset.rule_ids_for(phase="surveillance"))


def test_cea_rising_asks_for_imaging(ruleset: RuleSet) -> None:
    assert ruleset.get("cea_rising").action == "imaging"
    assert ruleset.get("cea_rising").severity == "amber"
