"""Check-in answers: strict JSON types, inclusive ranges and skip logic (hazard H4)."""

from __future__ import annotations

import json
import math

import pytest

from followup.protocols import load_protocol, questions_to_ask, validate_answers
from tests.factories import ABSENT, DEFAULT_PROTOCOL_DIR, green_answers


@pytest.fixture(scope="module")
def protocol():
    return load_protocol(DEFAULT_PROTOCOL_DIR)


def acute_answers(**changes):
    """A complete, unremarkable acute check-in (no drain, no pulse device): the kit's
    green set with a reduced appetite (``...`` leaves an answer out)."""
    changes = {"appetite": "reduced", "weight_kg": 71.4, **changes}
    return green_answers(**{key: ABSENT if value is ... else value for key, value in changes.items()})


def check(protocol, answers, *, phase="acute", drain=False, pulse=False):
    return validate_answers(protocol, answers, phase=phase, drain_at_discharge=drain, has_pulse_device=pulse)


def test_a_complete_acute_check_in_is_clean(protocol):
    cleaned, errors = check(protocol, acute_answers())
    assert errors == {}
    assert cleaned == acute_answers()
    assert list(cleaned) == [q.id for q in protocol.questions if q.id in cleaned]


def test_380_for_a_temperature_is_rejected_naming_the_limits(protocol):
    cleaned, errors = check(protocol, acute_answers(temperature_c=380))
    assert errors == {"temperature_c": ["Must be between 34.0 and 43.0 °C."]}
    assert "temperature_c" not in cleaned


@pytest.mark.parametrize("value", [34.0, 34, 43.0, 38.5])
def test_temperature_range_is_inclusive(protocol, value):
    cleaned, errors = check(protocol, acute_answers(temperature_c=value))
    assert errors == {}
    assert cleaned["temperature_c"] == value
    assert isinstance(cleaned["temperature_c"], float)


@pytest.mark.parametrize("value", [33.9, 43.1, -1])
def test_temperature_just_outside_the_range_is_rejected(protocol, value):
    _, errors = check(protocol, acute_answers(temperature_c=value))
    assert list(errors) == ["temperature_c"]


def test_an_unknown_question_is_an_error_under_its_id(protocol):
    _, errors = check(protocol, acute_answers(temprature_c=38.0))
    assert errors == {"temprature_c": ["Unknown question."]}


def test_a_number_sent_as_text_is_rejected(protocol):
    _, errors = check(protocol, acute_answers(temperature_c="38.5"))
    assert errors == {"temperature_c": ["Must be a number, not text."]}


def test_true_for_a_number_is_rejected_although_python_bool_is_an_int(protocol):
    _, errors = check(protocol, acute_answers(temperature_c=True, vomiting_episodes_24h=False))
    assert errors == {
        "temperature_c": ["Must be a number, not true or false."],
        "vomiting_episodes_24h": ["Must be a number, not true or false."],
    }


def test_a_fraction_for_a_scale_or_integer_is_rejected(protocol):
    _, errors = check(protocol, acute_answers(abdominal_pain=7.5, bowel_movement_days=1.5))
    assert errors == {
        "abdominal_pain": ["Must be a whole number."],
        "bowel_movement_days": ["Must be a whole number."],
    }


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_rejected(protocol, value):
    _, errors = check(protocol, acute_answers(weight_kg=value, abdominal_pain=value))
    assert errors == {
        "abdominal_pain": ["Must be a finite number."],
        "weight_kg": ["Must be a finite number."],
    }


def test_nan_parsed_from_json_text_is_rejected(protocol):
    answers = json.loads(json.dumps(acute_answers()).replace("36.8", "NaN"))
    _, errors = check(protocol, answers)
    assert errors == {"temperature_c": ["Must be a finite number."]}


def test_a_missing_required_answer_is_named(protocol):
    _, errors = check(protocol, acute_answers(jaundice=..., wound=...))
    assert errors == {
        "jaundice": ["This answer is required."],
        "wound": ["This answer is required."],
    }


