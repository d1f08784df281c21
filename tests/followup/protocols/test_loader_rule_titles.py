"""The rules' staff titles in every language (``rule_titles`` in protocol.yaml, issue
19): what an on-call page names the rule in the surgeon's language. Complete for every
rule, English the same as the rule's title, refused with file and entry otherwise;
optional for versions stored before the section existed (they read English)."""

from __future__ import annotations

import pytest

from followup.protocols import DEFAULT_DATA_DIR, ProtocolLoadError, load_protocol
from tests.factories import write_protocol


def test_every_rule_of_the_default_protocol_has_its_title_in_six_languages():
    protocol = load_protocol(DEFAULT_DATA_DIR / "post-hepatectomy")
    assert set(protocol.rule_titles) == {rule.id for rule in protocol.ruleset.rules}
    assert protocol.rule_title("jaundice", "tr") == "Sarılık"
    assert protocol.rule_title("jaundice", "de") == "Gelbsucht"
    assert protocol.rule_title("fever_high", "en") == "High fever"
    # A language the protocol does not declare reads its first (English).
    assert protocol.rule_title("jaundice", "fr") == "Jaundice"
    for rule in protocol.ruleset.rules:
        assert protocol.rule_titles[rule.id].texts["en"] == rule.title


def test_a_protocol_without_the_section_has_no_translated_titles(tmp_path):
    def without(data):
        del data["rule_titles"]

    protocol = load_protocol(write_protocol(tmp_path / "p", without))
    assert protocol.rule_title("jaundice", "tr") is None


def _refused(tmp_path, mutate=None, mutate_rules=None) -> ProtocolLoadError:
    with pytest.raises(ProtocolLoadError) as error:
        load_protocol(write_protocol(tmp_path / "p", mutate, mutate_rules=mutate_rules))
    assert error.value.file.endswith("protocol.yaml")
    return error.value


def test_a_rule_without_titles_is_refused(tmp_path):
    def missing(data):
        del data["rule_titles"]["jaundice"]

    error = _refused(tmp_path, missing)
    assert error.entry == "rule_titles"
    assert "missing the titles of rule 'jaundice'" in error.reason


def test_a_missing_translation_is_refused(tmp_path):
    def missing(data):
        del data["rule_titles"]["jaundice"]["text"]["az"]

    error = _refused(tmp_path, missing)
    assert error.entry == "rule_titles.jaundice.text"
    assert "missing translation for 'az'" in error.reason


def test_english_that_differs_from_the_rules_title_is_refused(tmp_path):
    def renamed(rules):
        next(rule for rule in rules if rule["id"] == "jaundice")["title"] = "Yellow skin or eyes"

    error = _refused(tmp_path, mutate_rules=renamed)
    assert error.entry == "rule_titles.jaundice.text.en"
    assert "must be the rule's title 'Yellow skin or eyes'" in error.reason


def test_titles_of_a_rule_that_does_not_exist_are_refused(tmp_path):
    def extra(data):
        data["rule_titles"]["no_such_rule"] = data["rule_titles"]["jaundice"]

    error = _refused(tmp_path, extra)
    assert error.entry == "rule_titles.no_such_rule"
    assert "no rule has this id" in error.reason
