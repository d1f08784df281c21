"""The reply corpora: how patients really answer, in each of the six languages (H16).

Every ``understood`` entry of ``tests/followup/sms/corpus/<lang>.yaml`` must be read as its
``expect`` (same type: a bool is not an int), every ``refused`` entry must be
refused (H4: a reply that could mean two things is asked again, never guessed).
The questions are those of the real protocol, the words its answer vocabulary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from followup.protocols import DEFAULT_DATA_DIR, ProtocolDefinition, load_protocol
from followup.sms.reading import ReplyNotUnderstood, reply_read
from followup.sms.vocabulary import LANGUAGES, AnswerVocabulary, vocabulary_for

CORPUS_DIR = Path(__file__).parent / "corpus"
SLUG = "post-hepatectomy"
MIN_UNDERSTOOD = 60
MIN_REFUSED = 30


def _corpus(language: str) -> dict[str, Any]:
    path = CORPUS_DIR / f"{language}.yaml"
    if not path.exists():
        return {"language": language, "understood": [], "refused": []}
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


CORPORA: dict[str, dict[str, Any]] = {language: _corpus(language) for language in LANGUAGES}


def _cases(section: str) -> list[Any]:
    return [
        pytest.param(language, entry, id=f"{language}-{section}-{number:03d}")
        for language, corpus in CORPORA.items()
        for number, entry in enumerate(corpus.get(section) or [], start=1)
    ]


@pytest.fixture(scope="module")
def protocol() -> ProtocolDefinition:
    return load_protocol(DEFAULT_DATA_DIR / SLUG)


@pytest.fixture(scope="module")
def vocabulary() -> AnswerVocabulary:
    return vocabulary_for(SLUG)


@pytest.mark.parametrize(("language", "entry"), _cases("understood"))
def test_understood_reply_is_read_as_expected(
    language: str, entry: dict[str, Any], protocol: ProtocolDefinition, vocabulary: AnswerVocabulary
) -> None:
    question = protocol.question(entry["q"])
    expected = entry["expect"]
    if question.type == "number" and isinstance(expected, int) and not isinstance(expected, bool):
        pytest.fail("a number question's expectation must be written as a float (72.0)")
    answer = reply_read(str(entry["reply"]), question=question, language=language, vocabulary=vocabulary)
    assert answer == expected
    assert type(answer) is type(expected)


@pytest.mark.parametrize(("language", "entry"), _cases("refused"))
def test_refused_reply_is_not_read(
    language: str, entry: dict[str, Any], protocol: ProtocolDefinition, vocabulary: AnswerVocabulary
) -> None:
    question = protocol.question(entry["q"])
    try:
        answer = reply_read(str(entry["reply"]), question=question, language=language, vocabulary=vocabulary)
    except ReplyNotUnderstood as refused:
        reason = refused.reason
    else:
        pytest.fail(f"read as {answer!r}; must be refused ({entry.get('why')})")
    assert reason
    reply = str(entry["reply"]).strip()
    if len(reply) >= 4:
        assert reply not in reason  # H13


@pytest.mark.parametrize("language", LANGUAGES)
def test_corpus_is_large_enough_and_covers_every_choice(language: str, protocol: ProtocolDefinition) -> None:
    corpus = CORPORA[language]
    understood = corpus.get("understood") or []
    refused = corpus.get("refused") or []
    assert corpus.get("language") == language
    assert len(understood) >= MIN_UNDERSTOOD
    assert len(refused) >= MIN_REFUSED
    seen = {(entry["q"], entry["expect"]) for entry in understood if isinstance(entry["expect"], str)}
    for question in protocol.questions:
        for value in question.choice_values:
            assert (question.id, value) in seen, f"{language}: no understood reply for {question.id}={value}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_corpus_entries_name_real_questions_and_values(language: str, protocol: ProtocolDefinition) -> None:
    corpus = CORPORA[language]
    for entry in [*(corpus.get("understood") or []), *(corpus.get("refused") or [])]:
        assert protocol.has_question(entry["q"]), entry
    for entry in corpus.get("understood") or []:
        question = protocol.question(entry["q"])
        expected = entry["expect"]
        if question.type == "choice":
            assert expected in question.choice_values, entry
        elif question.type == "boolean":
            assert isinstance(expected, bool), entry
        else:
            assert not isinstance(expected, bool | str), entry
            assert question.min <= expected <= question.max, entry