def test_null_counts_as_not_answered(protocol):
    _, errors = check(protocol, acute_answers(jaundice=None))
    assert errors == {"jaundice": ["This answer is required."]}
    cleaned, errors = check(protocol, acute_answers(heart_rate_bpm=None), pulse=True)
    assert errors == {}
    assert "heart_rate_bpm" not in cleaned


def test_a_whole_float_for_an_integer_counts_as_that_integer(protocol):
    cleaned, errors = check(
        protocol, acute_answers(bowel_movement_days=3.0, abdominal_pain=4.0, vomiting_episodes_24h=0.0)
    )
    assert errors == {}
    assert cleaned["bowel_movement_days"] == 3 and type(cleaned["bowel_movement_days"]) is int
    assert cleaned["abdominal_pain"] == 4 and type(cleaned["abdominal_pain"]) is int


def test_every_bad_answer_is_named_at_once(protocol):
    answers = acute_answers(
        temperature_c=380,
        unknown_thing=1,
        weight_kg="70",
        abdominal_pain=7.5,
        chills="yes",
        wound="Red",
        patient_urgent=...,
    )
    _, errors = check(protocol, answers)
    assert errors == {
        "temperature_c": ["Must be between 34.0 and 43.0 °C."],
        "chills": ["Must be true or false."],
        "abdominal_pain": ["Must be a whole number."],
        "weight_kg": ["Must be a number, not text."],
        "wound": ["Must be one of: normal, red, discharge, opened."],
        "patient_urgent": ["This answer is required."],
        "unknown_thing": ["Unknown question."],
    }


@pytest.mark.parametrize("value", [1, 0, "true", None, []])
def test_a_boolean_takes_only_true_or_false(protocol, value):
    _, errors = check(protocol, acute_answers(chills=value))
    expected = ["This answer is required."] if value is None else ["Must be true or false."]
    assert errors == {"chills": expected}


@pytest.mark.parametrize("value", ["Mild", " mild", "MILD", 2, True])
def test_a_choice_takes_the_exact_lower_case_word(protocol, value):
    _, errors = check(protocol, acute_answers(abdominal_swelling=value))
    assert errors == {"abdominal_swelling": ["Must be one of: none, mild, severe."]}


@pytest.mark.parametrize("answers", [[], "temperature_c=38", None, 38.5, [("jaundice", True)]])
def test_answers_that_are_not_an_object_are_a_non_field_error(protocol, answers):
    cleaned, errors = check(protocol, answers)
    assert cleaned == {}
    assert list(errors) == ["non_field_errors"]


def test_other_range_messages_name_their_unit(protocol):
    _, errors = check(
        protocol,
        acute_answers(vomiting_episodes_24h=31, abdominal_pain=11, weight_kg=20, heart_rate_bpm=250),
        pulse=True,
    )
    assert errors == {
        "abdominal_pain": ["Must be between 0 and 10."],
        "vomiting_episodes_24h": ["Must be between 0 and 30 episodes."],
        "weight_kg": ["Must be between 25.0 and 300.0 kg."],
        "heart_rate_bpm": ["Must be between 30 and 220 beats/min."],
    }


# --- skip logic and required-ness -------------------------------------------------


def test_drain_questions_are_required_for_an_episode_with_a_drain(protocol):
    _, errors = check(protocol, acute_answers(), drain=True)
    assert errors == {
        "drain_output_ml": ["This answer is required."],
        "drain_bile_colored": ["This answer is required."],
    }
    cleaned, errors = check(protocol, acute_answers(drain_output_ml=120, drain_bile_colored=False), drain=True)
    assert errors == {}
    assert cleaned["drain_output_ml"] == 120.0


def test_drain_answers_without_a_drain_are_accepted_and_kept(protocol):
    cleaned, errors = check(protocol, acute_answers(drain_output_ml=600, drain_bile_colored=True))
    assert errors == {}
    assert cleaned["drain_output_ml"] == 600.0
    assert cleaned["drain_bile_colored"] is True


