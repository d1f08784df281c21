"""Reading patients' SMS replies and keywords (pure Python, no Django).

A patient answers a check-in question by SMS in English, Turkish, German,
Russian, Ukrainian or Azerbaijani, from whatever keyboard the phone has. This
module turns one reply into the strict value the check-in API expects, or
raises ``ReplyNotUnderstood`` so that the conversation asks again.

The guiding hazard is H4 (a typing error must never become a finding or hide
one): whenever a reply could mean two things it is refused, never guessed.
Hence: digits are not yes/no, "7O" is not 70, "1,200" is neither 1.2 nor 1200,
"38 C" to a pulse question is refused, "more than 5" and "38-39" are refused.

Two readers:

- ``reply_read`` (the SMS conversation): the patient's own words, through the
  protocol's answer vocabulary (``followup.sms.vocabulary``): option numbers,
  labels and vocabulary phrases inside a longer reply, folded (case,
  diacritics, dotless i, ə), stemmed or lemmatised, typed on the other keyboard
  (transliteration), one typo in a word of 5+ letters when no other option is
  near, negation ("çok değil" is not severe; a negated option is dropped), "I
  don't know" refused, numbers with units, "about" words and number words. A
  reply with no answer word of the patient's language is read in the other
  languages only when every language that knows its words agrees (Azerbaijani
  "he" is yes, but its Latin look-alike of Russian "не" is no: refused).
  ``asks_for_call`` tells a request for a call.
- ``parse_reply`` (recalls, picking a patient by number): the strict legacy
  reader with the word lists of ``followup.sms.words``: only the patient's
  language and English, "none" is not zero, "about 38" is refused.

Reasons in ``ReplyNotUnderstood`` are short English texts for staff; they
never quote the reply (message bodies stay out of logs, H13).
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from rapidfuzz.distance import OSA, Levenshtein

from followup.protocols import Question
from followup.sms import words as sms_words
from followup.sms.vocabulary import (
    LATIN_TO_CYRILLIC,
    Answer,
    AnswerVocabulary,
    LanguageVocabulary,
    Phrase,
    Word,
    empty_language,
    is_verb,
    transliterates,
    unmix,
)
from followup.sms.vocabulary import LETTERS as VOCAB_LETTERS
from followup.sms.vocabulary import lower as vocab_lower
from followup.sms.vocabulary import word as vocab_word

__all__ = [
    "Keyword",
    "NotUnderstoodKind",
    "ReplyNotUnderstood",
    "asks_for_call",
    "format_choices",
    "match_ack",
    "match_keyword",
    "normalize",
    "parse_reply",
    "reply_read",
]

NotUnderstoodKind = Literal["not_a_number", "out_of_range", "not_yes_no", "not_a_choice", "not_whole"]
Keyword = Literal["stop", "start", "help"]
QuestionType = Literal["boolean", "integer", "number", "scale", "choice"]
Choices = Sequence[tuple[str, Mapping[str, str]]]

QUESTION_TYPES: Final[frozenset[str]] = frozenset({"boolean", "integer", "number", "scale", "choice"})
_KEYWORD_ORDER: Final[tuple[Keyword, ...]] = ("stop", "start", "help")
_NO_EXTRA: Final[Mapping[str, Iterable[str]]] = MappingProxyType({})


class ReplyNotUnderstood(ValueError):
    """A reply that cannot be read as an answer to the question asked.

    ``reason`` is a short English text for staff (it never quotes the reply);
    ``kind`` lets the conversation choose how to ask again.
    """

    def __init__(self, reason: str, *, kind: NotUnderstoodKind) -> None:
        super().__init__(reason)
        self.reason: str = reason
        self.kind: NotUnderstoodKind = kind


# --------------------------------------------------------------------------
# Folding
# --------------------------------------------------------------------------

# Degree look-alikes. NFKC would turn "º" into "o" (then "38º" reads as the
# stray-O typo) and "⁰" into "0" (then "38⁰" reads as 380): map them first.
_DEGREE_LIKE: Final = str.maketrans({"º": "°", "˚": "°", "⁰": "°"})
# Letters that casefold and accent stripping leave alone.
_SPECIAL_LETTERS: Final = str.maketrans({"ı": "i", "ə": "e", "ø": "o", "đ": "d", "ł": "l", "æ": "ae", "œ": "oe"})
_CYRILLIC_TO_LATIN: Final = str.maketrans(
    {
        "а": "a", "в": "b", "с": "c", "е": "e", "н": "h", "і": "i", "к": "k",
        "м": "m", "о": "o", "р": "p", "т": "t", "х": "x", "у": "y",
    }
)  # fmt: skip
_LETTERS: Final = re.compile(r"[^\W\d_]+")
_CYRILLIC: Final = re.compile(r"[\u0400-\u04ff]")
_LATIN: Final = re.compile(r"[a-z]")


def _fold(text: str) -> str:
    """Case, accents and alphabet folding; spacing and punctuation are kept."""
    text = unicodedata.normalize("NFKC", text.translate(_DEGREE_LIKE))
    # casefold: "İ" → "i̇" (the dot goes with the accents), "ß" → "ss".
    text = text.casefold().translate(_SPECIAL_LETTERS)
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    text = unicodedata.normalize("NFC", text)
    return _LETTERS.sub(unmix, text)


def normalize(text: str) -> str:
    """Fold ``text`` the way replies and keywords are compared.

    Lower case (Turkish İ/I/ı all become i, ß becomes ss), no accents or
    diacritics (ş→s, ç→c, ğ→g, ö→o, ü→u, ə→e, ä→a, ё→е), Latin look-alikes
    inside a Cyrillic word made Cyrillic, whitespace collapsed, and leading
    and trailing punctuation, symbols and emoji removed.
    """
    folded = " ".join(_fold(text).split())
    start, end = 0, len(folded)
    while start < end and not folded[start].isalnum():
        start += 1
    while end > start and not folded[end - 1].isalnum():
        end -= 1
    return folded[start:end]


def _fold_words(words: Iterable[str]) -> frozenset[str]:
    return frozenset(normalize(word) for word in words)


def _per_language(table: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    return {language: _fold_words(words) for language, words in table.items()}


_YES: Final = _per_language(sms_words.YES_WORDS)
_NO: Final = _per_language(sms_words.NO_WORDS)
_ZERO: Final = _per_language(sms_words.ZERO_WORDS)
_FILLER: Final = _per_language(sms_words.NUMBER_FILLER_WORDS)
_CARRIER: Final = _per_language(sms_words.CARRIER_KEYWORDS)


def _languages(language: str) -> tuple[str, ...]:
    """The patient's language (primary subtag) and English, in that order."""
    primary = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
    return (primary, "en") if primary != "en" else ("en",)


def _words_for(table: Mapping[str, frozenset[str]], language: str) -> frozenset[str]:
    words: frozenset[str] = frozenset()
    for code in _languages(language):
        words |= table.get(code, frozenset())
    return words


# --------------------------------------------------------------------------
# Keywords and staff acknowledgements
# --------------------------------------------------------------------------


