"""Loading the protocol files: the default protocol, and broken ones failing loudly."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from followup.protocols import DEFAULT_DATA_DIR, ProtocolLoadError, load_all, load_protocol
from tests.factories import DEFAULT_PROTOCOL_DIR, question, write_protocol

LANGUAGES = ("en", "tr", "de", "ru", "uk", "az")

# The clinical contract (shared/clinical/post-hepatectomy.md, "Questions"):
# id, type, min, max, choices, required when asked, skip logic.
ACUTE_QUESTIONS: list[tuple[str, str, Any, Any, Any, bool, Any]] = [
    ("temperature_c", "number", 34.0, 43.0, None, True, None),
    ("chills", "boolean", None, None, None, True, None),
    ("jaundice", "boolean", None, None, None, True, None),
    ("dark_urine", "boolean", None, None, None, True, None),
    ("itching", "boolean", None, None, None, True, None),
    ("abdominal_pain", "scale", 0, 10, None, True, None),
    ("right_upper_pain", "boolean", None, None, None, True, None),
    ("abdominal_swelling", "choice", None, None, ["none", "mild", "severe"], True, None),
    ("nausea", "boolean", None, None, None, True, None),
    ("vomiting_episodes_24h", "integer", 0, 30, None, True, None),
    (
        "fluids_kept_down",
        "boolean",
        None,
        None,
        None,
        True,
        {"question": "vomiting_episodes_24h", "op": ">=", "value": 1},
    ),
    ("vomit_blood", "boolean", None, None, None, True, None),
    ("black_stools", "boolean", None, None, None, True, None),
    ("bowel_movement_days", "integer", 0, 14, None, True, None),
    ("appetite", "choice", None, None, ["normal", "reduced", "none"], True, None),
    ("weight_kg", "number", 25.0, 300.0, None, True, None),
    ("heart_rate_bpm", "integer", 30, 220, None, False, {"flag": "has_pulse_device"}),
    ("confusion", "boolean", None, None, None, True, None),
    ("shortness_of_breath", "boolean", None, None, None, True, None),
    ("leg_swelling", "choice", None, None, ["none", "both", "one"], True, None),
    ("swallowing_difficulty", "boolean", None, None, None, True, None),
    ("wound", "choice", None, None, ["normal", "red", "discharge", "opened"], True, None),
    ("drain_output_ml", "number", 0, 5000, None, True, {"flag": "drain_at_discharge"}),
    ("drain_bile_colored", "boolean", None, None, None, True, {"flag": "drain_at_discharge"}),
    ("patient_urgent", "boolean", None, None, None, True, None),
]
SURVEILLANCE_FORM = (
    "jaundice",
    "abdominal_pain",
    "right_upper_pain",
    "abdominal_swelling",
    "appetite",
    "weight_kg",
    "dark_urine",
    "itching",
    "patient_urgent",
)


@pytest.fixture(scope="module")
def protocol():
    return load_protocol(DEFAULT_PROTOCOL_DIR)


def test_default_protocol_loads_with_its_meta(protocol):
    assert protocol.slug == "post-hepatectomy"
    assert isinstance(protocol.version, str) and protocol.version
    assert protocol.languages == LANGUAGES
    assert re.fullmatch(r"[0-9a-f]{64}", protocol.content_hash)
    assert protocol.quiet_hours.as_api_dict() == {"start": "21:00", "end": "08:00"}


def test_default_protocol_has_the_clinical_questions_in_order(protocol):
    actual = [
        (
            q.id,
            q.type,
            q.min,
            q.max,
            list(q.choice_values) or None,
            q.required,
            q.ask_when.as_api_dict() if q.ask_when else None,
        )
        for q in protocol.questions
    ]
    assert actual == ACUTE_QUESTIONS


def test_default_protocol_has_the_surveillance_short_form(protocol):
    assert protocol.surveillance_question_ids == SURVEILLANCE_FORM
    assert [q.id for q in protocol.phase_questions("surveillance")] == list(SURVEILLANCE_FORM)


def test_every_patient_text_is_translated_and_marked_draft_until_reviewed_h6(protocol):
    for q in protocol.questions:
        for texts in (q.text, q.sms, q.example):
            assert tuple(texts) == LANGUAGES, q.id
            assert all(texts[lang].strip() for lang in LANGUAGES), q.id
        assert dict(q.review) == dict.fromkeys(LANGUAGES, "draft"), q.id
        for choice in q.choices:
            assert tuple(choice.labels) == LANGUAGES, (q.id, choice.value)
    for group in (protocol.advice_texts, protocol.sms_texts):
        for key, text in group.items():
            assert tuple(text.texts) == LANGUAGES, key
            assert dict(text.review) == dict.fromkeys(LANGUAGES, "draft"), key


def test_default_protocol_compiles_its_rules(protocol):
    assert "fever_high" in protocol.ruleset
    assert protocol.ruleset.version == protocol.version
    assert len(protocol.raw_rules) == len(protocol.ruleset)


def test_a_protocol_loads_from_its_file_path_too():
    assert load_protocol(DEFAULT_PROTOCOL_DIR / "protocol.yaml").slug == "post-hepatectomy"


def test_load_all_finds_the_default_protocol_by_slug():
    protocols = load_all(DEFAULT_DATA_DIR)
    assert list(protocols) == ["post-hepatectomy"]


def test_load_all_refuses_a_directory_named_unlike_its_slug(tmp_path):
    write_protocol(tmp_path / "copy-of-protocol")
    with pytest.raises(ProtocolLoadError) as caught:
        load_all(tmp_path)
    assert "copy-of-protocol" in str(caught.value)
    assert "slug" in str(caught.value)


def test_content_hash_is_stable_and_changes_with_content_not_comments(tmp_path):
    first = load_protocol(write_protocol(tmp_path / "a"))
    same = load_protocol(write_protocol(tmp_path / "b"))
    assert first.content_hash == same.content_hash

    commented = tmp_path / "c"
    write_protocol(commented)
    path = commented / "protocol.yaml"
    path.write_text("# reviewed by Dr. A\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_protocol(commented).content_hash == first.content_hash

    def reword(data):
        question(data, "jaundice")["text"]["tr"] = "Gözleriniz veya cildiniz sarardı mı?"

    assert load_protocol(write_protocol(tmp_path / "d", reword)).content_hash != first.content_hash

    def retune(rules):
        rule = next(r for r in rules if r["id"] == "drain_high")
        rule["when"]["answer"] = "drain_output_ml"
        rule["when"][">"] = 400

    assert load_protocol(write_protocol(tmp_path / "e", mutate_rules=retune)).content_hash != first.content_hash


def test_api_dict_holds_questions_schedule_and_rules_with_the_version(protocol):
    api = protocol.as_api_dict()
    json.dumps(api)  # JSON-safe
    assert api["version"] == protocol.version
    temperature = api["questions"][0]
    assert temperature["id"] == "temperature_c"
    assert temperature["range"] == {"min": 34.0, "max": 43.0}
    assert temperature["unit"] == "°C"
    assert set(temperature["text"]) == set(LANGUAGES)
    assert temperature["review_status"]["tr"] == "draft"
    swelling = next(q for q in api["questions"] if q["id"] == "abdominal_swelling")
    assert [c["value"] for c in swelling["choices"]] == ["none", "mild", "severe"]
    assert swelling["range"] is None
    assert api["forms"]["surveillance"] == list(SURVEILLANCE_FORM)
    assert api["schedule"]["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    assert {rule["id"] for rule in api["rules"]} >= {"fever_high", "jaundice", "bile_leak"}


# --------------------------------------------------------------------------
# Broken protocols: the error names the file, the entry and the reason.
# --------------------------------------------------------------------------


def _set_type(data):
    question(data, "temperature_c")["type"] = "float"


def _duplicate_id(data):
    question(data, "chills")["id"] = "temperature_c"


def _drop_text_translation(data):
    del question(data, "jaundice")["text"]["tr"]


def _drop_sms_translation(data):
    del question(data, "wound")["sms"]["az"]


def _drop_choice_label(data):
    question(data, "wound")["choices"][1]["label"].pop("uk")


def _drop_advice_translation(data):
    del data["advice"]["red"]["text"]["de"]


def _drop_phone_from_red_advice(data):
    data["advice"]["red"]["text"]["ru"] = "Позвоните в клинику прямо сейчас."


def _min_above_max(data):
    question(data, "temperature_c")["min"] = 50.0


def _choice_without_choices(data):
    del question(data, "wound")["choices"]


def _unknown_question_key(data):
    question(data, "temperature_c")["maximum"] = 43.0


def _unknown_top_key(data):
    data["question"] = []


def _skip_logic_unknown_question(data):
    question(data, "fluids_kept_down")["ask_when"]["question"] = "vomiting_count"


def _skip_logic_later_question(data):
    question(data, "chills")["ask_when"] = {"question": "nausea", "op": "==", "value": True}


def _skip_logic_unknown_flag(data):
    question(data, "drain_output_ml")["ask_when"] = {"flag": "has_drain"}


def _surveillance_unknown_question(data):
    data["surveillance_form"][2] = "right_pain"


def _schedule_range_backwards(data):
    data["schedule"]["entries"][1]["days"] = {"from": 30, "to": 16, "every": 2}


def _schedule_unknown_kind(data):
    data["schedule"]["entries"][4]["kind"] = "video_call"


def _schedule_two_ranges(data):
    data["schedule"]["entries"][0]["month"] = 1


def _schedule_bad_weekday(data):
    data["schedule"]["entries"][2]["days"]["weekdays"] = ["mon", "thursday"]


def _schedule_overlapping_bands(data):
    data["schedule"]["entries"][1]["days"]["from"] = 14


def _schedule_check_in_in_quiet_hours(data):
    data["schedule"]["entries"][0]["time"] = "22:30"


def _version_not_text(data):
    data["version"] = 2026


def _keyword_meaning_two_things(data):
    data["keywords"]["de"]["start"].append("QUIT")


BROKEN: list[tuple[Any, str, str]] = [
    (_set_type, "questions[0] (temperature_c).type", "unknown question type 'float'"),
    (_duplicate_id, "questions[1] (temperature_c)", "duplicate question id 'temperature_c'"),
    (_drop_text_translation, "questions[2] (jaundice).text", "missing translation for 'tr'"),
    (_drop_sms_translation, "questions[21] (wound).sms", "missing translation for 'az'"),
    (
        _drop_choice_label,
        "questions[21] (wound).choices[1] (red).label",
        "missing translation for 'uk'",
    ),
    (_drop_advice_translation, "advice.red.text", "missing translation for 'de'"),
    (_drop_phone_from_red_advice, "advice.red.text.ru", "must use {clinic_phone}"),
    (_min_above_max, "questions[0] (temperature_c)", "min 50.0 is greater than max 43.0"),
    (_choice_without_choices, "questions[21] (wound)", "a choice question needs 'choices'"),
    (_unknown_question_key, "questions[0] (temperature_c)", "unknown key 'maximum'"),
    (_unknown_top_key, "", "unknown key 'question'"),
    (
        _skip_logic_unknown_question,
        "questions[10] (fluids_kept_down).ask_when.question",
        "unknown question 'vomiting_count'",
    ),
    (
        _skip_logic_later_question,
        "questions[1] (chills).ask_when.question",
        "not asked before 'chills'",
    ),
    (_skip_logic_unknown_flag, "questions[22] (drain_output_ml).ask_when.flag", "unknown flag"),
    (_surveillance_unknown_question, "surveillance_form[2]", "unknown question 'right_pain'"),
    (_schedule_range_backwards, "schedule.entries[1] (check_in).days", "'from' 30 is after 'to' 16"),
    (_schedule_unknown_kind, "schedule.entries[4] (video_call).kind", "unknown kind 'video_call'"),
    (_schedule_two_ranges, "schedule.entries[0] (check_in)", "give exactly one of"),
    (_schedule_bad_weekday, "schedule.entries[2] (check_in).days.weekdays", "'thursday'"),
    (_schedule_overlapping_bands, "schedule.entries[1] (check_in)", "day 14 is also planned"),
    (_schedule_check_in_in_quiet_hours, "schedule.entries[0] (check_in).time", "quiet hours"),
    (_version_not_text, "version", "expected a version string"),
    (_keyword_meaning_two_things, "keywords.de.start", "also a STOP word"),
]


@pytest.mark.parametrize(
    ("mutate", "entry", "reason"), BROKEN, ids=[mutate.__name__.strip("_") for mutate, _, _ in BROKEN]
)
def test_a_broken_protocol_fails_naming_file_entry_and_reason(tmp_path, mutate, entry, reason):
    directory = write_protocol(tmp_path / "post-hepatectomy", mutate)
    with pytest.raises(ProtocolLoadError) as caught:
        load_protocol(directory)
    error = caught.value
    assert error.file == str(directory / "protocol.yaml")
    assert (error.entry or "") == entry
    assert reason in error.reason
    assert str(error).startswith(f"{directory / 'protocol.yaml'}: ")


def test_a_rule_naming_an_unknown_question_fails_naming_the_rules_file_and_rule(tmp_path):
    def misspell(rules):
        rules.append(
            {
                "id": "fever_typo",
                "title": "Fever (typo)",
                "severity": "amber",
                "action": "nurse_call_today",
                "advice": "amber",
                "source": ["S1"],
                "phases": ["acute"],
                "when": {"answer": "temprature_c", ">=": 38.0},
            }
        )

    directory = write_protocol(tmp_path / "post-hepatectomy", mutate_rules=misspell)
    with pytest.raises(ProtocolLoadError) as caught:
        load_protocol(directory)
    error = caught.value
    assert error.file == str(directory / "rules.yaml")
    assert error.entry == "rule 'fever_typo'"
    assert "temprature_c" in error.reason


def test_a_rule_judging_a_question_with_the_wrong_type_fails(tmp_path):
    def compare_choice_with_number(rules):
        rule = next(r for r in rules if r["id"] == "wound_open")
        rule["when"] = {"answer": "wound", ">=": 3}

    directory = write_protocol(tmp_path / "post-hepatectomy", mutate_rules=compare_choice_with_number)
    with pytest.raises(ProtocolLoadError) as caught:
        load_protocol(directory)
    assert caught.value.entry == "rule 'wound_open'"
    assert str(caught.value).startswith(str(directory / "rules.yaml"))


def test_a_rule_pointing_at_an_advice_text_that_does_not_exist_fails(tmp_path):
    def unknown_advice(rules):
        next(r for r in rules if r["id"] == "fever")["advice"] = "orange"

    directory = write_protocol(tmp_path / "post-hepatectomy", mutate_rules=unknown_advice)
    with pytest.raises(ProtocolLoadError, match=r"rule 'fever': advice 'orange'"):
        load_protocol(directory)


def test_a_repeated_key_is_an_error_not_a_silent_override(tmp_path):
    directory = write_protocol(tmp_path / "post-hepatectomy")
    path = directory / "protocol.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("slug: post-hepatectomy\n", "slug: post-hepatectomy\nslug: other\n"), encoding="utf-8")
    with pytest.raises(ProtocolLoadError, match=r"line 2, column 1: invalid YAML: duplicate key 'slug'"):
        load_protocol(directory)


def test_yes_no_and_clock_times_are_not_read_as_booleans_or_numbers(tmp_path):
    # YAML 1.1 reads NO as false and 21:00 as 1260; the loader keeps them as text.
    directory = write_protocol(tmp_path / "post-hepatectomy")
    path = directory / "protocol.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("start: '21:00'", "start: 21:00")
    assert "start: 21:00" in text
    path.write_text(text, encoding="utf-8")
    protocol = load_protocol(directory)
    assert protocol.quiet_hours.start.hour == 21


def test_missing_rules_file_is_named(tmp_path):
    directory = write_protocol(tmp_path / "post-hepatectomy")
    (directory / "rules.yaml").unlink()
    with pytest.raises(ProtocolLoadError, match=r"rules\.yaml: file not found"):
        load_protocol(directory)


def test_invalid_yaml_is_reported_with_its_line(tmp_path):
    directory = Path(tmp_path / "post-hepatectomy")
    write_protocol(directory)
    (directory / "protocol.yaml").write_text("slug: [unclosed\n", encoding="utf-8")
    with pytest.raises(ProtocolLoadError, match=r"protocol\.yaml: line \d+, column \d+: invalid YAML"):
        load_protocol(directory)


def test_loading_the_same_files_twice_gives_equal_hashable_definitions(protocol):
    again = load_protocol(DEFAULT_PROTOCOL_DIR)
    assert again == protocol
    assert len({again, protocol}) == 1
    assert {protocol.question("wound"), again.question("wound")} == {protocol.question("wound")}


def test_a_value_that_is_not_plain_data_is_refused(tmp_path):
    directory = write_protocol(tmp_path / "post-hepatectomy")
    path = directory / "rules.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "- !!binary aGVsbG8=\n", encoding="utf-8")
    with pytest.raises(ProtocolLoadError) as caught:
        load_protocol(directory)
    assert caught.value.file == str(path)