def test_fluids_kept_down_is_required_after_vomiting(protocol):
    _, errors = check(protocol, acute_answers(vomiting_episodes_24h=1))
    assert errors == {"fluids_kept_down": ["This answer is required."]}
    _, errors = check(protocol, acute_answers(vomiting_episodes_24h=1, fluids_kept_down=False))
    assert errors == {}


def test_fluids_kept_down_is_not_required_without_vomiting_but_kept_if_given(protocol):
    cleaned, errors = check(protocol, acute_answers(vomiting_episodes_24h=0))
    assert errors == {}
    cleaned, errors = check(protocol, acute_answers(vomiting_episodes_24h=0, fluids_kept_down=True))
    assert errors == {}
    assert cleaned["fluids_kept_down"] is True


def test_an_invalid_vomiting_answer_does_not_add_a_second_error(protocol):
    _, errors = check(protocol, acute_answers(vomiting_episodes_24h="2"))
    assert errors == {"vomiting_episodes_24h": ["Must be a number, not text."]}


def test_heart_rate_stays_optional_even_with_a_pulse_device(protocol):
    _, errors = check(protocol, acute_answers(), pulse=True)
    assert errors == {}
    cleaned, errors = check(protocol, acute_answers(heart_rate_bpm=88.0), pulse=False)
    assert errors == {}
    assert cleaned["heart_rate_bpm"] == 88


def test_a_surveillance_check_in_requires_only_the_short_form(protocol):
    answers = {
        "jaundice": False,
        "abdominal_pain": 0,
        "right_upper_pain": False,
        "abdominal_swelling": "none",
        "appetite": "normal",
        "weight_kg": 74.0,
        "dark_urine": False,
        "itching": False,
        "patient_urgent": False,
    }
    cleaned, errors = check(protocol, answers, phase="surveillance")
    assert errors == {}
    del answers["weight_kg"]
    _, errors = check(protocol, answers, phase="surveillance")
    assert errors == {"weight_kg": ["This answer is required."]}
    # An acute question answered in surveillance is a known question: kept and judged.
    cleaned, errors = check(protocol, {**answers, "weight_kg": 74.0, "temperature_c": 38.2}, phase="surveillance")
    assert errors == {}
    assert cleaned["temperature_c"] == 38.2


def test_an_unknown_phase_is_a_programming_error(protocol):
    with pytest.raises(ValueError, match="unknown phase"):
        check(protocol, {}, phase="chronic")


# --- the SMS conversation's next questions ----------------------------------------------


def ids(questions):
    return [q.id for q in questions]


def test_questions_to_ask_follow_the_form_and_skip_what_is_not_asked(protocol):
    remaining = ids(questions_to_ask(protocol, "acute", {}, False, False))
    assert remaining[0] == "temperature_c"
    assert "fluids_kept_down" not in remaining  # depends on the vomiting answer, still to come
    assert "heart_rate_bpm" not in remaining
    assert "drain_output_ml" not in remaining and "drain_bile_colored" not in remaining
    assert len(remaining) == 21


def test_questions_to_ask_apply_skip_logic_in_order_as_answers_arrive(protocol):
    so_far = {"temperature_c": 37.0, "chills": False, "vomiting_episodes_24h": 2}
    remaining = ids(questions_to_ask(protocol, "acute", so_far, True, True))
    assert remaining[:2] == ["jaundice", "dark_urine"]
    assert remaining.index("fluids_kept_down") < remaining.index("vomit_blood")
    assert "heart_rate_bpm" in remaining
    assert remaining[-3:] == ["drain_output_ml", "drain_bile_colored", "patient_urgent"]
    none_vomited = ids(questions_to_ask(protocol, "acute", {"vomiting_episodes_24h": 0}, False, False))
    assert "fluids_kept_down" not in none_vomited


def test_questions_to_ask_leave_out_answered_and_skipped_questions(protocol):
    answered = {q.id: None for q in protocol.phase_questions("surveillance")[:8]}
    assert ids(questions_to_ask(protocol, "surveillance", answered, False, False)) == ["patient_urgent"]
    remaining = questions_to_ask(protocol, "acute", {}, False, True, skipped={"heart_rate_bpm"})
    assert "heart_rate_bpm" not in ids(remaining)