def match_keyword(text: str, *, extra: Mapping[str, Iterable[str]] = _NO_EXTRA) -> Keyword | None:
    """The keyword the whole message is, or None.

    The carriers' English words always count; ``extra`` adds the protocol's
    words (``{"stop": [...], "start": [...], "help": [...]}``, all languages
    merged). The message must be the keyword alone: "please stop calling me"
    is not a STOP. If a word is listed under two keywords, stop wins, because
    an opt-out that is not honoured is the worse error (H11).
    """
    unknown = set(extra) - set(_KEYWORD_ORDER)
    if unknown:
        raise ValueError(f"unknown keyword kinds: {sorted(unknown)}")
    message = normalize(text)
    if not message:
        return None
    for kind in _KEYWORD_ORDER:
        words = _CARRIER[kind] | _fold_words(extra.get(kind, ()))
        if message in words:
            return kind
    return None


_ACK: Final = re.compile(r"(?:ack|аск)[\s:#-]+([0-9a-zа-яі]{3,16})")


def match_ack(text: str) -> str | None:
    """The alert code of a staff reply "ACK 4F7K" (any case), upper-cased, or None.

    Letters typed on a Cyrillic keyboard that look like Latin ones are read as
    Latin; an unknown code simply matches no alert.
    """
    match = _ACK.fullmatch(normalize(text))
    if match is None:
        return None
    code = match.group(1).translate(_CYRILLIC_TO_LATIN)
    if not (code.isascii() and code.isalnum()):
        return None
    return code.upper()


# --------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------


def format_choices(choices: Choices, language: str) -> str:
    """The numbered options of an SMS question: "1 none, 2 mild, 3 severe".

    Labels are in the patient's language, falling back to English, then to
    the value.
    """
    return ", ".join(
        f"{number} {_label(value, labels, language)}" for number, (value, labels) in enumerate(choices, start=1)
    )


def _label(value: str, labels: Mapping[str, str], language: str) -> str:
    for code in _languages(language):
        if labels.get(code):
            return labels[code]
    return value


def parse_reply(
    text: str,
    *,
    qtype: str,
    language: str,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: Choices = (),
    unit: str | None = None,
) -> bool | int | float | str:
    """The answer a reply gives to a question of type ``qtype``.

    ``minimum`` and ``maximum`` are inclusive. ``choices`` are
    ``(value, {language: label})`` in protocol order, numbered from 1 in the
    SMS. ``unit`` (optional, e.g. "°C", "kg", "mL", "bpm") makes a reply that
    carries another unit not understood, and any unit at all if ``unit`` is
    not one this module knows; without it any known unit is accepted.

    Raises ``ReplyNotUnderstood`` for a reply that cannot be read, and plain
    ``ValueError`` for a call that is itself wrong (unknown question type, a
    choice question without choices).
    """
    if qtype not in QUESTION_TYPES:
        raise ValueError(f"unknown question type {qtype!r}")
    unit_family = _unit_family(unit)
    if qtype == "boolean":
        return _parse_boolean(text, language)
    if qtype == "choice":
        if not choices:
            raise ValueError("a choice question needs choices")
        return _parse_choice(text, language, choices)
    if qtype == "number":
        value = _parse_number(text, language, unit_family, qtype)
        _check_range(value, minimum, maximum, "a number")
        return value
    whole = _parse_whole(text, language, unit_family, qtype, maximum)
    _check_range(whole, minimum, maximum, "a whole number")
    return whole


# --- yes / no -------------------------------------------------------------


def _parse_boolean(text: str, language: str) -> bool:
    message = normalize(text)
    if any(c.isdigit() for c in message):
        # "1" to a yes/no question could be "yes" or "option 1": ask again.
        raise ReplyNotUnderstood("digits are not read as yes or no", kind="not_yes_no")
    words = _LETTERS.findall(message)
    if not words:
        raise ReplyNotUnderstood("no yes or no word", kind="not_yes_no")
    yes, no = _words_for(_YES, language), _words_for(_NO, language)
    answers: set[bool] = set()
    for word in words:
        if word in yes:
            answers.add(True)
        elif word in no:
            answers.add(False)
        else:
            raise ReplyNotUnderstood("the reply has words other than yes or no", kind="not_yes_no")
    if len(answers) != 1:
        raise ReplyNotUnderstood("the reply says both yes and no", kind="not_yes_no")
    return answers.pop()


# --- numbers --------------------------------------------------------------

_UNIT_ALTERNATIVES: Final = "|".join(
    f"(?P<{family}>{'|'.join(patterns)})" for family, patterns in sms_words.UNIT_PATTERNS.items()
)
_UNIT: Final = re.compile(rf"\s*(?:{_UNIT_ALTERNATIVES})(?![^\W\d_])")
_NUMERIC_RUN: Final = re.compile(r"[0-9][0-9.,]*")
_VALID_NUMBER: Final = re.compile(r"([0-9]{1,12})(?:[.,]([0-9]{1,12}))?")
_STRAY_O: Final = re.compile(r"[0-9][oо]|[oо][0-9]")
_SIGNS: Final = frozenset("-−")
# Marks that make the number something other than the value: "5+" or ">5"
# vomiting episodes read as 5 would hide vomiting_severe (≥ 6); "5-" may be
# an unfinished range, "~38" an estimate, "/28" a fraction, "38%" a share.
_QUALIFIERS: Final = frozenset("+<>~≈±≥≤%/\\-–—−")
_SCALE_FRACTION: Final = re.compile(r"([0-9]{1,3})\s*/\s*([0-9]{1,3})")
# "5 von 10", "5 out of 10", "5 из 10", "5 з 10": a score out of the scale's maximum.
_SCALE_OUT_OF: Final = re.compile(r"([0-9]{1,3})\s+(?:out of|of|von|aus|из|з|із)\s+([0-9]{1,3})")


def _unit_family(unit: str | None) -> str | None:
    if unit is None:
        return None
    # A unit this module does not know (a new protocol's "mmHg") admits no
    # unit at all in the reply: a bare number is still read, "72 kg" is asked
    # again rather than accepted as something it may not be.
    return sms_words.UNIT_ALIASES.get(" ".join(unit.lower().split()), "unknown")


def _not_a_number(reason: str) -> ReplyNotUnderstood:
    return ReplyNotUnderstood(reason, kind="not_a_number")


