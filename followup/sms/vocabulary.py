"""Answer vocabularies: the words patients use to answer SMS questions (no Django).

A protocol may have a ``vocabulary/`` directory next to its ``protocol.yaml``,
with one file per language, ``<lang>.yaml``::

    # Turkish answer vocabulary ... (a draft until a native-speaking clinician
    # has reviewed it)
    language: tr
    review: draft                 # draft | reviewed
    yes: [evet, evt, var]         # yes to any yes/no question
    no: [hayır, yok]              # no to any yes/no question
    negations: [değil, yok, hiç]  # turn the phrase next to them into its opposite
    fillers: [şimdi, bence]       # may surround an answer without changing it
    number_words: {bir: 1, iki: 2, yarım: 0.5}
    approximately: [yaklaşık, civarı]   # may stand beside a number
    suffixes: []                  # az only: endings stripped to join inflected forms
    call_me: [beni arayın, arar mısınız]  # the patient asks for a call
    unsure: [bilmiyorum, emin değilim]    # "I don't know": the reply is asked again
    questions:                    # per question: value -> words
      abdominal_swelling:         # choice: every choice value needs a list
        none: [yok, şişlik yok]
        mild: [biraz, çok değil]
      jaundice:                   # boolean: yes / no
        yes: [sarardım]
        no: [sararma yok]
      vomiting_episodes_24h:      # numbers: the number a word stands for
        0: [hiç, kusmadım]

Every entry is a word or a phrase of several words, matched as a whole. Words
are folded (case, diacritics, Turkish dotted/dotless i, ə, ё, ß) and stemmed
when the file loads: snowball for tr/de/ru/en, pymorphy3 lemmas for ru/uk, the
file's ``suffixes`` for az; replies are folded and stemmed the same way.

Loading validates each file against the protocol's questions: an unknown
question id, an unknown choice value, a choice value without a list, a key that
is not yes/no or not a number in range, a phrase under two values of one
question, a phrase that is yes in one list and no in another each raise
:class:`VocabularyError` naming the file and the entry.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import snowballstemmer

from followup.protocols import DEFAULT_DATA_DIR, ProtocolDefinition, ProtocolLoadError, Question, load_protocol
from followup.protocols.loader import _read_yaml

__all__ = [
    "LANGUAGES",
    "AnswerVocabulary",
    "LanguageVocabulary",
    "Phrase",
    "VocabularyError",
    "Word",
    "fold",
    "lower",
    "transliterates",
    "vocabulary_for",
    "vocabulary_load",
    "word",
]

LANGUAGES: Final[tuple[str, ...]] = ("en", "tr", "de", "ru", "uk", "az")
VOCABULARY_DIR: Final = "vocabulary"
Answer = bool | int | float | str

_LIST_KEYS: Final = ("yes", "no", "negations", "fillers", "approximately", "call_me", "unsure")
_TOP_KEYS: Final = frozenset({"language", "review", "number_words", "suffixes", "questions", *_LIST_KEYS})
_REQUIRED_KEYS: Final = ("language", "yes", "no", "questions")


class VocabularyError(ProtocolLoadError):
    """A vocabulary file is invalid: ``<file>: <entry>: <reason>``."""


# --------------------------------------------------------------------------
# Folding, stemming, transliteration skeletons
# --------------------------------------------------------------------------

# Degree look-alikes. NFKC would turn "º" into "o" and "⁰" into "0": map them first.
DEGREE_LIKE: Final = str.maketrans({"º": "°", "˚": "°", "⁰": "°"})
_SPECIAL_LETTERS: Final = str.maketrans({"ı": "i", "ə": "e", "ø": "o", "đ": "d", "ł": "l", "æ": "ae", "œ": "oe"})
# Latin letters that look like Cyrillic ones, used only inside a word that
# already mixes both alphabets ("нi" typed with a Latin i).
LATIN_TO_CYRILLIC: Final = str.maketrans(
    {
        "a": "а", "b": "в", "c": "с", "e": "е", "h": "н", "i": "і", "k": "к",
        "m": "м", "o": "о", "p": "р", "t": "т", "x": "х", "y": "у",
    }
)  # fmt: skip
# Apostrophes as typed: ASCII, right and left quotes, modifier letter, backtick,
# acute. Inside a word it is one word: the Ukrainian apostrophe ("п'ю", "м'який"),
# the soft sign of a Latin transliteration ("sil'no", "p'yu"), English "don't".
APOSTROPHES: Final = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\u02b9\u0060\u00b4\u2032", "'"))
LETTERS: Final = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_CYRILLIC: Final = re.compile(r"[\u0400-\u04ff]")
_LATIN: Final = re.compile(r"[a-z]")


def unmix(match: re.Match[str]) -> str:
    """A word that mixes both alphabets, made Cyrillic (a Latin "i" in "нi")."""
    text = match.group(0)
    if _CYRILLIC.search(text) and _LATIN.search(text):
        return text.translate(LATIN_TO_CYRILLIC)
    return text


def lower(text: str) -> str:
    """Case-folded text that keeps its letters (for stemmers): NFKC, casefold,
    Turkish "İ" as "i", Latin look-alikes inside a Cyrillic word made Cyrillic."""
    text = unicodedata.normalize("NFKC", text.translate(DEGREE_LIKE).translate(APOSTROPHES)).casefold()
    text = unicodedata.normalize("NFC", text.replace("i\u0307", "i"))
    return LETTERS.sub(unmix, text)


def fold(text: str) -> str:
    """``lower`` without diacritics: ş→s, ı→i, ə→e, ё→е, й→и, ä→a; spacing kept."""
    text = lower(text).translate(_SPECIAL_LETTERS)
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", text)


_CYR_SKELETON: Final = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "ё": "e", "є": "ie",
        "ж": "zh", "з": "z", "и": "i", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m",
        "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h",
        "ц": "c", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu",
        "я": "ia",
    }
)  # fmt: skip
_LATIN_SKELETON: Final = (
    ("shch", "sh"),
    ("sch", "sh"),
    ("kh", "h"),
    ("ts", "c"),
    ("tz", "c"),
    ("g", "h"),
    ("x", "h"),
    ("j", "i"),
    ("y", "i"),
    ("w", "v"),
    ("q", "k"),
)
_DOUBLES: Final = re.compile(r"(.)\1+")


def _skeleton(lowered: str) -> str:
    """A rough Latin spelling shared by a Cyrillic word and its Latin transliteration
    ("сильно" / "silno", "трохи" / "trokhy", "немає" / "nemaye")."""
    text = lowered.replace("'", "").translate(_CYR_SKELETON)
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    text = text.translate(_SPECIAL_LETTERS)
    for old, new in _LATIN_SKELETON:
        text = text.replace(old, new)
    return _DOUBLES.sub(r"\1", text)


_SNOWBALL: Final[Mapping[str, str]] = MappingProxyType(
    {"en": "english", "tr": "turkish", "de": "german", "ru": "russian"}
)
_stemmers: dict[str, Any] = {}
_morph: dict[str, Any] = {}
_engine_lock = threading.Lock()


def _snowball(language: str) -> Any:
    stemmer = _stemmers.get(language)
    if stemmer is None:
        with _engine_lock:
            stemmer = _stemmers.get(language)
            if stemmer is None:
                stemmer = snowballstemmer.stemmer(_SNOWBALL[language])
                _stemmers[language] = stemmer
    return stemmer


def _morph_analyzer(language: str) -> Any:
    """One pymorphy3 analyzer per language and process, created on first use."""
    analyzer = _morph.get(language)
    if analyzer is None:
        with _engine_lock:
            analyzer = _morph.get(language)
            if analyzer is None:
                import pymorphy3

                analyzer = pymorphy3.MorphAnalyzer(lang=language)
                _morph[language] = analyzer
    return analyzer


_VERB_TAGS: Final = frozenset({"VERB", "INFN", "GRND", "PRTS", "PRTF"})


@lru_cache(maxsize=20_000)
def is_verb(lowered: str, language: str) -> bool:
    """A Russian or Ukrainian word whose likeliest reading is a verb form ("смотрел")."""
    if language not in ("ru", "uk") or not _CYRILLIC.search(lowered):
        return False
    parses = _morph_analyzer(language).parse(lowered.replace("ё", "е"))
    return bool(parses) and parses[0].tag.POS in _VERB_TAGS


# Languages whose Latin vocabulary words a Cyrillic-typed word may be read as:
# the transliterations in ru/uk files, Azerbaijani typed on a Russian keyboard.
_CYRILLIC_TYPED_LATIN: Final = frozenset({"ru", "uk", "az"})
_UMLAUT_SPELLING: Final = (("ae", "a"), ("oe", "o"), ("ue", "u"))
_MIN_STEM: Final = 3


@dataclass(frozen=True)
class Word:
    """One word as the reader compares it: ``folded`` text, the ``keys`` it joins
    on in its language (folded form, stems, lemmas) and its transliteration
    ``skeleton`` (compared only across alphabets)."""

    folded: str
    keys: frozenset[str]
    skeleton: str
    latin: bool
    roots: frozenset[str] = frozenset()
    language: str = ""

    def matches(self, other: Word) -> bool:
        """This (typed) word is a form of ``other`` (a vocabulary word): the root of
        ``other`` (its folded form or dictionary lemma) is among this word's keys
        (its own form, stems, lemmas). Two inflected forms that merely share a stem
        do not match ("bacakta" / "bacaklarım": one leg, both legs), and a bare
        "yox" is not the listed "yoxdur"."""
        if other.roots & self.keys:
            return True
        return transliterates(self, other.latin, other.skeleton)


def transliterates(typed: Word, latin: bool, skeleton: str) -> bool:
    """``typed`` is the transliteration of a vocabulary word of the other alphabet
    with this ``skeleton``. Only a Latin-typed word is read as the Cyrillic word it
    spells ("nemnogo" / "немного", "da" / "да"); a Cyrillic-typed word is never read
    as a Latin word of English, Turkish or German (Russian "но" (but) is not English
    "no", "ок" is not "ok"). It may be read as a Latin word of a Russian or Ukrainian
    vocabulary (a transliteration of that language's own word: "гний" / "hnii") and
    of Azerbaijani, which patients also type on a Russian keyboard ("йох", "бир аз")."""
    if typed.latin == latin or len(typed.skeleton) < 2 or typed.skeleton != skeleton:
        return False
    return typed.latin or typed.language in _CYRILLIC_TYPED_LATIN


@lru_cache(maxsize=100_000)
def word(lowered: str, language: str, suffixes: tuple[str, ...] = ()) -> Word:
    """The :class:`Word` for one lower-cased token (see :func:`lower`) in ``language``."""
    folded = fold(lowered)
    keys: set[str] = {folded}
    roots: set[str] = {folded}
    if language in _SNOWBALL:
        stemmer = _snowball(language)
        for form in {lowered, folded}:
            stem = fold(stemmer.stemWord(form))
            if len(stem) >= min(_MIN_STEM, len(folded)):
                keys.add(stem)
    if language in ("ru", "uk") and _CYRILLIC.search(lowered):
        for parse in _morph_analyzer(language).parse(lowered.replace("ё", "е")):
            keys.add(fold(parse.normal_form))
            roots.add(fold(parse.normal_form))
    if language == "de":
        spelled = folded
        for old, new in _UMLAUT_SPELLING:
            spelled = spelled.replace(old, new)
        keys.add(spelled)
        roots.add(spelled)
    if language == "az" and suffixes:
        keys |= _az_stems(folded, suffixes)
    collapsed = _TRIPLES.sub(r"\1", folded)
    if collapsed != folded:  # "evettt", "çoooox": emphasis, not another word
        roots.add(collapsed)
    if _CYRILLIC.search(folded):
        keys |= {key.replace("ь", "").replace("ъ", "") for key in keys}
    if "'" in folded and (language in ("ru", "uk") or _CYRILLIC.search(folded)):
        # The apostrophe of a transliteration is the soft sign ("sil'no" = "silno")
        # and the Ukrainian one is often left out ("пю" for "п'ю").
        keys |= {key.replace("'", "") for key in keys}
    return Word(
        folded=folded,
        keys=frozenset(keys | roots),
        skeleton=_skeleton(lowered),
        latin=not _CYRILLIC.search(lowered),
        roots=frozenset(roots),
        language=language,
    )


_TRIPLES: Final = re.compile(r"(.)\1\1+")
# Azerbaijani negative verb endings (-ma/-mə..., -mır/-mir...): a word is never
# stripped through one, so "qusmamışam" (I did not vomit) never joins "qusmuşam".
_AZ_NEGATIVE: Final = ("ma", "me", "mir", "mur")


def _az_stems(folded: str, suffixes: tuple[str, ...]) -> set[str]:
    stems: set[str] = set()
    frontier = {folded}
    for _ in range(3):
        following: set[str] = set()
        for stem in frontier:
            for suffix in suffixes:
                if (
                    stem.endswith(suffix)
                    and len(stem) - len(suffix) >= _MIN_STEM
                    and not suffix.startswith(_AZ_NEGATIVE)
                ):
                    following.add(stem[: -len(suffix)])
        following -= stems
        if not following:
            break
        stems |= following
        frontier = following
    return stems


def words_of(text: str, language: str, suffixes: tuple[str, ...] = ()) -> tuple[Word, ...]:
    return tuple(word(token, language, suffixes) for token in LETTERS.findall(lower(text)))


# --------------------------------------------------------------------------
# Loaded vocabularies
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Phrase:
    """A vocabulary entry: the ``text`` as written and its words."""

    text: str
    words: tuple[Word, ...]

    @property
    def folded(self) -> str:
        return " ".join(w.folded for w in self.words)


@dataclass(frozen=True, eq=False)
class LanguageVocabulary:
    """One language's file. ``questions`` maps a question id to ``(value, phrase)``
    pairs; a boolean question's values are True/False, a numeric one's numbers."""

    language: str
    file: str
    review: str
    yes: tuple[Phrase, ...]
    no: tuple[Phrase, ...]
    negations: tuple[Phrase, ...]
    fillers: tuple[Phrase, ...]
    approximately: tuple[Phrase, ...]
    call_me: tuple[Phrase, ...]
    unsure: tuple[Phrase, ...]
    number_words: tuple[tuple[Phrase, int | float], ...]
    suffixes: tuple[str, ...]
    questions: Mapping[str, tuple[tuple[Answer, Phrase], ...]]
    known: tuple[Word, ...] = field(default=(), compare=False)

    def phrase(self, text: str) -> Phrase:
        return Phrase(text=text, words=words_of(text, self.language, self.suffixes))


@dataclass(frozen=True, eq=False)
class AnswerVocabulary:
    """The answer vocabularies of one protocol, by language."""

    slug: str
    languages: Mapping[str, LanguageVocabulary]

    def get(self, language: str) -> LanguageVocabulary | None:
        return self.languages.get(language)


def empty_language(language: str) -> LanguageVocabulary:
    return LanguageVocabulary(
        language=language,
        file="",
        review="draft",
        yes=(),
        no=(),
        negations=(),
        fillers=(),
        approximately=(),
        call_me=(),
        unsure=(),
        number_words=(),
        suffixes=(),
        questions=MappingProxyType({}),
    )


class _At:
    def __init__(self, file: str, entry: str | None = None) -> None:
        self.file = file
        self.entry = entry

    def key(self, name: object) -> _At:
        return _At(self.file, f"{self.entry}.{name}" if self.entry else str(name))

    def fail(self, reason: str) -> VocabularyError:
        return VocabularyError(self.file, self.entry, reason)


def _strings(at: _At, value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise at.fail("expected a list of words")
    out: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise at.key(index).fail(f"expected a word, got {type(item).__name__}")
        text = str(item).strip()
        if not LETTERS.search(fold(text)):
            raise at.key(index).fail(f"{text!r} has no letters")
        out.append(text)
    return out


def _bool_key(key: object) -> bool | None:
    if key is True or key == "yes":
        return True
    if key is False or key == "no":
        return False
    return None


def _question_entries(at: _At, question: Question, value: object, make: Any) -> tuple[tuple[Answer, Phrase], ...]:
    if not isinstance(value, dict):
        raise at.fail("expected value: [words] entries")
    entries: list[tuple[Answer, Phrase]] = []
    seen: dict[str, Answer] = {}
    for key, words in value.items():
        where = at.key(key)
        answer: Answer
        if question.type == "choice":
            if str(key) not in question.choice_values:
                raise where.fail(f"unknown choice value {key!r} (expected one of {list(question.choice_values)})")
            answer = str(key)
        elif question.type == "boolean":
            boolean = _bool_key(key)
            if boolean is None:
                raise where.fail(f"expected yes or no, got {key!r}")
            answer = boolean
        else:
            if isinstance(key, bool) or not isinstance(key, (int, float)):
                raise where.fail(f"expected a number, got {key!r}")
            if (question.min is not None and key < question.min) or (question.max is not None and key > question.max):
                raise where.fail(f"{key} is outside the question's range {question.min} to {question.max}")
            if question.type != "number" and not float(key).is_integer():
                raise where.fail(f"{key} is not a whole number")
            answer = int(key) if question.type != "number" else float(key)
        for text in _strings(where, words):
            phrase = make(text)
            earlier = seen.get(phrase.folded)
            if earlier is not None and earlier != answer:
                raise where.fail(f"{text!r} is listed under two values ({earlier!r} and {answer!r})")
            seen[phrase.folded] = answer
            entries.append((answer, phrase))
    if question.type == "choice":
        missing = [v for v in question.choice_values if v not in {a for a, _ in entries}]
        if missing:
            raise at.fail(f"no words for choice value(s) {missing}")
    return tuple(entries)


def _load_language(path: Path, protocol: ProtocolDefinition) -> LanguageVocabulary:
    file = str(path)
    try:
        data = _read_yaml(path)
    except ProtocolLoadError as exc:
        raise VocabularyError(exc.file, exc.entry, exc.reason) from None
    at = _At(file)
    if not isinstance(data, dict):
        raise at.fail("expected a mapping at the top")
    unknown = sorted(str(k) for k in set(data) - _TOP_KEYS)
    if unknown:
        raise at.key(unknown[0]).fail(f"unknown key (expected {sorted(_TOP_KEYS)})")
    for key in _REQUIRED_KEYS:
        if key not in data:
            raise at.key(key).fail("missing")
    language = data["language"]
    if language != path.stem:
        raise at.key("language").fail(f"{language!r} does not match the file name {path.name}")
    review = data.get("review", "draft")
    if review not in ("draft", "reviewed"):
        raise at.key("review").fail("expected draft or reviewed")
    suffixes_raw = _strings(at.key("suffixes"), data.get("suffixes"))
    suffixes = tuple(sorted({fold(s) for s in suffixes_raw}, key=lambda s: (-len(s), s)))

    def make(text: str) -> Phrase:
        return Phrase(text=text, words=words_of(text, language, suffixes))

    lists = {key: tuple(make(t) for t in _strings(at.key(key), data.get(key))) for key in _LIST_KEYS}

    number_words: list[tuple[Phrase, int | float]] = []
    raw_numbers = data.get("number_words") or {}
    if not isinstance(raw_numbers, dict):
        raise at.key("number_words").fail("expected word: number entries")
    for text, number in raw_numbers.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise at.key("number_words").key(text).fail(f"expected a number, got {number!r}")
        number_words.append((make(str(text)), number))

    raw_questions = data["questions"] or {}
    if not isinstance(raw_questions, dict):
        raise at.key("questions").fail("expected question id: entries")
    questions: dict[str, tuple[tuple[Answer, Phrase], ...]] = {}
    for qid, value in raw_questions.items():
        where = at.key("questions").key(qid)
        if not protocol.has_question(str(qid)):
            raise where.fail(f"unknown question id {qid!r}")
        questions[str(qid)] = _question_entries(where, protocol.question(str(qid)), value, make)
    for question in protocol.questions:
        if question.type == "choice" and question.id not in questions:
            raise at.key("questions").key(question.id).fail("missing (every choice question needs its words)")

    # A phrase that is yes somewhere and no somewhere else.
    polarity: dict[str, tuple[bool, str]] = {}
    sources: list[tuple[bool, str, Iterable[Phrase]]] = [(True, "yes", lists["yes"]), (False, "no", lists["no"])]
    for qid, entries in questions.items():
        for answer, phrase in entries:
            if isinstance(answer, bool):
                sources.append((answer, f"questions.{qid}.{'yes' if answer else 'no'}", (phrase,)))
    for answer, where_name, phrases in sources:
        for phrase in phrases:
            earlier = polarity.get(phrase.folded)
            if earlier is not None and earlier[0] != answer:
                raise at.key(where_name).fail(f"{phrase.text!r} is yes in one list and no in another ({earlier[1]})")
            polarity.setdefault(phrase.folded, (answer, where_name))

    known: dict[str, Word] = {}
    every: list[Iterable[Phrase]] = [
        *(phrases for key, phrases in lists.items() if key not in ("yes", "no")),
        (p for p, _ in number_words),
    ]
    every.extend((p for _, p in entries) for entries in questions.values())
    for phrases in every:
        for phrase in phrases:
            for w in phrase.words:
                known.setdefault(w.folded, w)

    return LanguageVocabulary(
        language=language,
        file=file,
        review=review,
        yes=lists["yes"],
        no=lists["no"],
        negations=lists["negations"],
        fillers=lists["fillers"],
        approximately=lists["approximately"],
        call_me=lists["call_me"],
        unsure=lists["unsure"],
        number_words=tuple(number_words),
        suffixes=suffixes,
        questions=MappingProxyType(questions),
        known=tuple(known.values()),
    )


def vocabulary_load(directory: str | Path, protocol: ProtocolDefinition) -> AnswerVocabulary:
    """Load and validate every ``<lang>.yaml`` in ``directory`` against ``protocol``.

    Raises :class:`VocabularyError` naming the file and the entry."""
    folder = Path(directory)
    languages: dict[str, LanguageVocabulary] = {}
    for path in sorted(folder.glob("*.yaml")):
        vocabulary = _load_language(path, protocol)
        languages[vocabulary.language] = vocabulary
    return AnswerVocabulary(slug=protocol.slug, languages=MappingProxyType(languages))


_cache: dict[str, AnswerVocabulary] = {}
_cache_lock = threading.Lock()


def vocabulary_for(slug: str, *, data_dir: str | Path = DEFAULT_DATA_DIR) -> AnswerVocabulary:
    """The answer vocabulary of the protocol ``slug`` (loaded once per process)."""
    key = f"{Path(data_dir)}::{slug}"
    cached = _cache.get(key)
    if cached is not None:
        return cached
    with _cache_lock:
        cached = _cache.get(key)
        if cached is None:
            directory = Path(data_dir) / slug
            protocol = load_protocol(directory)
            cached = vocabulary_load(directory / VOCABULARY_DIR, protocol)
            _cache[key] = cached
    return cached


def vocabulary_clear() -> None:
    """Forget loaded vocabularies (tests)."""
    with _cache_lock:
        _cache.clear()
