"""Clinical cases for the post-hepatectomy rules: answers + history + baseline ->
level and the exact set of rules that fire (after covering).

H3 (a rule misses a warning sign: wrong threshold, unit or comparison): every rule
of the clinical contract is exercised here on both sides of each of its
boundaries, with the covering table, first check-ins, history windows and
late-entered check-ins judged as history stood at their ``taken_at``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from followup.rules import EvaluationInput, LabResult, PastCheckIn, RuleSet
from tests.answers import ABSENT, green_answers  # ABSENT: an answer left out (an optional question not asked)

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)

# An "all normal" acute check-in: a patient recovering as expected (the kit's green
# set, lighter, with a pulse).
NORMAL: dict[str, object] = green_answers(weight_kg=70.0, heart_rate_bpm=72)

# The surveillance short form, all normal.
SHORT_NORMAL: dict[str, object] = {
    "jaundice": False,
    "abdominal_pain": 1,
    "right_upper_pain": False,
    "abdominal_swelling": "none",
    "appetite": "normal",
    "weight_kg": 80.0,
    "dark_urine": False,
    "itching": False,
    "patient_urgent": False,
}


def answers(base: dict[str, object] | None = None, **overrides: object) -> dict[str, object]:
    """The normal answers with some fields changed (``ABSENT`` removes one)."""
    result = dict(NORMAL if base is None else base)
    for name, value in overrides.items():
        if value is ABSENT:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def earlier(hours: float, **overrides: object) -> PastCheckIn:
    """A normal acute check-in taken ``hours`` before T0 (negative: after T0)."""
    return PastCheckIn(taken_at=T0 - timedelta(hours=hours), answers=answers(**overrides))


def earlier_short(days: float, **overrides: object) -> PastCheckIn:
    """A normal surveillance check-in taken ``days`` before T0."""
    return PastCheckIn(taken_at=T0 - timedelta(days=days), answers=answers(SHORT_NORMAL, **overrides))


@dataclass(frozen=True)
class Case:
    level: str
    fired: frozenset[str]
    answers: dict[str, object]
    history: tuple[PastCheckIn, ...] = ()
    baseline_weight_kg: float | None = 70.0
    phase: str = "acute"
    day_since_discharge: int = 5
    extra: dict[str, Any] = field(default_factory=dict)


def case(
    case_id: str,
    level: str,
    fired: set[str] | frozenset[str],
    *,
    history: tuple[PastCheckIn, ...] | list[PastCheckIn] = (),
    baseline: float | None = 70.0,
    **overrides: object,
) -> Any:
    return pytest.param(Case(level, frozenset(fired), answers(**overrides), tuple(history), baseline), id=case_id)


def short(
    case_id: str,
    level: str,
    fired: set[str] | frozenset[str],
    *,
    history: tuple[PastCheckIn, ...] | list[PastCheckIn] = (),
    baseline: float | None = 80.0,
    **overrides: object,
) -> Any:
    return pytest.param(
        Case(
            level,
            frozenset(fired),
            answers(SHORT_NORMAL, **overrides),
            tuple(history),
            baseline,
            phase="surveillance",
            day_since_discharge=200,
        ),
        id=case_id,
    )


GREEN: frozenset[str] = frozenset()

CHECK_IN_CASES = [
    case("all_normal_is_green", "green", GREEN),
    case("all_normal_with_normal_history_is_green", "green", GREEN, history=[earlier(24), earlier(48)]),
    # --- fever: 37.9 / 38.0 / 38.4 / 38.5, chills ---------------------------------
    case("temperature_37_9_is_green", "green", GREEN, temperature_c=37.9),
    case("temperature_38_0_is_fever", "amber", {"fever"}, temperature_c=38.0),
    case("temperature_38_4_is_fever", "amber", {"fever"}, temperature_c=38.4),
    case("temperature_38_5_is_fever_high", "red", {"fever_high"}, temperature_c=38.5),
    case("temperature_39_5_is_fever_high", "red", {"fever_high"}, temperature_c=39.5),
    case("temperature_38_0_with_chills_is_fever_high", "red", {"fever_high"}, temperature_c=38.0, chills=True),
    case("temperature_37_9_with_chills_is_green", "green", GREEN, temperature_c=37.9, chills=True),
    case("chills_without_fever_is_green", "green", GREEN, chills=True),
    # --- fever_persistent: >= 38.0 now and on a check-in at most 24 h before -------
    case(
        "fever_now_and_20_h_before_is_fever_persistent",
        "red",
        {"fever_persistent"},
        temperature_c=38.1,
        history=[earlier(20, temperature_c=38.2)],
    ),
    case(
        "fever_now_and_exactly_24_h_before_is_fever_persistent",
        "red",
        {"fever_persistent"},
        temperature_c=38.0,
        history=[earlier(24, temperature_c=38.0)],
    ),
    case(
        "fever_24_h_and_1_min_before_is_only_fever",
        "amber",
        {"fever"},
        temperature_c=38.0,
        history=[earlier(24 + 1 / 60, temperature_c=38.5)],
    ),
    case(
        "earlier_37_9_within_24_h_is_only_fever",
        "amber",
        {"fever"},
        temperature_c=38.2,
        history=[earlier(12, temperature_c=37.9)],
    ),
    case(
        "fever_found_on_an_older_check_in_within_24_h",
        "red",
        {"fever_persistent"},
        temperature_c=38.3,
        history=[earlier(20, temperature_c=38.6), earlier(8, temperature_c=37.2)],
    ),
    case(
        "earlier_fever_but_none_now_is_green",
        "green",
        GREEN,
        temperature_c=37.5,
        history=[earlier(12, temperature_c=38.8)],
    ),
    case(
        "high_fever_now_and_before_fires_both_reds",
        "red",
        {"fever_high", "fever_persistent"},
        temperature_c=38.6,
        history=[earlier(10, temperature_c=38.0)],
    ),
    # --- jaundice, cholestasis, bleeding, confusion ------------------------------
    case("jaundice_is_red", "red", {"jaundice"}, jaundice=True),
    case("jaundice_covers_cholestasis", "red", {"jaundice"}, jaundice=True, dark_urine=True, itching=True),
    case("dark_urine_is_cholestasis", "amber", {"cholestasis"}, dark_urine=True),
    case("itching_is_cholestasis", "amber", {"cholestasis"}, itching=True),
    case("vomit_blood_is_gi_bleeding", "red", {"gi_bleeding"}, vomit_blood=True),
    case("black_stools_is_gi_bleeding", "red", {"gi_bleeding"}, black_stools=True),
    case("confusion_is_red", "red", {"confusion"}, confusion=True),
    # --- vomiting: 1 / 2 / 5 / 6, fluids kept down --------------------------------
    case("one_vomit_fluids_kept_is_green", "green", GREEN, vomiting_episodes_24h=1, fluids_kept_down=True),
    case(
        "one_vomit_fluids_not_kept_is_vomiting_severe",
        "red",
        {"vomiting_severe"},
        vomiting_episodes_24h=1,
        fluids_kept_down=False,
    ),
    case("two_vomits_is_vomiting", "amber", {"vomiting"}, vomiting_episodes_24h=2, fluids_kept_down=True),
    case("five_vomits_is_vomiting", "amber", {"vomiting"}, vomiting_episodes_24h=5, fluids_kept_down=True),
    case(
        "six_vomits_is_vomiting_severe",
        "red",
        {"vomiting_severe"},
        vomiting_episodes_24h=6,
        fluids_kept_down=True,
    ),
    case(
        "vomiting_severe_covers_vomiting",
        "red",
        {"vomiting_severe"},
        vomiting_episodes_24h=3,
        fluids_kept_down=False,
    ),
    # --- bowels: 2 / 3 / 4 days, obstruction ---------------------------------------
    case("no_stool_for_2_days_is_green", "green", GREEN, bowel_movement_days=2),
    case("no_stool_for_3_days_is_constipation", "amber", {"constipation"}, bowel_movement_days=3),
    case("no_stool_for_4_days_is_constipation", "amber", {"constipation"}, bowel_movement_days=4),
    case(
        "no_stool_4_days_and_2_vomits_is_obstruction_covering_both",
        "red",
        {"obstruction"},
        bowel_movement_days=4,
        vomiting_episodes_24h=2,
        fluids_kept_down=True,
    ),
    case(
        "no_stool_3_days_and_2_vomits_is_constipation_and_vomiting",
        "amber",
        {"constipation", "vomiting"},
        bowel_movement_days=3,
        vomiting_episodes_24h=2,
        fluids_kept_down=True,
    ),
    case(
        "no_stool_4_days_and_1_vomit_is_constipation",
        "amber",
        {"constipation"},
        bowel_movement_days=4,
        vomiting_episodes_24h=1,
        fluids_kept_down=True,
    ),
    case(
        "obstruction_and_vomiting_severe_both_fire",
        "red",
        {"obstruction", "vomiting_severe"},
        bowel_movement_days=5,
        vomiting_episodes_24h=6,
        fluids_kept_down=True,
    ),
    # --- belly swelling ---------------------------------------------------------------
    case("severe_swelling_is_ascites_severe", "red", {"ascites_severe"}, abdominal_swelling="severe"),
    case(
        "severe_swelling_after_mild_is_ascites_severe",
        "red",
        {"ascites_severe"},
        abdominal_swelling="severe",
        history=[earlier(24, abdominal_swelling="mild")],
    ),
    case("mild_swelling_on_first_check_in_is_ascites", "amber", {"ascites"}, abdominal_swelling="mild"),
    case(
        "mild_swelling_new_since_previous_is_ascites",
        "amber",
        {"ascites"},
        abdominal_swelling="mild",
        history=[earlier(24, abdominal_swelling="none")],
    ),
    case(
        "mild_swelling_also_on_previous_is_green",
        "green",
        GREEN,
        abdominal_swelling="mild",
        history=[earlier(24, abdominal_swelling="mild")],
    ),
    case(
        "mild_swelling_after_severe_is_green",
        "green",
        GREEN,
        abdominal_swelling="mild",
        history=[earlier(24, abdominal_swelling="severe")],
    ),
    case(
        "only_the_previous_check_in_decides_if_swelling_is_new",
        "amber",
        {"ascites"},
        abdominal_swelling="mild",
        history=[earlier(48, abdominal_swelling="mild"), earlier(24, abdominal_swelling="none")],
    ),
    # --- pain: 4 / 5 / 7 / 8, rise of 3 from previous --------------------------------
    case("pain_4_is_green", "green", GREEN, abdominal_pain=4, history=[earlier(24, abdominal_pain=3)]),
    case("pain_5_is_pain_rising", "amber", {"pain_rising"}, abdominal_pain=5),
    case("pain_7_is_pain_rising", "amber", {"pain_rising"}, abdominal_pain=7),
    case("pain_8_is_pain_severe", "red", {"pain_severe"}, abdominal_pain=8),
    case(
        "pain_8_after_2_is_pain_severe_covering_pain_rising",
        "red",
        {"pain_severe"},
        abdominal_pain=8,
        history=[earlier(24, abdominal_pain=2)],
    ),
    case(
        "pain_up_3_from_previous_is_pain_rising",
        "amber",
        {"pain_rising"},
        abdominal_pain=4,
        history=[earlier(24, abdominal_pain=1)],
    ),
    case(
        "pain_up_2_from_previous_is_green",
        "green",
        GREEN,
        abdominal_pain=4,
        history=[earlier(24, abdominal_pain=2)],
    ),
    case("pain_4_on_first_check_in_is_green", "green", GREEN, abdominal_pain=4),
    case("pain_5_on_first_check_in_is_pain_rising", "amber", {"pain_rising"}, abdominal_pain=5),
    case("right_upper_pain_is_amber", "amber", {"right_upper_pain"}, right_upper_pain=True),
    # --- breathing, pulse: 49 / 50, 100 / 101, 120 / 121 -------------------------------
    case("breathless_with_pulse_90_is_breathless", "amber", {"breathless"}, shortness_of_breath=True),
    case(
        "breathless_with_pulse_100_is_breathless",
        "amber",
        {"breathless"},
        shortness_of_breath=True,
        heart_rate_bpm=100,
    ),
    case(
        "breathless_with_pulse_101_is_breathless_tachycardic",
        "red",
        {"breathless_tachycardic"},
        shortness_of_breath=True,
        heart_rate_bpm=101,
    ),
    case(
        "breathless_with_one_swollen_leg_is_breathless_tachycardic",
        "red",
        {"breathless_tachycardic"},
        shortness_of_breath=True,
        leg_swelling="one",
    ),
    case(
        "breathless_without_pulse_answer_is_breathless",
        "amber",
        {"breathless"},
        shortness_of_breath=True,
        heart_rate_bpm=ABSENT,
    ),
    case(
        "breathless_with_pulse_121_fires_both_reds",
        "red",
        {"breathless_tachycardic", "tachycardia_severe"},
        shortness_of_breath=True,
        heart_rate_bpm=121,
    ),
    case("pulse_100_is_green", "green", GREEN, heart_rate_bpm=100),
    case("pulse_101_is_tachycardia", "amber", {"tachycardia"}, heart_rate_bpm=101),
    case("pulse_120_is_tachycardia", "amber", {"tachycardia"}, heart_rate_bpm=120),
    case("pulse_121_is_tachycardia_severe", "red", {"tachycardia_severe"}, heart_rate_bpm=121),
    case("pulse_49_is_tachycardia", "amber", {"tachycardia"}, heart_rate_bpm=49),
    case("pulse_50_is_green", "green", GREEN, heart_rate_bpm=50),
    case("no_pulse_answer_is_green", "green", GREEN, heart_rate_bpm=ABSENT),
    # --- legs -------------------------------------------------------------------------
    case("one_swollen_leg_is_leg_swelling_one", "amber", {"leg_swelling_one"}, leg_swelling="one"),
    case("both_legs_on_first_check_in_is_green", "green", GREEN, leg_swelling="both"),
    case(
        "both_legs_two_check_ins_in_a_row_is_leg_swelling",
        "amber",
        {"leg_swelling"},
        leg_swelling="both",
        history=[earlier(24, leg_swelling="both")],
    ),
    case(
        "both_legs_with_a_normal_check_in_between_is_green",
        "green",
        GREEN,
        leg_swelling="both",
        history=[earlier(48, leg_swelling="both"), earlier(24, leg_swelling="none")],
    ),
    case(
        "missed_check_ins_do_not_break_a_run",
        "amber",
        {"leg_swelling"},
        leg_swelling="both",
        history=[earlier(96, leg_swelling="both")],
    ),
    # --- weight against baseline: 4.9 / 4.95 / 5.0 / 9.9 / 9.95 / 10.0 % -------------------
    case("weight_lost_4_9_percent_is_green", "green", GREEN, baseline=80.0, weight_kg=76.08),
    case("weight_lost_4_94_percent_rounds_to_4_9", "green", GREEN, baseline=80.0, weight_kg=76.048),
    case(
        "weight_lost_4_95_percent_rounds_half_up_to_5_0",
        "amber",
        {"weight_loss_fast"},
        baseline=80.0,
        weight_kg=76.04,
    ),
    case("weight_lost_5_0_percent_is_weight_loss_fast", "amber", {"weight_loss_fast"}, baseline=80.0, weight_kg=76.0),
    case("weight_lost_9_9_percent_is_weight_loss_fast", "amber", {"weight_loss_fast"}, baseline=80.0, weight_kg=72.08),
    case(
        "weight_lost_9_95_percent_rounds_to_10_0",
        "red",
        {"weight_loss_severe"},
        baseline=80.0,
        weight_kg=72.04,
    ),
    case(
        "weight_lost_10_0_percent_is_weight_loss_severe_covering_fast",
        "red",
        {"weight_loss_severe"},
        baseline=80.0,
        weight_kg=72.0,
    ),
    case("weight_gained_over_baseline_is_green", "green", GREEN, baseline=70.0, weight_kg=71.5),
    case("no_baseline_weight_is_green", "green", GREEN, baseline=None, weight_kg=50.0),
    # --- weight gain: 2.0 kg above the lowest of the earlier check-ins of 72 h -------------
    case(
        "weight_up_2_0_kg_in_24_h_is_weight_gain_fast",
        "amber",
        {"weight_gain_fast"},
        weight_kg=72.0,
        history=[earlier(24, weight_kg=70.0)],
    ),
    case(
        "weight_up_1_9_kg_in_24_h_is_green",
        "green",
        GREEN,
        weight_kg=71.9,
        history=[earlier(24, weight_kg=70.0)],
    ),
    case(
        "weight_up_2_0_kg_from_68_1_is_exact_not_float_rounded",
        "amber",
        {"weight_gain_fast"},
        weight_kg=70.1,
        history=[earlier(24, weight_kg=68.1)],
    ),
    case(
        "lowest_weight_exactly_72_h_before_counts",
        "amber",
        {"weight_gain_fast"},
        weight_kg=72.0,
        history=[earlier(72, weight_kg=70.0), earlier(24, weight_kg=71.0)],
    ),
    case(
        "lowest_weight_72_h_and_1_min_before_does_not_count",
        "green",
        GREEN,
        weight_kg=72.0,
        history=[earlier(72 + 1 / 60, weight_kg=70.0), earlier(24, weight_kg=71.0)],
    ),
    case("weight_on_first_check_in_has_no_gain", "green", GREEN, weight_kg=75.0),
    # --- appetite, nausea, swallowing --------------------------------------------------
    case("no_appetite_on_first_check_in_is_green", "green", GREEN, appetite="none"),
    case(
        "no_appetite_twice_in_a_row_is_appetite_lost",
        "amber",
        {"appetite_lost"},
        appetite="none",
        history=[earlier(24, appetite="none")],
    ),
    case(
        "no_appetite_after_reduced_is_green",
        "green",
        GREEN,
        appetite="none",
        history=[earlier(24, appetite="reduced")],
    ),
    case(
        "nausea_three_in_a_row_is_nausea_persistent",
        "amber",
        {"nausea_persistent"},
        nausea=True,
        history=[earlier(48, nausea=True), earlier(24, nausea=True)],
    ),
    case("nausea_twice_is_green", "green", GREEN, nausea=True, history=[earlier(24, nausea=True)]),
    case(
        "nausea_with_a_break_is_green",
        "green",
        GREEN,
        nausea=True,
        history=[earlier(72, nausea=True), earlier(48, nausea=False), earlier(24, nausea=True)],
    ),
    case("swallowing_difficulty_is_amber", "amber", {"swallowing"}, swallowing_difficulty=True),
    # --- wound and drain: 500 / 501 mL ---------------------------------------------------------
    case("wound_opened_is_wound_open", "red", {"wound_open"}, wound="opened"),
    case("wound_red_is_wound", "amber", {"wound"}, wound="red"),
    case("wound_discharge_is_wound", "amber", {"wound"}, wound="discharge"),
    case("bile_coloured_drain_is_bile_leak", "red", {"bile_leak"}, drain_output_ml=200.0, drain_bile_colored=True),
    case("drain_500_ml_is_green", "green", GREEN, drain_output_ml=500.0, drain_bile_colored=False),
    case("drain_501_ml_is_drain_high", "amber", {"drain_high"}, drain_output_ml=501.0, drain_bile_colored=False),
    case(
        "bile_leak_covers_drain_high",
        "red",
        {"bile_leak"},
        drain_output_ml=800.0,
        drain_bile_colored=True,
    ),
    case("patient_wants_contact_is_patient_concern", "amber", {"patient_concern"}, patient_urgent=True),
    # --- combinations ----------------------------------------------------------------------
    case(
        "several_ambers_make_one_finding_each",
        "amber",
        {"fever", "wound", "pain_rising", "patient_concern"},
        temperature_c=38.2,
        wound="red",
        abdominal_pain=5,
        patient_urgent=True,
    ),
    case(
        "a_red_does_not_hide_ambers_it_does_not_cover",
        "red",
        {"jaundice", "patient_concern", "fever"},
        jaundice=True,
        patient_urgent=True,
        temperature_c=38.1,
    ),
    case(
        "first_check_in_only_fires_what_needs_no_history",
        "amber",
        {"ascites"},
        abdominal_pain=4,
        abdominal_swelling="mild",
        leg_swelling="both",
        appetite="none",
        nausea=True,
    ),
    # --- late-entered check-ins: judged as history stood at taken_at ------------------------
    case(
        "a_check_in_taken_later_is_not_the_previous_one",
        "amber",
        {"pain_rising"},
        abdominal_pain=4,
        history=[earlier(24, abdominal_pain=1), earlier(-2, abdominal_pain=3)],
    ),
    case(
        "a_check_in_taken_later_does_not_make_a_run",
        "green",
        GREEN,
        leg_swelling="both",
        history=[earlier(24, leg_swelling="none"), earlier(-12, leg_swelling="both")],
    ),
    case(
        "a_fever_taken_later_is_not_an_earlier_fever",
        "amber",
        {"fever"},
        temperature_c=38.1,
        history=[earlier(-6, temperature_c=38.4)],
    ),
    case(
        "a_lower_weight_taken_later_is_not_in_the_window",
        "green",
        GREEN,
        weight_kg=72.0,
        history=[earlier(24, weight_kg=71.0), earlier(-1, weight_kg=69.0)],
    ),
    case(
        "a_check_in_at_the_same_moment_is_not_earlier",
        "green",
        GREEN,
        leg_swelling="both",
        history=[earlier(0, leg_swelling="both")],
    ),
    case(
        "history_given_out_of_order_is_sorted",
        "amber",
        {"leg_swelling"},
        leg_swelling="both",
        history=[earlier(24, leg_swelling="both"), earlier(48, leg_swelling="none")],
    ),
    # --- surveillance phase: short form ----------------------------------------------------
    short("surveillance_all_normal_is_green", "green", GREEN),
    short("surveillance_jaundice_is_red", "red", {"jaundice"}, jaundice=True),
    short("surveillance_severe_swelling_is_red", "red", {"ascites_severe"}, abdominal_swelling="severe"),
    short("surveillance_new_mild_swelling_is_ascites", "amber", {"ascites"}, abdominal_swelling="mild"),
    short("surveillance_pain_5_is_pain_rising", "amber", {"pain_rising"}, abdominal_pain=5),
    short("surveillance_pain_8_is_pain_severe", "red", {"pain_severe"}, abdominal_pain=8),
    short("surveillance_dark_urine_is_cholestasis", "amber", {"cholestasis"}, dark_urine=True),
    short("surveillance_jaundice_covers_cholestasis", "red", {"jaundice"}, jaundice=True, itching=True),
    short(
        "surveillance_no_appetite_twice_is_appetite_lost",
        "amber",
        {"appetite_lost"},
        appetite="none",
        history=[earlier_short(30, appetite="none")],
    ),
    short(
        "surveillance_weight_lost_5_0_percent_of_earliest_in_90_days",
        "amber",
        {"weight_loss_fast"},
        weight_kg=76.0,
        history=[earlier_short(60, weight_kg=80.0), earlier_short(30, weight_kg=78.0)],
    ),
    short(
        "surveillance_weight_lost_4_9_percent_of_earliest_is_green",
        "green",
        GREEN,
        weight_kg=76.1,
        history=[earlier_short(60, weight_kg=80.0), earlier_short(30, weight_kg=78.0)],
    ),
    short(
        "surveillance_earliest_check_in_exactly_90_days_before_counts",
        "amber",
        {"weight_loss_fast"},
        weight_kg=76.0,
        history=[earlier_short(90, weight_kg=80.0), earlier_short(30, weight_kg=78.0)],
    ),
    short(
        "surveillance_check_in_91_days_before_is_outside_the_window",
        "green",
        GREEN,
        weight_kg=76.0,
        history=[earlier_short(91, weight_kg=80.0), earlier_short(30, weight_kg=78.0)],
    ),
    short(
        "surveillance_weight_loss_severe_does_not_apply",
        "amber",
        {"weight_loss_fast"},
        weight_kg=70.0,
        history=[earlier_short(30, weight_kg=80.0)],
    ),
    short(
        "surveillance_does_not_compare_with_the_discharge_weight",
        "green",
        GREEN,
        baseline=90.0,
        weight_kg=80.0,
    ),
    short(
        "surveillance_judges_an_answer_the_short_form_does_not_ask",
        "red",
        {"fever_high"},
        temperature_c=38.6,
    ),
]


@pytest.mark.parametrize("clinical_case", CHECK_IN_CASES)
def test_check_in_gives_the_expected_level_and_rules(ruleset: RuleSet, clinical_case: Case) -> None:
    """H3: each rule fires exactly on its side of the clinical threshold, and
    covering removes only the ambers the contract says a red covers."""
    evaluation = ruleset.evaluate(
        EvaluationInput(
            answers=clinical_case.answers,
            taken_at=T0,
            phase=clinical_case.phase,
            day_since_discharge=clinical_case.day_since_discharge,
            day_since_surgery=clinical_case.day_since_discharge + 7,
            baseline_weight_kg=clinical_case.baseline_weight_kg,
            history=list(clinical_case.history),
            surgery_date=T0.date() - timedelta(days=clinical_case.day_since_discharge + 7),
        )
    )
    trace = "\n".join(evaluation.trace)
    assert set(evaluation.rule_ids) == clinical_case.fired, trace
    assert evaluation.level == clinical_case.level, trace


def test_the_table_covers_every_check_in_rule(ruleset: RuleSet) -> None:
    """H3: no check-in rule of the protocol is left without a clinical case that fires it."""
    fired: set[str] = set()
    for param in CHECK_IN_CASES:
        fired |= param.values[0].fired
    check_in_rules = set(ruleset.rule_ids_for(phase="acute")) | set(ruleset.rule_ids_for(phase="surveillance"))
    assert check_in_rules - fired == set()
    assert len(CHECK_IN_CASES) >= 70


# --- labs -------------------------------------------------------------------------------------

SURGERY = date(2025, 3, 1)


def lab(code: str, value: float, day: int, hour: int = 8) -> LabResult:
    """A result observed on ``day`` after surgery (day 0 = the day of surgery)."""
    return LabResult(
        code=code,
        value=value,
        observed_at=datetime.combine(SURGERY + timedelta(days=day), time(hour), tzinfo=UTC),
    )


@dataclass(frozen=True)
class LabCase:
    level: str
    fired: frozenset[str]
    labs: tuple[LabResult, ...]
    at: datetime | None = None
    codes: frozenset[str] | None = None
    surgery_date: date | None = SURGERY


def lab_case(
    case_id: str,
    level: str,
    fired: set[str] | frozenset[str],
    *labs: LabResult,
    at: datetime | None = None,
    codes: set[str] | None = None,
    surgery_date: date | None = SURGERY,
) -> Any:
    return pytest.param(
        LabCase(
            level,
            frozenset(fired),
            labs,
            at,
            frozenset(codes) if codes is not None else None,
            surgery_date,
        ),
        id=case_id,
    )


LAB_CASES = [
    # bilirubin and INR: day 4 vs 5, 50 vs 50.1, 1.7 vs 1.71
    lab_case("bilirubin_60_on_day_4_is_green", "green", GREEN, lab("bilirubin_umol_l", 60.0, 4)),
    lab_case(
        "bilirubin_60_on_day_5_is_bilirubin_rising",
        "amber",
        {"bilirubin_rising"},
        lab("bilirubin_umol_l", 60.0, 5),
    ),
    lab_case("bilirubin_50_on_day_5_is_green", "green", GREEN, lab("bilirubin_umol_l", 50.0, 5)),
    lab_case(
        "bilirubin_50_1_on_day_5_is_bilirubin_rising",
        "amber",
        {"bilirubin_rising"},
        lab("bilirubin_umol_l", 50.1, 5),
    ),
    lab_case("inr_1_7_on_day_5_is_green", "green", GREEN, lab("inr", 1.7, 5)),
    lab_case("inr_1_71_on_day_5_is_inr_high", "amber", {"inr_high"}, lab("inr", 1.71, 5)),
    lab_case("inr_1_9_on_day_4_is_green", "green", GREEN, lab("inr", 1.9, 4)),
    lab_case(
        "bilirubin_50_1_and_inr_1_71_on_day_5_is_phlf",
        "red",
        {"phlf_50_50", "bilirubin_rising", "inr_high"},
        lab("bilirubin_umol_l", 50.1, 5),
        lab("inr", 1.71, 5),
    ),
    lab_case(
        "bilirubin_and_inr_high_on_day_4_is_green",
        "green",
        GREEN,
        lab("bilirubin_umol_l", 80.0, 4),
        lab("inr", 2.0, 4),
    ),
    lab_case(
        "bilirubin_50_1_and_inr_1_7_is_only_bilirubin",
        "amber",
        {"bilirubin_rising"},
        lab("bilirubin_umol_l", 50.1, 5),
        lab("inr", 1.7, 5),
    ),
    lab_case(
        "phlf_needs_both_results_from_day_5",
        "amber",
        {"bilirubin_rising"},
        lab("bilirubin_umol_l", 60.0, 5),
        lab("inr", 1.8, 3),
    ),
    lab_case(
        "bilirubin_higher_on_two_results_in_a_row_is_rising",
        "amber",
        {"bilirubin_rising"},
        lab("bilirubin_umol_l", 20.0, 2),
        lab("bilirubin_umol_l", 25.0, 5),
        lab("bilirubin_umol_l", 30.0, 6),
    ),
    lab_case(
        "bilirubin_higher_once_is_green",
        "green",
        GREEN,
        lab("bilirubin_umol_l", 20.0, 2),
        lab("bilirubin_umol_l", 30.0, 5),
        lab("bilirubin_umol_l", 28.0, 6),
    ),
    lab_case(
        "bilirubin_rising_before_day_5_is_green",
        "green",
        GREEN,
        lab("bilirubin_umol_l", 20.0, 1),
        lab("bilirubin_umol_l", 25.0, 3),
        lab("bilirubin_umol_l", 30.0, 4),
    ),
    lab_case(
        "two_bilirubin_results_cannot_rise_twice",
        "green",
        GREEN,
        lab("bilirubin_umol_l", 20.0, 5),
        lab("bilirubin_umol_l", 25.0, 6),
    ),
    # transaminases: > 200 U/L (5 x ULN 40) after day 7
    lab_case("alt_201_on_day_8_is_transaminases_high", "amber", {"transaminases_high"}, lab("alt_u_l", 201.0, 8)),
    lab_case("alt_200_on_day_8_is_green", "green", GREEN, lab("alt_u_l", 200.0, 8)),
    lab_case("alt_250_on_day_7_is_green", "green", GREEN, lab("alt_u_l", 250.0, 7)),
    lab_case("ast_201_on_day_8_is_transaminases_high", "amber", {"transaminases_high"}, lab("ast_u_l", 201.0, 8)),
    # albumin < 25 g/L
    lab_case("albumin_24_9_is_albumin_low", "amber", {"albumin_low"}, lab("albumin_g_l", 24.9, 3)),
    lab_case("albumin_25_is_green", "green", GREEN, lab("albumin_g_l", 25.0, 3)),
    # CEA: > 5 and >= 30 % above previous, or >= 2 x the lowest since surgery
    lab_case(
        "cea_6_0_after_4_6_is_30_4_percent_up",
        "amber",
        {"cea_rising"},
        lab("cea_ng_ml", 4.6, 60),
        lab("cea_ng_ml", 6.0, 150),
    ),
    lab_case(
        "cea_6_0_after_4_7_is_27_7_percent_up_and_green",
        "green",
        GREEN,
        lab("cea_ng_ml", 4.7, 60),
        lab("cea_ng_ml", 6.0, 150),
    ),
    lab_case(
        "cea_exactly_30_0_percent_up_is_cea_rising",
        "amber",
        {"cea_rising"},
        lab("cea_ng_ml", 4.0, 60),
        lab("cea_ng_ml", 5.2, 150),
    ),
    lab_case(
        "cea_29_95_percent_up_rounds_half_up_to_30_0",
        "amber",
        {"cea_rising"},
        lab("cea_ng_ml", 4.0, 60),
        lab("cea_ng_ml", 5.198, 150),
    ),
    lab_case(
        "cea_5_0_is_not_above_5",
        "green",
        GREEN,
        lab("cea_ng_ml", 3.0, 60),
        lab("cea_ng_ml", 5.0, 150),
    ),
    lab_case(
        "cea_twice_the_lowest_since_surgery_is_cea_rising",
        "amber",
        {"cea_rising"},
        # Above the floor of 5 ng/mL (protocol v2), 15.6 % above the previous result.
        lab("cea_ng_ml", 2.6, 30),
        lab("cea_ng_ml", 4.5, 90),
        lab("cea_ng_ml", 5.2, 120),
    ),
    lab_case(
        "cea_just_under_twice_the_lowest_is_green",
        "green",
        GREEN,
        lab("cea_ng_ml", 2.0, 30),
        lab("cea_ng_ml", 3.5, 90),
        lab("cea_ng_ml", 3.9, 120),
    ),
    lab_case(
        "cea_before_surgery_is_not_the_lowest",
        "green",
        GREEN,
        lab("cea_ng_ml", 1.0, -10),
        lab("cea_ng_ml", 3.0, 30),
        lab("cea_ng_ml", 4.0, 120),
    ),
    lab_case("first_cea_result_has_nothing_to_rise_from", "green", GREEN, lab("cea_ng_ml", 12.0, 90)),
    # judging time, codes entered, missing surgery date
    lab_case(
        "results_after_the_judging_time_are_ignored",
        "green",
        GREEN,
        lab("bilirubin_umol_l", 30.0, 5),
        lab("bilirubin_umol_l", 70.0, 6),
        at=datetime.combine(SURGERY + timedelta(days=5), time(12), tzinfo=UTC),
    ),
    lab_case(
        "only_rules_reading_the_new_code_are_judged",
        "amber",
        {"albumin_low"},
        lab("bilirubin_umol_l", 60.0, 5),
        lab("albumin_g_l", 24.0, 6),
        codes={"albumin_g_l"},
    ),
    lab_case(
        "a_new_inr_judges_phlf_with_the_latest_bilirubin",
        "red",
        {"phlf_50_50", "inr_high"},
        lab("bilirubin_umol_l", 60.0, 5),
        lab("inr", 1.8, 5, hour=10),
        codes={"inr"},
    ),
    lab_case(
        "without_a_surgery_date_day_bound_rules_do_not_fire",
        "amber",
        {"albumin_low"},
        lab("bilirubin_umol_l", 60.0, 5),
        lab("albumin_g_l", 24.0, 6),
        surgery_date=None,
    ),
]


@pytest.mark.parametrize("clinical_case", LAB_CASES)
def test_lab_results_give_the_expected_level_and_rules(ruleset: RuleSet, clinical_case: LabCase) -> None:
    """H3: lab rules fire on their day and value boundaries, judged on lab entry."""
    at = clinical_case.at or max(result.observed_at for result in clinical_case.labs)
    evaluation = ruleset.evaluate_labs(
        labs=list(clinical_case.labs),
        at=at,
        phase="acute",
        surgery_date=clinical_case.surgery_date,
        codes=clinical_case.codes,
    )
    trace = "\n".join(evaluation.trace)
    assert set(evaluation.rule_ids) == clinical_case.fired, trace
    assert evaluation.level == clinical_case.level, trace


def test_the_lab_table_covers_every_lab_rule(ruleset: RuleSet) -> None:
    """H3: every lab rule has a case that fires it."""
    fired: set[str] = set()
    for param in LAB_CASES:
        fired |= param.values[0].fired
    assert set(ruleset.rule_ids_for(phase="acute", trigger="lab")) - fired == set()