def _parse_number(
    text: str,
    language: str,
    unit_family: str | None,
    qtype: str,
    check: Callable[[str, float], None] | None = None,
) -> float:
    """A signed decimal with an optional unit and allowed words around it.

    ``check(rest, value)`` judges what stands beside the number (the legacy word
    lists of ``language`` when None)."""
    if any(unicodedata.decomposition(c).startswith(("<super>", "<sub>")) for c in text.translate(_DEGREE_LIKE)):
        raise _not_a_number("superscript or subscript digits")
    message = _fold(text).strip()
    if _STRAY_O.search(message):
        raise _not_a_number("a letter O next to digits is not read as a zero")
    runs = list(_NUMERIC_RUN.finditer(message))
    if not runs:
        raise _not_a_number("no number in the reply")
    if len(runs) > 1:
        raise _not_a_number("more than one number in the reply")
    run = runs[0]
    digits = run.group(0)
    if digits[-1] in ".,":
        digits = digits[:-1]  # sentence end: "38.6." / "38,"
    number = _VALID_NUMBER.fullmatch(digits)
    if number is None:
        raise _not_a_number("malformed number (repeated separator)")
    if len(number.group(1)) > 1 and number.group(1).startswith("0"):
        # "038": 38, or 0.38 / 3.8 with a lost separator? Not guessed.
        raise _not_a_number("a leading zero before other digits")
    whole_part, fraction = number.group(1), number.group(2)
    if fraction is not None and len(fraction) == 3 and len(whole_part) <= 3 and not whole_part.startswith("0"):
        # "1,200" is 1.2 with a decimal comma and 1200 with a thousands comma.
        raise _not_a_number("ambiguous separator: thousands or decimals")

    before, after = message[: run.start()], message[run.end() :]
    negative = False
    if before and before[-1] in _SIGNS and (len(before) == 1 or before[-2].isspace()):
        negative = True
        before = before[:-1]
    if before and before[-1].isalpha():
        raise _not_a_number("letters stuck to the number")
    if before and before[-1] in ".,":
        raise _not_a_number("malformed number (separator before the digits)")

    unit_match = _UNIT.match(after)
    if unit_match is not None:
        family = unit_match.lastgroup
        if unit_family is not None and family != unit_family:
            raise _not_a_number(f"the unit does not fit this question ({unit_family})")
        after = after[unit_match.end() :]
    elif after and after[0].isalpha():
        raise _not_a_number("letters stuck to the number")

    if qtype == "scale" and unit_match is not None and unit_match.lastgroup != "count":
        # A pain score has no unit; "5 kg" to it is a misplaced answer.
        raise _not_a_number("a scale answer carries no unit")
    value = float(f"{whole_part}.{fraction or '0'}")
    value = -value if negative and value else value
    if check is None:
        _check_surroundings(before + " " + after, language)
    else:
        check(before + " " + after, value)
    return value


def _check_surroundings(rest: str, language: str) -> None:
    """Only allowed words, punctuation and emoji may stand next to the number."""
    for c in rest:
        if unicodedata.category(c).startswith("N"):
            raise _not_a_number("digits of another script")
        if c in _QUALIFIERS:
            raise _not_a_number("a mark next to the number (+, <, ~, -, /, %)")
    filler = _words_for(_FILLER, language)
    if any(word not in filler for word in _LETTERS.findall(rest)):
        raise _not_a_number("unexpected words next to the number")


def _parse_whole(
    text: str,
    language: str,
    unit_family: str | None,
    qtype: str,
    maximum: float | None,
) -> int:
    message = normalize(text)
    if message in _words_for(_ZERO, language):
        return 0
    fraction = _SCALE_FRACTION.fullmatch(message)
    if qtype == "scale" and fraction is not None:
        # "5/10" for a 0–10 score; "5/8" is not read.
        if maximum is None or int(fraction.group(2)) != maximum:
            raise _not_a_number("a fraction other than out of the scale's maximum")
        return int(fraction.group(1))
    value = _parse_number(text, language, unit_family, qtype)
    if not value.is_integer():
        raise ReplyNotUnderstood("not a whole number", kind="not_whole")
    return int(value)


def _format_limit(limit: float) -> str:
    return f"{limit:g}"


def _check_range(value: float, minimum: float | None, maximum: float | None, what: str) -> None:
    if (minimum is None or value >= minimum) and (maximum is None or value <= maximum):
        return
    if minimum is not None and maximum is not None:
        limits = f"between {_format_limit(minimum)} and {_format_limit(maximum)}"
    elif minimum is not None:
        limits = f"at least {_format_limit(minimum)}"
    else:
        assert maximum is not None
        limits = f"at most {_format_limit(maximum)}"
    raise ReplyNotUnderstood(f"expected {what} {limits}", kind="out_of_range")


# --- choices --------------------------------------------------------------

_TYPO_MIN_LENGTH: Final = 5


def _parse_choice(text: str, language: str, choices: Choices) -> str:
    message = normalize(text)
    runs = re.findall(r"[0-9]+(?:[.,][0-9]+)?", message)
    words = " ".join(_LETTERS.findall(message))
    leftovers = re.sub(r"[0-9.,]|[^\W\d_]", "", message)
    if any(unicodedata.category(c).startswith("N") for c in leftovers):
        raise ReplyNotUnderstood("digits of another script", kind="not_a_choice")
    if len(runs) > 1:
        raise ReplyNotUnderstood("more than one number", kind="not_a_choice")
    by_number = _choice_by_number(runs[0], choices) if runs else None
    by_word = _choice_by_word(words, language, choices) if words else None
    if by_number is not None and by_word is not None and by_number != by_word:
        raise ReplyNotUnderstood("the option number and the word disagree", kind="not_a_choice")
    chosen = by_number if by_number is not None else by_word
    if chosen is None:
        raise ReplyNotUnderstood("no option number or word", kind="not_a_choice")
    return chosen


def _choice_by_number(run: str, choices: Choices) -> str:
    if not run.isdigit() or not 1 <= int(run) <= len(choices):
        raise ReplyNotUnderstood(f"expected an option number from 1 to {len(choices)}", kind="not_a_choice")
    return choices[int(run) - 1][0]


def _choice_by_word(words: str, language: str, choices: Choices) -> str:
    names: list[tuple[str, str]] = []  # (folded name, value)
    for value, labels in choices:
        candidates = {value, labels.get("en", "")}
        candidates.update(labels.get(code, "") for code in _languages(language))
        for candidate in candidates:
            name = " ".join(_LETTERS.findall(normalize(candidate)))  # as the reply's words
            if name:
                names.append((name, value))

    exact = {value for name, value in names if name == words}
    if not exact:
        exact = {value for name, value in names if len(name) >= _TYPO_MIN_LENGTH and _within_one_edit(words, name)}
    if len(exact) > 1:
        raise ReplyNotUnderstood("the word fits several options", kind="not_a_choice")
    if not exact:
        raise ReplyNotUnderstood("the word is not one of the options", kind="not_a_choice")
    return exact.pop()


