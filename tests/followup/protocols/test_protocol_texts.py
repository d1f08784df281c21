"""Patient-facing texts: advice with the clinic's number, SMS texts and keywords."""

from __future__ import annotations

import re

import pytest

from followup.protocols import load_protocol
from tests.factories import DEFAULT_PROTOCOL_DIR

LANGUAGES = ("en", "tr", "de", "ru", "uk", "az")
PHONE = "+90 530 819 14 96"


@pytest.fixture(scope="module")
def protocol():
    return load_protocol(DEFAULT_PROTOCOL_DIR)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_red_and_amber_advice_give_the_clinic_phone_in_every_language_h2(protocol, lang):
    for level in ("red", "amber"):
        text = protocol.advice(level, lang, clinic_phone=PHONE)
        assert PHONE in text
        assert "{" not in text


def test_english_advice_says_what_the_clinical_file_says(protocol):
    red = protocol.advice("red", "en", clinic_phone=PHONE)
    assert red.startswith(f"Call the clinic now at {PHONE}.")
    assert "nearest emergency department" in red
    assert "Do not wait for your next appointment" in red
    assert protocol.advice("amber", "en", clinic_phone=PHONE).startswith("A nurse will call you today.")
    assert "Monday 9 March" in protocol.advice("green", "en", next_check_in="Monday 9 March")


def test_advice_without_the_phone_number_is_refused_not_sent_with_a_placeholder(protocol):
    with pytest.raises(ValueError, match="clinic_phone"):
        protocol.advice("red", "tr")


def test_a_language_the_protocol_lacks_falls_back_to_its_first_language(protocol):
    assert protocol.advice("red", "fr", clinic_phone=PHONE) == protocol.advice("red", "en", clinic_phone=PHONE)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_help_reply_names_clinic_phone_and_how_to_stop(protocol, lang):
    text = protocol.sms_text("help", lang, clinic_name="Vigil Clinic", clinic_phone=PHONE)
    assert "Vigil Clinic" in text and PHONE in text
    stop_words = {word.upper() for word in protocol.keywords(lang).stop}
    assert any(word in stop_words for word in re.findall(r"[^\W\d_]+", text.upper()))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_keywords_named_in_sms_texts_are_keywords_of_that_language(protocol, lang):
    keywords = protocol.keywords(lang)
    known = {word.upper() for word in keywords.stop | keywords.start | keywords.help}
    for key in ("intro", "help", "stop", "start"):
        template = protocol.sms_template(key, lang)
        shouted = {word for word in re.findall(r"[^\W\d_]{3,}", template) if word.isupper() and word not in {"SMS"}}
        assert shouted, (key, lang)
        assert shouted <= known, (key, lang, shouted - known)


def test_carrier_words_apply_in_every_language(protocol):
    for lang in LANGUAGES:
        keywords = protocol.keywords(lang)
        assert {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"} <= keywords.stop
        assert "START" in keywords.start and "HELP" in keywords.help
    turkish = protocol.keywords("tr")
    assert {"DUR", "İPTAL"} <= turkish.stop
    assert "STOPP" not in turkish.stop  # German words are German
    merged = protocol.keywords()
    assert {"DUR", "STOPP", "СТОП", "DAYAN"} <= merged.stop
    assert set(merged.as_mapping()) == {"stop", "start", "help"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_sms_text_fills_with_its_values(protocol, lang):
    values = {
        "clinic_name": "Vigil Clinic",
        "clinic_phone": PHONE,
        "link": "https://vigil.example/c/abc",
        "example": "37,5",
        "options": "1 Ayşe, 2 Mehmet",
    }
    for key in protocol.sms_texts:
        text = protocol.sms_text(key, lang, **values)
        assert "{" not in text and "}" not in text, (key, lang)


def test_sms_question_texts_stay_short(protocol):
    # One UCS-2 segment is 70 characters; keep each question within two.
    for question in protocol.questions:
        for lang, text in question.sms.items():
            assert len(text) <= 140, (question.id, lang, len(text))


def test_example_numbers_use_the_decimal_comma_except_in_english(protocol):
    temperature = protocol.question("temperature_c")
    assert "37.5" in temperature.example["en"]
    for lang in LANGUAGES[1:]:
        assert "37,5" in temperature.example[lang]
