"""Reading patients' SMS replies and keywords (pure Python, no Django).

A patient answers a check-in question by SMS in English, Turkish, German,
Russian, Ukrainian or Azerbaijani, from whatever keyboard the phone has. This
module turns one reply into the strict value the check-in API expects, or
raises ``ReplyNotUnderstood`` so that the conversation asks again.

The guiding hazard is H4 (a typing error must never become a finding or hide
one): whenever a reply could mean two things it is refused, never guessed.
Hence: digits are not yes/no, "7O" is not 70, "1,200" is neither 1.2 nor 1200,
"38 C" to a pulse question is refused when the caller names the unit, words
from languages other than the patient's and English are not read (the same
letters mean yes in one language and no in another), and "none" is not zero.

Reasons in ``ReplyNotUnderstood`` are short English texts for staff; they
never quote the reply (message bodies stay out of logs, H13).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Final, Literal

from followup.sms import words as sms_words

__all__ = [
    "Keyword",
    "NotUnderstoodKind",
    "ReplyNotUnderstood",
    "format_choices",
    "match_ack",
    "match_keyword",
    "normalize",
    "parse_reply",
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
# Latin letters that look like Cyrillic ones. Used only inside a word that
# already mixes both alphabets ("нi" typed with a Latin i, "AСK"), never on a
# plain Latin word: Latin "he" (Azerbaijani yes) must not become "не" (no).
_LATIN_TO_CYRILLIC: Final = str.maketrans(
    {
        "a": "а", "b": "в", "c": "с", "e": "е", "h": "н", "i": "і", "k": "к",
        "m": "м", "o": "о", "p": "р", "t": "т", "x": "х", "y": "у",
    }
)  # fmt: skip
_CYRILLIC_TO_LATIN: Final = str.maketrans(
    {
        "а": "a", "в": "b", "с": "c", "е": "e", "н": "h", "і": "i", "к": "k",
        "м": "m", "о": "o", "р": "p", "т": "t", "х": "x", "у": "y",
    }
)  # fmt: skip
_LETTERS: Final = re.compile(r"[^\W\d_]+")
_CYRILLIC: Final = re.compile(r"[\u0400-\u04ff]")
_LATIN: Final = re.compile(r"[a-z]")


def _unmix(match: re.Match[str]) -> str:
    word = match.group(0)
    if _CYRILLIC.search(word) and _LATIN.search(word):
        return word.translate(_LATIN_TO_CYRILLIC)
    return word


def _fold(text: str) -> str:
    """Case, accents and alphabet folding; spacing and punctuation are kept."""
    text = unicodedata.normalize("NFKC", text.translate(_DEGREE_LIKE))
    # casefold: "İ" → "i̇" (the dot goes with the accents), "ß" → "ss".
    text = text.casefold().translate(_SPECIAL_LETTERS)
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    text = unicodedata.normalize("NFC", text)
    return _LETTERS.sub(_unmix, text)


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