def _within_one_edit(a: str, b: str) -> bool:
    """At most one insertion, deletion, substitution or swap of neighbours."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    prefix = 0
    while prefix < min(len(a), len(b)) and a[prefix] == b[prefix]:
        prefix += 1
    a, b = a[prefix:], b[prefix:]
    if len(a) == len(b):
        return a[1:] == b[1:] or (len(a) >= 2 and a[:2] == b[1::-1] and a[2:] == b[2:])
    if len(a) > len(b):
        return a[1:] == b
    return b[1:] == a


# ==========================================================================
# Replies in the patient's own words (answer vocabularies)
# ==========================================================================

_CLAUSE_BREAK: Final = frozenset(",;.!?\n:()")
# Words that start another clause ("опух, но терпимо", "yok ama biraz"): a phrase or
# a negation never spans one. They stay words (a filler, or an unexpected word
# beside a number) in a clause of their own. Folded forms.
_CLAUSE_WORDS: Final = frozenset({"but", "но", "але", "aber", "ama", "amma", "lakin", "fakat"})
# A word keeps its inner apostrophes ("п'ю", "sil'no", "don't"; see vocabulary.lower).
_TOKEN: Final = re.compile(rf"{VOCAB_LETTERS.pattern}|[,;.!?\n:()]")
_TYPO_CLOSE: Final = 1
_TYPO_NEAR: Final = 2
_HOMOGLYPH_LATIN: Final = frozenset("abcehikmoptxy")
_CYRILLIC_LANGUAGES: Final = ("ru", "uk")


@dataclass(frozen=True)
class _Lexicon:
    """What answers one question in one language: ``(value, phrase)`` entries and
    the indexes used to tell known words from unknown ones."""

    entries: tuple[tuple[Answer, Phrase], ...]
    general: frozenset[int]  # indexes of entries from the general yes/no lists
    negative: frozenset[int]  # indexes of entries that are themselves a no or hold a negation
    idioms: tuple[Phrase, ...]  # longer phrases of the language that answer something else
    multi: tuple[tuple[str, Answer, Phrase], ...]  # multi-word entries, folded, for typos
    meanings: Mapping[str, frozenset[Answer]]  # folded word -> values of phrases holding it
    answer_words: tuple[Word, ...]
    known_keys: frozenset[str]
    known_roots: frozenset[str]
    known_skeletons: frozenset[tuple[bool, str]]


@dataclass
class _Reading:
    values: set[Answer]
    matched: bool = False
    unsure: bool = False
    dropped: bool = False
    split: bool = False  # a phrase split by a clause break would read otherwise


_lexicons: dict[tuple[LanguageVocabulary, str, str, tuple[tuple[str, str], ...]], _Lexicon] = {}
_lexicon_lock = threading.Lock()


def _primary(language: str) -> str:
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


def _labels_key(question: Question, language: str) -> tuple[tuple[str, str], ...]:
    return tuple((value, labels.get(language, "")) for value, labels in question.choice_labels())


def _lexicon(lv: LanguageVocabulary, question: Question) -> _Lexicon:
    key = (lv, question.id, question.type, _labels_key(question, lv.language))
    cached = _lexicons.get(key)
    if cached is not None:
        return cached
    entries: list[tuple[Answer, Phrase]] = []
    general: set[int] = set()
    if question.type == "boolean":
        for polarity, phrases in ((True, lv.yes), (False, lv.no)):
            for phrase in phrases:
                general.add(len(entries))
                entries.append((polarity, phrase))
    elif question.type == "choice":
        for value, labels in question.choice_labels():
            label = labels.get(lv.language)
            if label:
                entries.append((value, lv.phrase(label)))
            if lv.language == "en":
                entries.append((value, lv.phrase(value.replace("_", " "))))
    else:
        for phrase, number in lv.number_words:
            entries.append((number, phrase))
        for zero in sms_words.ZERO_WORDS.get(lv.language, ()):
            entries.append((0, lv.phrase(zero)))
    entries.extend(lv.questions.get(question.id, ()))
    if question.type in ("integer", "scale"):
        entries = [(a, p) for a, p in entries if not isinstance(a, float) or a.is_integer()]
        entries = [(int(a) if isinstance(a, float) else a, p) for a, p in entries]
    meanings: dict[str, set[Answer]] = {}
    answer_words: dict[str, Word] = {}
    alone: dict[str, set[Answer]] = {}
    for answer, phrase in entries:
        for w in phrase.words:
            meanings.setdefault(w.folded, set()).add(answer)
            answer_words.setdefault(w.folded, w)
        if len(phrase.words) == 1:
            alone.setdefault(phrase.words[0].folded, set()).add(answer)
    meanings.update(alone)  # a word that is an answer on its own means that answer
    known = [*lv.known, *answer_words.values()]
    negators = [w for phrase in lv.negations for w in phrase.words]
    negators += [phrase.words[0] for phrase in lv.no if len(phrase.words) == 1]
    negative = {
        index
        for index, (answer, phrase) in enumerate(entries)
        if answer is False or any(w.matches(n) for w in phrase.words for n in negators)
    }
    own = {phrase.folded for _, phrase in entries}
    everything: list[Phrase] = [*lv.yes, *lv.no, *lv.fillers, *lv.approximately, *lv.call_me, *lv.unsure]
    everything += [phrase for phrase, _ in lv.number_words]
    everything += [phrase for entries_of in lv.questions.values() for _, phrase in entries_of]
    idioms: dict[str, Phrase] = {}
    for phrase in everything:
        holds_negation = any(w.matches(n) for w in phrase.words for n in negators)
        if len(phrase.words) > 1 and phrase.folded not in own and not holds_negation:
            idioms.setdefault(phrase.folded, phrase)
    lexicon = _Lexicon(
        entries=tuple(entries),
        general=frozenset(general),
        negative=frozenset(negative),
        idioms=tuple(idioms.values()),
        multi=tuple((phrase.folded, answer, phrase) for answer, phrase in entries if len(phrase.words) > 1),
        meanings=MappingProxyType({k: frozenset(v) for k, v in meanings.items()}),
        answer_words=tuple(answer_words.values()),
        known_keys=frozenset(k for w in known for k in w.keys),
        known_roots=frozenset(k for w in known for k in w.roots),
        known_skeletons=frozenset((w.latin, w.skeleton) for w in known),
    )
    with _lexicon_lock:
        _lexicons[key] = lexicon
    return lexicon


def _is_known(w: Word, lexicon: _Lexicon) -> bool:
    if w.roots & lexicon.known_roots:
        return True
    return (not w.latin, w.skeleton) in lexicon.known_skeletons and transliterates(w, not w.latin, w.skeleton)


def _tokens(text: str, lv: LanguageVocabulary) -> tuple[list[Word], list[int]]:
    words: list[Word] = []
    clauses: list[int] = []
    clause = 0
    for match in _TOKEN.finditer(vocab_lower(text)):
        token = match.group(0)
        if token in _CLAUSE_BREAK:
            clause += 1
            continue
        w = vocab_word(token, lv.language, lv.suffixes)
        breaks = w.folded in _CLAUSE_WORDS
        clause += breaks
        words.append(w)
        clauses.append(clause)
        clause += breaks
    return words, clauses


def _typo_fixed(words: list[Word], clauses: Sequence[int], lexicon: _Lexicon) -> list[Word]:
    """Replace an unknown word by the one answer word it is a typo of: one edit from
    exactly one word of 5+ letters, and no word of another meaning two edits away."""
    fixed = list(words)
    for index, w in enumerate(words):
        if len(w.folded) < _TYPO_MIN_LENGTH - 1 or _is_known(w, lexicon):
            continue
        near_limit = _typo_near(len(w.folded))
        close: list[Word] = []
        near: list[Word] = []
        for candidate in lexicon.answer_words:
            if candidate.latin != w.latin or abs(len(candidate.folded) - len(w.folded)) > near_limit:
                continue
            distance = OSA.distance(w.folded, candidate.folded, score_cutoff=near_limit)
            if distance <= _TYPO_CLOSE and len(candidate.folded) >= _TYPO_MIN_LENGTH:
                if _typo_flips_negation(w.folded, candidate.folded):
                    return words  # a word that may be a negated one: not guessed
                close.append(candidate)
            elif distance <= near_limit:
                near.append(candidate)
        if not close:
            continue
        meaning = lexicon.meanings.get(close[0].folded, frozenset())
        if all(lexicon.meanings.get(other.folded, frozenset()) == meaning for other in [*close, *near]):
            fixed[index] = close[0]
    return _phrase_typos_fixed(fixed, clauses, lexicon)


# Letters a typo must not add, drop or change: the negation marker of a Turkish or
# Azerbaijani verb (-mıyor / -ıyor, -mır / -ır: "daralmıyor" is not "daralıyor") and
# the German "kein" / "ein". Reading one as the other would turn a no into a yes (H4),
# so such a word is asked again instead.
_NEGATION_LETTERS: Final = frozenset("mk")


def _typo_flips_negation(typed: str, candidate: str) -> bool:
    for op in Levenshtein.editops(typed, candidate):
        touched = set()
        if op.tag in ("delete", "replace"):
            touched.add(typed[op.src_pos])
        if op.tag in ("insert", "replace"):
            touched.add(candidate[op.dest_pos])
        if touched & _NEGATION_LETTERS:
            return True
    return False


def _typo_near(length: int) -> int:
    """How far another option may be before a typo is too ambiguous to fix: one
    edit for short words, two from eight letters on."""
    return _TYPO_CLOSE if length < 8 else _TYPO_NEAR


def _phrase_typos_fixed(words: list[Word], clauses: Sequence[int], lexicon: _Lexicon) -> list[Word]:
    """The same rule over a run of words against a phrase of 5+ letters ("a litle",
    "bir as"): one edit from exactly one phrase, none of another meaning near."""
    for size in (2, 3):
        for start in range(len(words) - size + 1):
            window = words[start : start + size]
            if clauses[start] != clauses[start + size - 1] or all(_is_known(w, lexicon) for w in window):
                continue
            typed = " ".join(w.folded for w in window)
            close: dict[str, tuple[Answer, Phrase]] = {}
            near: set[Answer] = set()
            near_limit = _typo_near(len(typed))
            for folded, answer, phrase in lexicon.multi:
                if len(phrase.words) != size or abs(len(folded) - len(typed)) > near_limit:
                    continue
                distance = OSA.distance(typed, folded, score_cutoff=near_limit)
                if distance <= _TYPO_CLOSE and len(folded.replace(" ", "")) >= _TYPO_MIN_LENGTH:
                    if _typo_flips_negation(typed, folded):
                        return words
                    close[folded] = (answer, phrase)
                elif distance <= near_limit:
                    near.add(answer)
            if len({answer for answer, _ in close.values()}) == 1:
                answer, phrase = next(iter(close.values()))
                if near <= {answer}:
                    words = [*words[:start], *phrase.words, *words[start + size :]]
    return words


Occurrence = tuple[int, int, int]  # start, end, entry index


def _find(
    words: Sequence[Word], phrases: Sequence[Phrase], clauses: Sequence[int], *, single_letters: bool
) -> list[tuple[int, int, int]]:
    """Where each phrase occurs in ``words``, never across a clause break."""
    found: list[tuple[int, int, int]] = []
    count = len(words)
    for number, phrase in enumerate(phrases):
        size = len(phrase.words)
        if not size or size > count:
            continue
        if size == 1 and len(phrase.words[0].folded) == 1 and not (single_letters and count == 1):
            continue
        first = phrase.words[0]
        for start in range(count - size + 1):
            if clauses[start] != clauses[start + size - 1] and not _correlative(phrase, clauses, start):
                continue
            if words[start].matches(first) and all(words[start + k].matches(phrase.words[k]) for k in range(1, size)):
                found.append((start, start + size, number))
    return found


def _correlative(phrase: Phrase, clauses: Sequence[int], start: int) -> bool:
    """The only phrase that spans a clause break: one that repeats its first word
    right after a single punctuation break ("nə sağ, nə sol": neither right nor left)."""
    first = phrase.words[0].folded
    for k in range(1, len(phrase.words)):
        step = clauses[start + k] - clauses[start + k - 1]
        if step and (step != 1 or phrase.words[k].folded != first):
            return False
    return True


def _covered(span: tuple[int, int], spans: Iterable[tuple[int, int]]) -> bool:
    """``span`` lies inside a longer one of ``spans``."""
    return any(s <= span[0] and span[1] <= e and e - s > span[1] - span[0] for s, e in spans)


def _read_in(
    text: str,
    lv: LanguageVocabulary,
    question: Question,
    *,
    own: bool,
    words_and_clauses: tuple[list[Word], list[int]] | None = None,
) -> _Reading:
    """The values the words of ``text`` give in one language (may be several)."""
    lexicon = _lexicon(lv, question)
    words, clauses = words_and_clauses or _tokens(text, lv)
    if not words:
        return _Reading(values=set())
    if own:
        words = _typo_fixed(words, clauses, lexicon)
    phrases = [phrase for _, phrase in lexicon.entries]
    answers = _find(words, phrases, clauses, single_letters=own)
    spans = [(s, e) for s, e, _ in answers]
    answers = [a for a in answers if not _covered((a[0], a[1]), spans)]
    # A word inside a longer phrase that answers something else is not this
    # answer: "bir az" (a little) holds "bir" (one) but is no leg.
    idioms = [(s, e) for s, e, _ in _find(words, lexicon.idioms, clauses, single_letters=False)]
    blocked = [a for a in answers if _covered((a[0], a[1]), idioms)]
    answers = [a for a in answers if a not in blocked]
    negation_words = [phrase.words[0] for phrase in lv.negations if len(phrase.words) == 1]
    spans = [(s, e) for s, e, _ in answers]
    # "не смотрел" (did not look): a bare no that negates a verb it does not know
    # is no answer to the question.
    particles = [
        a
        for a in answers
        if a[1] - a[0] == 1
        and a[2] in lexicon.general
        and a[1] < len(words)
        and clauses[a[1]] == clauses[a[0]]
        and not _covered((a[1], a[1] + 1), spans)
        and not any(s <= a[1] < e for s, e in spans)
        and any(words[a[0]].matches(n) for n in negation_words)
        and is_verb(words[a[1]].folded, lv.language)
    ]
    answers = [a for a in answers if a not in particles]
    blocked += particles
    spans = [(s, e) for s, e, _ in answers]
    reading = _Reading(values=set(), matched=bool(answers or blocked))
    for s, e, _ in _find(words, lv.unsure, clauses, single_letters=False):
        if not _covered((s, e), spans):
            reading.unsure = reading.matched = True
    no_words = [phrase for phrase in lv.no if len(phrase.words) == 1]
    # (span, is a plain particle): a negation that is also a plain no ("yok", "нет")
    # never negates a plain yes ("var yok", "да нет" say both); a particle does
    # ("не было").
    negations: list[tuple[tuple[int, int], bool]] = []
    for s, e, _ in _find(words, lv.negations, clauses, single_letters=False):
        if _covered((s, e), spans):
            continue
        is_no = e - s == 1 and any(words[s].matches(p.words[0]) for p in no_words)
        negations.append(((s, e), not is_no))
    for s, e, number in answers:
        if number in lexicon.negative and number not in lexicon.general:
            negations.append(((s, e), False))  # "bacaklarımda | şişlik yok"
    fillers = {i for s, e, _ in _find(words, lv.fillers, clauses, single_letters=False) for i in range(s, e)}

    def negation_at(
        position: int, clause: int, step: int, own_span: tuple[int, int], general: bool
    ) -> tuple[int, int] | None:
        while 0 <= position < len(words) and clauses[position] == clause:
            for span, particle in negations:
                if span != own_span and span[0] <= position < span[1] and (particle or not general):
                    return span
            if position not in fillers:
                return None
            position += step
        return None

    consumed: set[tuple[int, int]] = set()
    negator_values: set[Answer] = set()
    results: list[tuple[tuple[int, int], Answer | None]] = []
    for start, end, number in answers:
        answer = lexicon.entries[number][0]
        negation = None
        if number not in lexicon.negative:
            general = number in lexicon.general
            negation = negation_at(start - 1, clauses[start], -1, (start, end), general) or negation_at(
                end, clauses[end - 1], 1, (start, end), general
            )
        if negation is not None and any((s, e) == negation and lexicon.entries[n][0] == answer for s, e, n in answers):
            negation = None  # "no, it's flat": the no agrees with the answer it stands by
        if negation is not None:
            consumed.add(negation)
            negator_values |= {lexicon.entries[n][0] for s, e, n in answers if (s, e) == negation}
            if not isinstance(answer, bool):
                reading.dropped = True
            results.append(((start, end), False if answer is True else None))
        else:
            results.append(((start, end), answer))
    for (start, end), outcome in results:
        if outcome is None:
            continue
        if (start, end) in consumed and end - start == 1:
            continue  # a lone "yok" that negated its neighbour is not an answer of its own
        reading.values.add(outcome)
    if reading.dropped and reading.values - negator_values:
        # "ikisi de yok, sadece sol": neither, or only the left? Asked again.
        reading.unsure = True
    # "не, рвёт": "no, I'm vomiting" in two clauses, but "не рвёт" (not vomiting) if
    # the comma is a slip. A phrase that only a clause break keeps from matching,
    # and that would give another value, leaves the reply in doubt.
    across = _find(words, phrases, [0] * len(words), single_letters=own)
    within = set(_find(words, phrases, clauses, single_letters=own))
    if any(a not in within and lexicon.entries[a[2]][0] not in reading.values for a in across):
        reading.split = True
    return reading


_VARIANT_WORD: Final = re.compile(r"[^\W\d_]+(?:['\u2019\u2018\u02b9`\u00b4\u2032][^\W\d_]+)*")


def _homoglyph_variant(text: str) -> str | None:
    """``text`` with Latin words made only of Cyrillic look-alikes ("He") written in
    Cyrillic ("Не"), or None when there is no such word."""
    changed = False

    def swap(match: re.Match[str]) -> str:
        nonlocal changed
        token = match.group(0)
        if token.isascii() and set(token.lower()) <= _HOMOGLYPH_LATIN:
            changed = True
            return token.lower().translate(LATIN_TO_CYRILLIC)
        return token

    variant = _VARIANT_WORD.sub(swap, text)
    return variant if changed else None


def _other_languages(vocabulary: AnswerVocabulary, language: str) -> list[LanguageVocabulary]:
    return [lv for code, lv in vocabulary.languages.items() if code != language]


def _read_words(
    text: str,
    *,
    question: Question,
    language: str,
    vocabulary: AnswerVocabulary,
    kind: NotUnderstoodKind,
) -> Answer | None:
    """The one value the words of the reply give, None when no word answers, or
    ReplyNotUnderstood when they could mean two things (H4).

    The patient's language first; a reply that has no answer word in it is read in
    the other languages when every language that knows its words agrees."""
    own_lv = vocabulary.get(language) or empty_language(language)
    own = _read_in(text, own_lv, question, own=True)
    variant = _homoglyph_variant(text)
    if own.unsure:
        raise ReplyNotUnderstood("no definite answer (doubt expressed)", kind=kind)
    if own.split:
        raise ReplyNotUnderstood("a phrase split by a clause break reads otherwise", kind=kind)
    if len(own.values) > 1:
        raise ReplyNotUnderstood("the reply fits several answers", kind=kind)
    if own.values:
        if variant is not None and language in _CYRILLIC_LANGUAGES:
            other = _read_in(variant, own_lv, question, own=False)
            if other.values - own.values:
                raise ReplyNotUnderstood("a word reads differently in another alphabet", kind=kind)
        return next(iter(own.values))
    if own.matched:
        raise ReplyNotUnderstood("the answer words are negated", kind=kind)

    values: set[Answer] = set()
    for lv in _other_languages(vocabulary, language):
        readings = [_read_in(text, lv, question, own=False)]
        if variant is not None and lv.language in _CYRILLIC_LANGUAGES:
            readings.append(_read_in(variant, lv, question, own=False))
        for reading in readings:
            if reading.unsure or reading.split or (reading.matched and not reading.values):
                raise ReplyNotUnderstood("the reply reads differently in another language", kind=kind)
            values |= reading.values
    if variant is not None and language in _CYRILLIC_LANGUAGES:
        values |= _read_in(variant, own_lv, question, own=False).values
    if len(values) > 1:
        raise ReplyNotUnderstood("the reply means different things in different languages", kind=kind)
    return next(iter(values)) if values else None


# --- the entry points ------------------------------------------------------


def reply_read(
    text: str,
    *,
    question: Question,
    language: str,
    vocabulary: AnswerVocabulary,
) -> bool | int | float | str:
    """The strict value a reply gives to ``question``, or ReplyNotUnderstood.

    bool for a boolean question, int for integer and scale, float for number, the
    choice value for a choice. The reply may be an option's number, its label, a
    word or phrase of the protocol's answer vocabulary (inflected, without
    diacritics, on another keyboard, with one typo in a long word, inside a
    longer sentence), negated ("not much"), or a number with a unit and allowed
    words. Whatever could mean two things is refused (H4).
    """
    language = _primary(language)
    if question.type == "boolean":
        return _reply_boolean(text, question, language, vocabulary)
    if question.type == "choice":
        return _reply_choice(text, question, language, vocabulary)
    if question.type in ("integer", "number", "scale"):
        if language in _COPULA_LANGUAGES:
            text = _COPULA.sub("", text)
        text = _spoken_decimal(text, language)
        return _reply_numeric(text, question, language, vocabulary)
    raise ValueError(f"unknown question type {question.type!r}")


# Turkish and Azerbaijani put "is" on the end of the last word, after a hyphen, an
# apostrophe or nothing: "37,8-dir", "38,5'tir", "80 kq-dır". Only at the very end of
# the reply and right after a digit, a unit letter or its mark, so "bir" (one) and a
# hyphen touching the digits for any other reason ("5-6") still count as what they are.
_COPULA_LANGUAGES: Final = frozenset({"tr", "az"})
# A decimal said in words, as patients write it: "37 buçuk" / "37 yarım" (and a half),
# "38 komma 2". Only right after the digits; anything else is left to the number rules.
_HALF: Final = re.compile(r"(?<![0-9.,])([0-9]{1,3})\s+(?:buçuk|bucuk|yarım|yarim)\b", re.IGNORECASE)
_KOMMA: Final = re.compile(r"(?<![0-9.,])([0-9]{1,3})\s*komma\s*([0-9]{1,2})(?![0-9.,])", re.IGNORECASE)


def _spoken_decimal(text: str, language: str) -> str:
    if language in ("tr", "az"):
        return _HALF.sub(r"\1,5", text)
    if language == "de":
        return _KOMMA.sub(r"\1,\2", text)
    return text


_COPULA: Final = re.compile(r"(?<=[0-9a-zA-Zçğıöşüə°])['’\-]?[dt][iıuüİI][rR](?=[\s.!,]*$)")


def asks_for_call(text: str, *, language: str, vocabulary: AnswerVocabulary) -> bool:
    """The reply asks for a call ("call me", "beni arayın", "перезвоните мне"), in the
    patient's language or another one, and not negated ("don't call me")."""
    language = _primary(language)
    ordered = [vocabulary.get(language), *_other_languages(vocabulary, language)]
    for lv in ordered:
        if lv is None or not lv.call_me:
            continue
        words, clauses = _tokens(text, lv)
        if not words:
            return False
        found = _find(words, lv.call_me, clauses, single_letters=False)
        negations = _find(words, lv.negations, clauses, single_letters=False)
        for start, end, _ in found:
            before = start - 1
            after = end
            negated = any(
                (s <= before < e and clauses[before] == clauses[start])
                or (s <= after < e and clauses[after] == clauses[end - 1])
                for s, e, _ in negations
            )
            if not negated:
                return True
    return False


