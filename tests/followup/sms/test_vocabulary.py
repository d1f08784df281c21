"""Answer vocabularies: validation, folding and stemming, other languages, typos (pure).

Small vocabularies are written to tmp_path and loaded against the real protocol,
so these tests do not depend on the draft word lists under review.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.protocols import DEFAULT_DATA_DIR, ProtocolDefinition, load_protocol
from followup.sms.reading import ReplyNotUnderstood, asks_for_call, reply_read
from followup.sms.vocabulary import AnswerVocabulary, VocabularyError, vocabulary_for, vocabulary_load

CHOICES: dict[str, dict[str, list[str]]] = {
    "abdominal_swelling": {"none": ["şişlik yok"], "mild": ["biraz", "çok değil"], "severe": ["çok", "şişkin"]},
    "appetite": {"normal": ["gayet"], "reduced": ["azaldı"], "none": ["iştahım yok"]},
    "leg_swelling": {"none": ["şişlik yok"], "both": ["ikisi de"], "one": ["sol bacak"]},
    "wound": {"normal": ["temiz"], "red": ["kızarıklık"], "discharge": ["iltihap"], "opened": ["açıldı"]},
}


def _file(language: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "language": language,
        "review": "draft",
        "yes": ["evet"],
        "no": ["hayır"],
        "negations": ["değil"],
        "fillers": ["bence"],
        "number_words": {"iki": 2},
        "approximately": ["yaklaşık"],
        "call_me": ["beni arayın"],
        "unsure": ["bilmiyorum"],
        "questions": {qid: {value: list(words) for value, words in lists.items()} for qid, lists in CHOICES.items()},
    }
    data.update(extra)
    return data


def _write(directory: Path, data: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{data['language']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def protocol() -> ProtocolDefinition:
    return load_protocol(DEFAULT_DATA_DIR / "post-hepatectomy")


def _load(tmp_path: Path, protocol: ProtocolDefinition, *files: dict[str, Any]) -> AnswerVocabulary:
    for data in files:
        _write(tmp_path, data)
    return vocabulary_load(tmp_path, protocol)


# --- validation ---------------------------------------------------------------


def _questions_with(qid: str, value: dict[str, list[str]]) -> dict[str, Any]:
    data = _file("tr")
    data["questions"][qid] = value
    return data


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "unknown question",
        _questions_with("temperature_f", {"0": ["hiç"]}),
        "questions.temperature_f",
        "unknown question id",
    ),
    (
        "unknown choice value",
        _questions_with("abdominal_swelling", {**CHOICES["abdominal_swelling"], "huge": ["dev"]}),
        "questions.abdominal_swelling.huge",
        "unknown choice value",
    ),
    (
        "missing choice value",
        _questions_with("wound", {k: v for k, v in CHOICES["wound"].items() if k != "opened"}),
        "questions.wound",
        "opened",
    ),
    (
        "word under two values",
        _questions_with("abdominal_swelling", {**CHOICES["abdominal_swelling"], "severe": ["çok", "Biraz"]}),
        "questions.abdominal_swelling.severe",
        "two values",
    ),
    (
        "yes and no",
        {**_file("tr"), "questions": {**_file("tr")["questions"], "jaundice": {"no": ["Evet"]}}},
        "questions.jaundice.no",
        "yes in one list and no in another",
    ),
    (
        "boolean key",
        {**_file("tr"), "questions": {**_file("tr")["questions"], "jaundice": {"maybe": ["belki"]}}},
        "questions.jaundice.maybe",
        "yes or no",
    ),
    (
        "number out of range",
        {**_file("tr"), "questions": {**_file("tr")["questions"], "vomiting_episodes_24h": {31: ["çok"]}}},
        "questions.vomiting_episodes_24h.31",
        "outside",
    ),
    ("language of another file", {**_file("tr"), "language": "az"}, "language", "file name"),
    ("unknown key", _file("tr", synonyms=["x"]), "synonyms", "unknown key"),
]


@pytest.mark.parametrize(("data", "entry", "reason"), [pytest.param(*case[1:], id=case[0]) for case in BAD])
def test_invalid_vocabulary_names_file_and_entry(
    tmp_path: Path, protocol: ProtocolDefinition, data: dict[str, Any], entry: str, reason: str
) -> None:
    directory = tmp_path / "vocabulary"
    directory.mkdir()
    path = directory / "tr.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(VocabularyError) as caught:
        vocabulary_load(directory, protocol)
    assert caught.value.file == str(path)
    assert caught.value.entry == entry
    assert reason in caught.value.reason
    assert str(path) in str(caught.value)


def test_valid_vocabulary_loads_frozen(tmp_path: Path, protocol: ProtocolDefinition) -> None:
    vocabulary = _load(tmp_path, protocol, _file("tr"))
    tr = vocabulary.get("tr")
    assert tr is not None
    assert tr.review == "draft"
    with pytest.raises(AttributeError):
        tr.yes = ()  # type: ignore[misc]
    assert vocabulary.get("de") is None


def test_project_vocabulary_loads_once(protocol: ProtocolDefinition) -> None:
    assert vocabulary_for("post-hepatectomy") is vocabulary_for("post-hepatectomy")


# --- folding and stemming -----------------------------------------------------


def _read(vocabulary: AnswerVocabulary, protocol: ProtocolDefinition, qid: str, text: str, language: str) -> object:
    return reply_read(text, question=protocol.question(qid), language=language, vocabulary=vocabulary)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("BİRAZ", "mild"),
        ("biraz şişti", "mild"),
        ("karnım çok şişkin", "severe"),
        ("sislik yok", "none"),
        ("şişliğim yok", "none"),  # stemmer joins the inflected noun
        ("çok değil", "mild"),  # listed negated phrase
        ("2 biraz", "mild"),
    ],
)
def test_folding_and_stemming_join_forms(
    tmp_path: Path, protocol: ProtocolDefinition, reply: str, expected: str
) -> None:
    vocabulary = _load(tmp_path, protocol, _file("tr"))
    assert _read(vocabulary, protocol, "abdominal_swelling", reply, "tr") == expected


def test_russian_lemmas_and_latin_transliteration(tmp_path: Path, protocol: ProtocolDefinition) -> None:
    ru = _file("ru", yes=["да"], no=["нет"], negations=["не"], fillers=[], number_words={}, approximately=[])
    ru["questions"]["abdominal_swelling"] = {"none": ["нет"], "mild": ["немного"], "severe": ["сильный"]}
    vocabulary = _load(tmp_path, protocol, ru)
    assert _read(vocabulary, protocol, "abdominal_swelling", "Сильно", "ru") == "severe"  # lemma сильный
    assert _read(vocabulary, protocol, "abdominal_swelling", "nemnogo", "ru") == "mild"  # Latin keyboard
    assert _read(vocabulary, protocol, "chills", "da", "ru") is True
    with pytest.raises(ReplyNotUnderstood):
        _read(vocabulary, protocol, "abdominal_swelling", "не сильно", "ru")  # negated, nothing left


def test_azerbaijani_suffixes_never_strip_a_negation(tmp_path: Path, protocol: ProtocolDefinition) -> None:
    az = _file("az", yes=["bəli"], no=["xeyr"], negations=["deyil"], suffixes=["dur", "mışam", "mamışam"])
    az["questions"]["vomiting_episodes_24h"] = {0: ["qusmamışam"]}
    az["questions"]["abdominal_swelling"] = {"none": ["yox"], "mild": ["bir az"], "severe": ["çox"]}
    vocabulary = _load(tmp_path, protocol, az)
    assert _read(vocabulary, protocol, "abdominal_swelling", "yoxdur", "az") == "none"
    assert _read(vocabulary, protocol, "vomiting_episodes_24h", "qusmamışam", "az") == 0
    with pytest.raises(ReplyNotUnderstood):
        _read(vocabulary, protocol, "vomiting_episodes_24h", "qusmuşam", "az")


# --- other languages ----------------------------------------------------------


def test_other_language_is_read_when_every_language_agrees(tmp_path: Path, protocol: ProtocolDefinition) -> None:
    en = _file("en", yes=["yes"], no=["no"], negations=["not"], number_words={"two": 2})
    az = _file("az", yes=["bəli", "he"], no=["yox"], negations=["deyil"])
    ru = _file("ru", yes=["да"], no=["нет", "не"], negations=["не"])
    vocabulary = _load(tmp_path, protocol, _file("tr"), en, az, ru)
    assert _read(vocabulary, protocol, "chills", "yes", "tr") is True
    assert _read(vocabulary, protocol, "chills", "да", "tr") is True
    assert _read(vocabulary, protocol, "chills", "He", "az") is True  # the patient's own language first
    with pytest.raises(ReplyNotUnderstood):
        # Azerbaijani yes, and the Latin look-alike of Russian "не" (no).
        _read(vocabulary, protocol, "chills", "He", "en")
    with pytest.raises(ReplyNotUnderstood):
        _read(vocabulary, protocol, "chills", "He", "ru")


def test_word_that_is_yes_in_one_language_and_no_in_another_is_refused(
    tmp_path: Path, protocol: ProtocolDefinition
) -> None:
    de = _file("de", yes=["ja"], no=["nein"], negations=["nicht"])
    az = _file("az", yes=["bəli"], no=["ja"], negations=["deyil"])
    vocabulary = _load(tmp_path, protocol, _file("tr"), de, az)
    with pytest.raises(ReplyNotUnderstood):
        _read(vocabulary, protocol, "chills", "ja", "tr")
    assert _read(vocabulary, protocol, "chills", "ja", "de") is True


def test_plain_yes_to_a_choice_question_is_not_an_option(tmp_path: Path, protocol: ProtocolDefinition) -> None:
    vocabulary = _load(tmp_path, protocol, _file("tr"))
    with pytest.raises(ReplyNotUnderstood):
        _read(vocabulary, protocol, "leg_swelling", "evet", "tr")


# --- typos --------------------------------------------------------------------


def test_one_close_option_is_accepted(tmp_path: Path, protocol: ProtocolDefinition) -> None:
    vocabulary = _load(tmp_path, protocol, _file("tr"))
    assert _read(vocabulary, protocol, "wound", "kızarklık", "tr") == "red"
    assert _read(vocabulary, protocol, "wound", "iltihab", "tr") == "discharge"


def test_two_near_options_are_refused(tmp_path: Path, protocol: ProtocolDefinition) -> None:
    data = _file("tr")
    data["questions"]["appetite"] = {"normal": ["gayet"], "reduced": ["payet"], "none": ["iştahım yok"]}
    vocabulary = _load(tmp_path, protocol, data)
    assert _read(vocabulary, protocol, "appetite", "gayet", "tr") == "normal"
    with pytest.raises(ReplyNotUnderstood):
        _read(vocabulary, protocol, "appetite", "xayet", "tr")


def test_short_words_are_not_typo_corrected(tmp_path: Path, protocol: ProtocolDefinition) -> None:
    vocabulary = _load(tmp_path, protocol, _file("tr"))
    with pytest.raises(ReplyNotUnderstood):
        _read(vocabulary, protocol, "abdominal_swelling", "çk", "tr")


# --- numbers, unsure, calls ---------------------------------------------------


def test_numbers_with_words(tmp_path: Path, protocol: ProtocolDefinition) -> None:
    vocabulary = _load(tmp_path, protocol, _file("tr"))
    assert _read(vocabulary, protocol, "temperature_c", "yaklaşık 38,4 derece", "tr") == 38.4
    assert _read(vocabulary, protocol, "vomiting_episodes_24h", "iki kere", "tr") == 2
    for reply in ("38 değil", "38'den fazla", "bilmiyorum 38", "38 kg"):
        with pytest.raises(ReplyNotUnderstood):
            _read(vocabulary, protocol, "temperature_c", reply, "tr")


def test_unsure_reply_is_asked_again(tmp_path: Path, protocol: ProtocolDefinition) -> None:
    vocabulary = _load(tmp_path, protocol, _file("tr"))
    with pytest.raises(ReplyNotUnderstood):
        _read(vocabulary, protocol, "chills", "evet ama bilmiyorum", "tr")


def test_asks_for_call(tmp_path: Path, protocol: ProtocolDefinition) -> None:
    en = _file("en", yes=["yes"], no=["no"], negations=["not", "don't", "dont"], call_me=["call me"])
    vocabulary = _load(tmp_path, protocol, _file("tr"), en)
    assert asks_for_call("Lütfen beni arayın", language="tr", vocabulary=vocabulary)
    assert asks_for_call("please CALL me", language="tr", vocabulary=vocabulary)
    assert not asks_for_call("evet", language="tr", vocabulary=vocabulary)
    assert not asks_for_call("dont call me", language="en", vocabulary=vocabulary)


# --- any text at all ----------------------------------------------------------


_PROTOCOL = load_protocol(DEFAULT_DATA_DIR / "post-hepatectomy")


@settings(max_examples=300, deadline=None)
@given(
    reply=st.text(max_size=30) | st.from_regex(r"[ -~°,.ºОоOl0-9şığüöçəа-я]{0,14}", fullmatch=True),
    language=st.sampled_from(("en", "tr", "de", "ru", "uk", "az")),
    qid=st.sampled_from([question.id for question in _PROTOCOL.questions]),
)
def test_any_reply_gives_a_strict_answer_in_range_or_is_refused(reply: str, language: str, qid: str) -> None:
    question = _PROTOCOL.question(qid)
    try:
        answer = reply_read(reply, question=question, language=language, vocabulary=vocabulary_for("post-hepatectomy"))
    except ReplyNotUnderstood:
        return
    if question.type == "boolean":
        assert isinstance(answer, bool)
    elif question.type == "choice":
        assert answer in question.choice_values
    else:
        assert not isinstance(answer, bool | str)
        assert question.min <= answer <= question.max
        assert isinstance(answer, float if question.type == "number" else int)


def test_reading_a_reply_is_fast() -> None:
    import time

    vocabulary = vocabulary_for("post-hepatectomy")
    replies = ["karnım biraz şişti", "38,4 derece", "evet var", "iki kere kustum", "hayr", "yaklaşık 72 kg"]
    questions = ["abdominal_swelling", "temperature_c", "chills", "vomiting_episodes_24h", "leg_swelling", "weight_kg"]
    pairs = [(reply, _PROTOCOL.question(qid)) for reply, qid in zip(replies, questions, strict=True)]

    def read_all() -> None:
        for reply, question in pairs:
            with contextlib.suppress(ReplyNotUnderstood):
                reply_read(reply, question=question, language="tr", vocabulary=vocabulary)

    read_all()  # warm-up: stemmers, lemmatisers, caches
    started = time.perf_counter()
    for _ in range(20):
        read_all()
    per_reply = (time.perf_counter() - started) / (20 * len(pairs))
    assert per_reply < 0.005


# --- transliteration only from Latin to Cyrillic; apostrophes inside words ------


def test_cyrillic_word_is_never_a_latin_word_of_another_language() -> None:
    from followup.sms.vocabulary import word

    assert not word("но", "en").matches(word("no", "en"))
    assert not word("ок", "en").matches(word("ok", "en"))
    assert not word("но", "tr").matches(word("no", "tr"))
    # A Latin-typed word is the Cyrillic word it spells.
    assert word("nemnogo", "ru").matches(word("немного", "ru"))
    assert word("da", "ru").matches(word("да", "ru"))
    # Azerbaijani typed on a Russian keyboard; a ru/uk file's own transliterations.
    assert word("йох", "az").matches(word("yox", "az"))
    assert word("гний", "uk").matches(word("hnii", "uk"))


def test_apostrophe_inside_a_word_keeps_it_whole() -> None:
    from followup.sms.vocabulary import word, words_of

    assert [w.folded for w in words_of("sil'no", "ru")] == ["sil'no"]
    assert [w.folded for w in words_of("sil’no", "ru")] == ["sil'no"]
    assert [w.folded for w in words_of("п'ю пʼю п’ю", "uk")] == ["п'ю", "п'ю", "п'ю"]
    assert [w.folded for w in words_of("'no'", "en")] == ["no"]  # quotes around a word are not in it
    assert word("sil'no", "ru").matches(word("сильно", "ru"))
    assert word("sil'no", "ru").matches(word("silno", "ru"))
    assert word("p'yu", "ru").matches(word("пью", "ru"))
    assert not word("sil'no", "en").matches(word("no", "en"))