def _reply_boolean(text: str, question: Question, language: str, vocabulary: AnswerVocabulary) -> bool:
    message = normalize(text)
    if any(c.isdigit() for c in message):
        raise ReplyNotUnderstood("digits are not read as yes or no", kind="not_yes_no")
    value = _read_words(text, question=question, language=language, vocabulary=vocabulary, kind="not_yes_no")
    if value is None:
        raise ReplyNotUnderstood("no yes or no word", kind="not_yes_no")
    assert isinstance(value, bool)
    return value


def _reply_choice(text: str, question: Question, language: str, vocabulary: AnswerVocabulary) -> str:
    choices = question.choice_labels()
    message = normalize(text)
    runs = re.findall(r"[0-9]+(?:[.,][0-9]+)?", message)
    leftovers = re.sub(r"[0-9.,]|[^\W\d_]", "", message)
    if any(unicodedata.category(c).startswith("N") for c in leftovers):
        raise ReplyNotUnderstood("digits of another script", kind="not_a_choice")
    if len(runs) > 1:
        raise ReplyNotUnderstood("more than one number", kind="not_a_choice")
    by_number = _choice_by_number(runs[0], choices) if runs else None
    by_word = _read_words(text, question=question, language=language, vocabulary=vocabulary, kind="not_a_choice")
    if by_number is not None and by_word is not None and by_number != by_word:
        raise ReplyNotUnderstood("the option number and the word disagree", kind="not_a_choice")
    if by_number is not None and by_word is None and _has_option_words(text, question, language, vocabulary):
        # "1 leg": a count of legs, not option 1.
        raise ReplyNotUnderstood("the number may be a count, not an option", kind="not_a_choice")
    chosen = by_number if by_number is not None else by_word
    if chosen is None:
        raise ReplyNotUnderstood("no option number or word", kind="not_a_choice")
    assert isinstance(chosen, str)
    return chosen


def _has_option_words(text: str, question: Question, language: str, vocabulary: AnswerVocabulary) -> bool:
    lv = vocabulary.get(language) or empty_language(language)
    lexicon = _lexicon(lv, question)
    words, clauses = _tokens(text, lv)
    fillers = {i for s, e, _ in _find(words, lv.fillers, clauses, single_letters=False) for i in range(s, e)}
    return any(
        index not in fillers and any(w.matches(candidate) for candidate in lexicon.answer_words)
        for index, w in enumerate(words)
        if len(w.folded) > 2
    )


# --- numbers in the patient's words -----------------------------------------


def _question_words(question: Question, lv: LanguageVocabulary) -> frozenset[str]:
    """Keys of the words of the question's own wording (a patient may echo them:
    "ateşim 38", "kusma 2 kez"), less the words that qualify a number."""
    key = ("question-words", lv, question.id)
    cached = _question_word_cache.get(key)
    if cached is not None:
        return cached
    qualifiers = {normalize(w) for w in sms_words.NUMBER_QUALIFIER_WORDS.get(lv.language, ())}
    negations = {w.folded for p in lv.negations for w in p.words}
    keys: set[str] = set()
    for source in (question.sms, question.text):
        for token in VOCAB_LETTERS.findall(vocab_lower(source.get(lv.language, ""))):
            w = vocab_word(token, lv.language, lv.suffixes)
            if w.folded not in qualifiers and w.folded not in negations:
                keys |= w.keys
    result = frozenset(keys)
    _question_word_cache[key] = result
    return result


_question_word_cache: dict[tuple[str, LanguageVocabulary, str], frozenset[str]] = {}


def _allowed_words(question: Question, lv: LanguageVocabulary) -> tuple[frozenset[str], tuple[Word, ...]]:
    """Words that may stand beside a number: the question's own wording, fillers,
    "about" words, yes words ("var, 38"), the legacy filler lists."""
    key = ("allowed", lv, question.id)
    cached = _allowed_cache.get(key)
    if cached is not None:
        return cached
    found: list[Word] = []
    for phrases in (lv.fillers, lv.approximately, lv.yes):
        for phrase in phrases:
            found.extend(phrase.words)
    for code in (lv.language, "en"):
        for filler in sms_words.NUMBER_FILLER_WORDS.get(code, ()):
            found.append(vocab_word(vocab_lower(filler), lv.language, lv.suffixes))
    result = (_question_words(question, lv), tuple(found))
    _allowed_cache[key] = result
    return result


_allowed_cache: dict[tuple[str, LanguageVocabulary, str], tuple[frozenset[str], tuple[Word, ...]]] = {}


def _surroundings_check(
    question: Question, lv: LanguageVocabulary, unit_family: str | None
) -> Callable[[str, float], None]:
    qualifiers = {normalize(w) for w in sms_words.NUMBER_QUALIFIER_WORDS.get(lv.language, ())}
    qualifiers |= {normalize(w) for w in sms_words.NUMBER_QUALIFIER_WORDS["en"]}

    def check(rest: str, value: float) -> None:
        rest = _HYPHENATED.sub(lambda m: _unhyphenated(m.group(0), lv), rest)
        for c in rest:
            if unicodedata.category(c).startswith("N"):
                raise _not_a_number("digits of another script")
            if c in _QUALIFIERS:
                raise _not_a_number("a mark next to the number (+, <, ~, -, /, %)")
        _check_number_words(rest, question, lv, unit_family, qualifiers, value, covered=set())

    return check


# A hyphenated word: letters on both sides of every hyphen ("где-то", "плюс-минус").
_HYPHENATED: Final = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+")


def _unhyphenated(compound: str, lv: LanguageVocabulary) -> str:
    """A hyphenated "about" or filler word of the vocabulary ("где-то 4", "плюс-минус
    4") with spaces for its hyphens; any other one as it is (its hyphen is a mark
    next to the number). A hyphen touching a digit is never inside such a word."""
    words, clauses = _tokens(compound.replace("-", " "), lv)
    whole = (0, len(words))
    for phrases in (lv.approximately, lv.fillers):
        if any((s, e) == whole for s, e, _ in _find(words, phrases, clauses, single_letters=False)):
            return compound.replace("-", " ")
    return compound


def _check_number_words(
    rest: str,
    question: Question,
    lv: LanguageVocabulary,
    unit_family: str | None,
    qualifiers: set[str],
    value: float | None,
    *,
    covered: set[int],
) -> None:
    """Every word beside the number must be one that does not change it."""
    words, clauses = _tokens(rest, lv)
    approximately = {
        i for s, e, _ in _find(words, lv.approximately, clauses, single_letters=False) for i in range(s, e)
    }
    negations = {i for s, e, _ in _find(words, lv.negations, clauses, single_letters=False) for i in range(s, e)}
    unsure = _find(words, lv.unsure, clauses, single_letters=False)
    if unsure:
        raise _not_a_number("no definite answer (doubt expressed)")
    question_keys, allowed = _allowed_words(question, lv)
    lexicon = _lexicon(lv, question)
    for index, w in enumerate(words):
        if index in covered or index in approximately:
            continue
        if index in negations or w.folded in qualifiers:
            raise _not_a_number("a word next to the number changes it (not, more, less)")
        if w.keys & question_keys or any(w.matches(a) for a in allowed) or _unit_word(w.folded, unit_family):
            continue
        if value is not None and any(
            answer == value and any(w.matches(pw) for pw in phrase.words) for answer, phrase in lexicon.entries
        ):
            continue
        raise _not_a_number("unexpected words next to the number")


def _unit_word(folded: str, unit_family: str | None) -> bool:
    match = _UNIT.fullmatch(folded)
    if match is None:
        return False
    if unit_family is not None and match.lastgroup != unit_family:
        raise _not_a_number(f"the unit does not fit this question ({unit_family})")
    return True


def _reply_numeric(text: str, question: Question, language: str, vocabulary: AnswerVocabulary) -> int | float:
    lv = vocabulary.get(language) or empty_language(language)
    unit_family = _unit_family(question.unit)
    whole = question.type != "number"
    maximum = float(question.max) if question.max is not None else None
    minimum = float(question.min) if question.min is not None else None
    message = normalize(text)
    has_digits = any(unicodedata.category(c).startswith("N") for c in text.translate(_DEGREE_LIKE))
    value: float
    if has_digits:
        fraction = _SCALE_FRACTION.fullmatch(message) or _SCALE_OUT_OF.fullmatch(message)
        if question.type == "scale" and fraction is not None:
            if maximum is None or int(fraction.group(2)) != maximum:
                raise _not_a_number("a fraction other than out of the scale's maximum")
            value = float(fraction.group(1))
        else:
            check = _surroundings_check(question, lv, unit_family)
            value = _parse_number(text, language, unit_family, question.type, check)
    else:
        words_value = _number_in_words(text, question, language, vocabulary, unit_family)
        if words_value is None:
            raise _not_a_number("no number in the reply")
        value = float(words_value)
    if whole:
        if not value.is_integer():
            raise ReplyNotUnderstood("not a whole number", kind="not_whole")
        _check_range(value, minimum, maximum, "a whole number")
        return int(value)
    _check_range(value, minimum, maximum, "a number")
    return value


def _number_in_words(
    text: str, question: Question, language: str, vocabulary: AnswerVocabulary, unit_family: str | None
) -> float | None:
    """A number written in words ("iki kere", "twice", per-question "hiç" → 0)."""
    own_lv = vocabulary.get(language) or empty_language(language)
    ordered = [own_lv, *_other_languages(vocabulary, language)]
    found: set[float] = set()
    for lv in ordered:
        value = _number_words_in(text, question, lv, unit_family, own=lv is own_lv)
        if value is not None:
            if lv is own_lv:
                return value
            found.add(value)
    if len(found) > 1:
        raise _not_a_number("the words mean different numbers in different languages")
    return found.pop() if found else None


def _number_words_in(
    text: str, question: Question, lv: LanguageVocabulary, unit_family: str | None, *, own: bool
) -> float | None:
    lexicon = _lexicon(lv, question)
    words, clauses = _tokens(text, lv)
    if not words:
        return None
    phrases = [phrase for _, phrase in lexicon.entries]
    answers = _find(words, phrases, clauses, single_letters=own)
    spans = [(s, e) for s, e, _ in answers]
    answers = sorted(a for a in answers if not _covered((a[0], a[1]), spans))
    if not answers:
        return None
    negations = [
        (s, e) for s, e, _ in _find(words, lv.negations, clauses, single_letters=False) if not _covered((s, e), spans)
    ]
    for start, end, _ in answers:
        for s, e in negations:
            if e == start or s == end:
                raise _not_a_number("a negated number")
    # Adjacent number words combine: "otuz sekiz" = 38, "iki buçuk" = 2.5.
    groups: list[list[float]] = []
    last_end = -1
    for start, end, number in answers:
        answer = lexicon.entries[number][0]
        assert not isinstance(answer, (bool, str))
        if groups and start == last_end and clauses[start] == clauses[start - 1]:
            groups[-1].append(float(answer))
        else:
            groups.append([float(answer)])
        last_end = end
    values: set[float] = set()
    for group in groups:
        total = group[0]
        for previous, following in itertools.pairwise(group):
            if not (following < previous and (previous % 10 == 0 or following == 0.5)):
                raise _not_a_number("number words that do not make one number")
            total += following
        values.add(total)
    if len(values) > 1:
        raise _not_a_number("more than one number in the reply")
    covered = {i for s, e, _ in answers for i in range(s, e)}
    qualifiers = {normalize(w) for w in sms_words.NUMBER_QUALIFIER_WORDS.get(lv.language, ())}
    value = values.pop()
    _check_number_words(text, question, lv, unit_family, qualifiers, value, covered=covered)
    return value
