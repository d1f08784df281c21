"""Read a protocol's files, validate every entry, build a ``ProtocolDefinition``.

A protocol is a directory holding ``protocol.yaml`` (questions, texts, schedule,
keywords) and ``rules.yaml`` (the rules, compiled by ``followup.rules``). Every
problem raises :class:`ProtocolLoadError` naming the file, the entry and the
reason, so a clinician editing the file can find it: clinical content must never
load half-checked (DESIGN.md, "Clinical content is data").

YAML is read with a stricter loader than ``yaml.safe_load``: a repeated key is an
error (a second ``tr:`` would silently replace the first translation), and only
``true``/``false`` are booleans and only plain decimals are numbers, so ``NO``,
``on`` or ``21:00`` stay strings (YAML 1.1 would read them as false, true and
1260).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import yaml

from followup.rules import DEFAULT_UPPER_LIMITS, FieldSpec, RuleLoadError, compile_rules

from .definition import (
    ASK_FLAGS,
    CARRIER_KEYWORDS,
    COMPARISON_OPS,
    DEFAULT_MAX_CHECK_INS_PER_HOUR,
    KEYWORD_KINDS,
    LEVELS,
    NUMERIC_TYPES,
    PHASES,
    PLAN_KINDS,
    QUESTION_TYPES,
    REVIEW_STATUSES,
    WHOLE_NUMBER_TYPES,
    AskWhen,
    Choice,
    Keywords,
    LocalizedText,
    ProtocolDefinition,
    Question,
    QuietHours,
    ScheduleEntry,
    ScheduleTemplate,
    placeholders,
)

PROTOCOL_FILE = "protocol.yaml"
RULES_FILE = "rules.yaml"
DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"

#: Placeholders a text may use, and those it must use. A red or amber advice
#: without the clinic's number leaves the patient without the one thing to do
#: (H2); a HELP reply must name the clinic, its phone and how to stop.
ADVICE_PLACEHOLDERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "red": frozenset({"clinic_phone"}),
        "amber": frozenset({"clinic_phone"}),
        "green": frozenset({"next_check_in"}),
    }
)
SMS_TEXT_PLACEHOLDERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "intro": frozenset({"clinic_name"}),
        "reask": frozenset({"example"}),
        "thanks": frozenset(),
        "incomplete": frozenset({"clinic_phone"}),
        "unknown_number": frozenset({"clinic_phone"}),
        "help": frozenset({"clinic_name", "clinic_phone"}),
        "stop": frozenset({"clinic_name"}),
        "start": frozenset({"clinic_name"}),
        "which_patient": frozenset({"options"}),
        "announcement": frozenset({"link"}),
        "reminder": frozenset({"link"}),
    }
)
KNOWN_PLACEHOLDERS = frozenset({"clinic_name", "clinic_phone", "next_check_in", "link", "example", "options"})
STAFF_LABEL_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"levels": LEVELS, "phases": PHASES, "plan_kinds": PLAN_KINDS}
)
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_TOP_KEYS = (
    "slug",
    "version",
    "title",
    "languages",
    "questions",
    "surveillance_form",
    "schedule",
    "advice",
    "sms_texts",
    "keywords",
    "staff_labels",
)
_QUESTION_REQUIRED = ("id", "label", "type", "required", "text", "sms", "example", "review")
_QUESTION_OPTIONAL = ("unit", "min", "max", "choices", "ask_when")
_ENTRY_RANGE_KEYS = ("day", "days", "month", "months")

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_HH_MM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class ProtocolLoadError(ValueError):
    """A protocol file is invalid: ``<file>: <entry>: <reason>``."""

    def __init__(self, file: str, entry: str | None, reason: str) -> None:
        self.file = file
        self.entry = entry
        self.reason = reason
        where = f"{file}: {entry}" if entry else file
        super().__init__(f"{where}: {reason}")


# --------------------------------------------------------------------------
# Strict YAML
# --------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` with YAML 1.2-like scalars and duplicate keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


_REPLACED_TAGS = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789"),
)
# An int-looking plain scalar matches the int resolver first (added first).


def _read_yaml(path: Path) -> Any:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProtocolLoadError(file, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise ProtocolLoadError(file, None, f"not UTF-8 text ({exc.reason})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        entry = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        reason = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ProtocolLoadError(file, entry, f"invalid YAML: {reason}") from None
    except yaml.YAMLError as exc:
        raise ProtocolLoadError(file, None, f"invalid YAML: {exc}") from None


def content_hash(protocol_data: object, rules_data: object) -> str:
    """sha256 of the parsed files in canonical JSON.

    Any change of content (a threshold, a word of a translation) changes it;
    comments, key order and layout do not. The Django side compares it with the
    stored version's hash to detect a changed file that needs a new version.
    """
    canonical = json.dumps(
        {"protocol": protocol_data, "rules": rules_data},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _At:
    """Where a value sits: file and entry path, to name it in errors."""

    file: str
    entry: str = ""

    def fail(self, reason: str) -> NoReturn:
        raise ProtocolLoadError(self.file, self.entry or None, reason)

    def key(self, name: str) -> _At:
        return _At(self.file, f"{self.entry}.{name}" if self.entry else name)

    def item(self, index: int, name: object = None) -> _At:
        label = f"{self.entry}[{index}]"
        if isinstance(name, str) and name:
            label += f" ({name})"
        return _At(self.file, label)


def _mapping(at: _At, value: object, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        at.fail(f"expected a mapping, got {_describe(value)}")
    allowed = set(required) | set(optional)
    for key in value:
        if not isinstance(key, str):
            at.fail(f"key {key!r} must be text")
        if allowed and key not in allowed:
            at.fail(f"unknown key '{key}' (expected one of: {', '.join(sorted(allowed))})")
    for key in required:
        if key not in value:
            at.fail(f"missing key '{key}'")
    return value


def _list(at: _At, value: object, *, nonempty: bool = True) -> list[Any]:
    if not isinstance(value, list):
        at.fail(f"expected a list, got {_describe(value)}")
    if nonempty and not value:
        at.fail("must not be empty")
    return value


def _text(at: _At, value: object) -> str:
    if not isinstance(value, str):
        at.fail(f"expected text, got {_describe(value)}")
    if not value.strip():
        at.fail("must not be empty")
    return value


def _identifier(at: _At, value: object, what: str = "id") -> str:
    text = _text(at, value)
    if not _ID.match(text):
        at.fail(f"{what} '{text}' must be lower_snake_case")
    return text


def _integer(at: _At, value: object, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        at.fail(f"expected a whole number, got {_describe(value)}")
    if minimum is not None and value < minimum:
        at.fail(f"must be at least {minimum}, got {value}")
    return value


def _number(at: _At, value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        at.fail(f"expected a number, got {_describe(value)}")
    if not math.isfinite(value):
        at.fail(f"must be a finite number, got {value}")
    return value


def _boolean(at: _At, value: object) -> bool:
    if not isinstance(value, bool):
        at.fail(f"expected true or false, got {_describe(value)}")
    return value


def _clock(at: _At, value: object) -> time:
    if not isinstance(value, str) or not _HH_MM.match(value):
        at.fail(f'expected a local time "HH:MM" (quoted), got {_describe(value)}')
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    return f"{value!r} ({type(value).__name__})"


def _per_language(at: _At, value: object, languages: tuple[str, ...]) -> dict[str, str]:
    """A text in every declared language, and nothing else."""
    mapping = _mapping(at, value)
    for lang in languages:
        if lang not in mapping:
            at.fail(f"missing translation for '{lang}'")
    for lang in mapping:
        if lang not in languages:
            at.fail(f"translation for undeclared language '{lang}'")
    return {lang: _text(at.key(lang), mapping[lang]) for lang in languages}


def _review(at: _At, value: object, languages: tuple[str, ...]) -> dict[str, str]:
    mapping = _mapping(at, value)
    for lang in languages:
        if lang not in mapping:
            at.fail(f"missing review status for '{lang}'")
    for lang in mapping:
        if lang not in languages:
            at.fail(f"review status for undeclared language '{lang}'")
    for lang in languages:
        if mapping[lang] not in REVIEW_STATUSES:
            at.key(lang).fail(
                f"unknown review status {mapping[lang]!r} (expected one of: {', '.join(REVIEW_STATUSES)})"
            )
    return {lang: mapping[lang] for lang in languages}


def _placeholders(at: _At, text: str) -> frozenset[str]:
    try:
        fields = placeholders(text)
    except ValueError as exc:
        at.fail(f"braces do not form a placeholder ({exc}); write {{{{ and }}}} for a brace")
    for name in fields:
        if name not in KNOWN_PLACEHOLDERS:
            at.fail(f"unknown placeholder {{{name}}} (known: {', '.join(sorted(KNOWN_PLACEHOLDERS))})")
    return fields


def _check_placeholders(at: _At, texts: Mapping[str, str], *, required: frozenset[str], allowed: bool = True) -> None:
    """Every translation uses the same placeholders, including the required ones."""
    reference_lang = next(iter(texts))
    reference: frozenset[str] | None = None
    for lang, text in texts.items():
        used = _placeholders(at.key(lang), text)
        if used and not allowed:
            at.key(lang).fail(f"placeholders are not allowed here: {sorted(used)}")
        missing = required - used
        if missing:
            at.key(lang).fail(f"must use {', '.join('{' + m + '}' for m in sorted(missing))}")
        if reference is None:
            reference = used
        elif used != reference:
            at.key(lang).fail(f"uses placeholders {sorted(used)} but '{reference_lang}' uses {sorted(reference)}")


def _localized_text(at: _At, value: object, languages: tuple[str, ...], required: frozenset[str]) -> LocalizedText:
    mapping = _mapping(at, value, required=("text", "review"))
    texts = _per_language(at.key("text"), mapping["text"], languages)
    _check_placeholders(at.key("text"), texts, required=required)
    review = _review(at.key("review"), mapping["review"], languages)
    return LocalizedText(texts=MappingProxyType(texts), review=MappingProxyType(review))


def _fold_keyword(word: str) -> str:
    """Case and accents folded, as the SMS side compares keywords."""
    word = word.casefold().replace("ı", "i").replace("ə", "e")
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).strip()


# --------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------


def _questions(at: _At, value: object, languages: tuple[str, ...]) -> tuple[Question, ...]:
    items = _list(at, value)
    positions: dict[str, int] = {}
    for index, raw in enumerate(items):
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            positions.setdefault(raw["id"], index)
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(items):
        name = raw.get("id") if isinstance(raw, dict) else None
        q_at = at.item(index, name)
        question = _question(q_at, raw, languages, questions, positions)
        if question.id in seen:
            q_at.fail(f"duplicate question id '{question.id}' (first at {at.entry}[{seen[question.id]}])")
        seen[question.id] = index
        questions.append(question)
    return tuple(questions)


def _question(
    at: _At,
    raw: object,
    languages: tuple[str, ...],
    earlier: list[Question],
    positions: Mapping[str, int],
) -> Question:
    data = _mapping(at, raw, required=_QUESTION_REQUIRED, optional=_QUESTION_OPTIONAL)
    qid = _identifier(at.key("id"), data["id"], "question id")
    qtype = data["type"]
    if qtype not in QUESTION_TYPES:
        at.key("type").fail(f"unknown question type {qtype!r} (expected one of: {', '.join(QUESTION_TYPES)})")
    unit = _text(at.key("unit"), data["unit"]) if data.get("unit") is not None else None
    minimum: int | float | None = None
    maximum: int | float | None = None
    choices: tuple[Choice, ...] = ()
    if qtype in NUMERIC_TYPES:
        for key in ("min", "max"):
            if key not in data:
                at.fail(f"a {qtype} question needs '{key}'")
        if "choices" in data:
            at.key("choices").fail(f"a {qtype} question has no choices")
        read = _integer if qtype in WHOLE_NUMBER_TYPES else _number
        minimum = read(at.key("min"), data["min"])
        maximum = read(at.key("max"), data["max"])
        if minimum > maximum:
            at.fail(f"min {minimum} is greater than max {maximum}")
    else:
        for key in ("min", "max", "unit"):
            if key in data:
                at.key(key).fail(f"a {qtype} question has no '{key}'")
        if qtype == "choice":
            if "choices" not in data:
                at.fail("a choice question needs 'choices'")
            choices = _choices(at.key("choices"), data["choices"], languages)
        elif "choices" in data:
            at.key("choices").fail(f"a {qtype} question has no choices")
    ask_when = None
    if data.get("ask_when") is not None:
        ask_when = _ask_when(at.key("ask_when"), data["ask_when"], qid, earlier, positions)
    texts = {}
    for key in ("text", "sms", "example"):
        texts[key] = _per_language(at.key(key), data[key], languages)
        _check_placeholders(at.key(key), texts[key], required=frozenset(), allowed=False)
    return Question(
        id=qid,
        type=qtype,
        label=_text(at.key("label"), data["label"]),
        unit=unit,
        min=minimum,
        max=maximum,
        choices=choices,
        required=_boolean(at.key("required"), data["required"]),
        ask_when=ask_when,
        text=MappingProxyType(texts["text"]),
        sms=MappingProxyType(texts["sms"]),
        example=MappingProxyType(texts["example"]),
        review=MappingProxyType(_review(at.key("review"), data["review"], languages)),
    )


def _choices(at: _At, value: object, languages: tuple[str, ...]) -> tuple[Choice, ...]:
    items = _list(at, value)
    if len(items) < 2:
        at.fail("a choice question needs at least two choices")
    choices: list[Choice] = []
    for index, raw in enumerate(items):
        name = raw.get("value") if isinstance(raw, dict) else None
        c_at = at.item(index, name)
        data = _mapping(c_at, raw, required=("value", "label"))
        choice_value = _identifier(c_at.key("value"), data["value"], "choice value")
        if any(choice.value == choice_value for choice in choices):
            c_at.fail(f"duplicate choice value '{choice_value}'")
        labels = _per_language(c_at.key("label"), data["label"], languages)
        _check_placeholders(c_at.key("label"), labels, required=frozenset(), allowed=False)
        choices.append(Choice(value=choice_value, labels=MappingProxyType(labels)))
    return tuple(choices)


def _ask_when(at: _At, value: object, qid: str, earlier: list[Question], positions: Mapping[str, int]) -> AskWhen:
    data = _mapping(at, value, optional=("flag", "question", "op", "value"))
    if "flag" in data:
        if len(data) != 1:
            at.fail("'flag' stands alone (no 'question', 'op' or 'value' with it)")
        flag = data["flag"]
        if flag not in ASK_FLAGS:
            at.key("flag").fail(f"unknown flag {flag!r} (expected one of: {', '.join(ASK_FLAGS)})")
        return AskWhen(flag=flag)
    for key in ("question", "op", "value"):
        if key not in data:
            at.fail(f"missing key '{key}' (or give a 'flag')")
    target_id = data["question"]
    target = next((q for q in earlier if q.id == target_id), None)
    if target is None:
        if target_id == qid or target_id in positions:
            at.key("question").fail(f"skip logic names question '{target_id}', which is not asked before '{qid}'")
        at.key("question").fail(f"skip logic names unknown question {target_id!r}")
    op = data["op"]
    if op not in COMPARISON_OPS:
        at.key("op").fail(f"unknown operator {op!r} (expected one of: {', '.join(COMPARISON_OPS)})")
    expected = data["value"]
    if target.type in NUMERIC_TYPES:
        _number(at.key("value"), expected)
    else:
        if op not in ("==", "!="):
            at.key("op").fail(f"operator {op!r} does not apply to a {target.type} question")
        if target.type == "boolean":
            _boolean(at.key("value"), expected)
        elif expected not in target.choice_values:
            at.key("value").fail(f"{expected!r} is not a choice of '{target.id}' ({', '.join(target.choice_values)})")
    return AskWhen(question=target.id, op=op, value=expected)


def _surveillance_form(at: _At, value: object, questions: tuple[Question, ...]) -> tuple[str, ...]:
    known = {question.id for question in questions}
    ids: list[str] = []
    for index, raw in enumerate(_list(at, value)):
        item_at = at.item(index)
        qid = _text(item_at, raw)
        if qid not in known:
            item_at.fail(f"unknown question {qid!r}")
        if qid in ids:
            item_at.fail(f"question '{qid}' is listed twice")
        ids.append(qid)
    return tuple(ids)


def _schedule(at: _At, value: object) -> ScheduleTemplate:
    data = _mapping(
        at,
        value,
        required=("quiet_hours", "acute_last_day", "horizon_months", "defaults", "entries"),
        # Optional: versions stored before it existed must still load (the default).
        optional=("max_check_ins_per_hour",),
    )
    quiet = _mapping(at.key("quiet_hours"), data["quiet_hours"], required=("start", "end"))
    quiet_hours = QuietHours(
        start=_clock(at.key("quiet_hours").key("start"), quiet["start"]),
        end=_clock(at.key("quiet_hours").key("end"), quiet["end"]),
    )
    acute_last_day = _integer(at.key("acute_last_day"), data["acute_last_day"], minimum=1)
    horizon_months = _integer(at.key("horizon_months"), data["horizon_months"], minimum=1)
    defaults = _mapping(at.key("defaults"), data["defaults"], required=("time", "window_hours"))
    default_time = _clock(at.key("defaults").key("time"), defaults["time"])
    default_window = _integer(at.key("defaults").key("window_hours"), defaults["window_hours"], minimum=1)
    entries_at = at.key("entries")
    entries = tuple(
        _schedule_entry(
            entries_at.item(index, raw.get("kind") if isinstance(raw, dict) else None),
            raw,
            quiet_hours=quiet_hours,
            acute_last_day=acute_last_day,
            horizon_months=horizon_months,
            default_time=default_time,
            default_window=default_window,
        )
        for index, raw in enumerate(_list(entries_at, data["entries"]))
    )
    _check_overlaps(entries_at, entries)
    max_per_hour = _integer(
        at.key("max_check_ins_per_hour"),
        data.get("max_check_ins_per_hour", DEFAULT_MAX_CHECK_INS_PER_HOUR),
        minimum=1,
    )
    return ScheduleTemplate(
        quiet_hours=quiet_hours,
        acute_last_day=acute_last_day,
        horizon_months=horizon_months,
        entries=entries,
        max_check_ins_per_hour=max_per_hour,
    )


def _check_overlaps(at: _At, entries: tuple[ScheduleEntry, ...]) -> None:
    """Two entries of one kind must not plan the same day or month.

    Overlapping bands (days 1-14 daily and 14-30 every other day) would send two
    check-ins on one day and give two plan items the same key. Entries keeping
    disjoint weekdays never meet; otherwise a weekday entry may meet any day of
    its range, depending on the discharge date's weekday.
    """
    for index, entry in enumerate(entries):
        for other_index in range(index):
            other = entries[other_index]
            if (other.kind, other.unit) != (entry.kind, entry.unit):
                continue
            if entry.weekdays and other.weekdays and not set(entry.weekdays) & set(other.weekdays):
                continue
            step, other_step = entry.every, other.every
            shared = set(range(entry.first, entry.last + 1, step)) & set(range(other.first, other.last + 1, other_step))
            if shared:
                at.item(index, entry.kind).fail(
                    f"{entry.unit} {min(shared)} is also planned by {at.entry}[{other_index}] ({other.kind})"
                )


def _schedule_entry(
    at: _At,
    raw: object,
    *,
    quiet_hours: QuietHours,
    acute_last_day: int,
    horizon_months: int,
    default_time: time,
    default_window: int,
) -> ScheduleEntry:
    data = _mapping(
        at,
        raw,
        required=("kind", "phase"),
        optional=(*_ENTRY_RANGE_KEYS, "time", "window_hours", "reminder_hours", "detail", "labs"),
    )
    kind = data["kind"]
    if kind not in PLAN_KINDS:
        at.key("kind").fail(f"unknown kind {kind!r} (expected one of: {', '.join(PLAN_KINDS)})")
    phase = data["phase"]
    if phase not in PHASES:
        at.key("phase").fail(f"unknown phase {phase!r} (expected one of: {', '.join(PHASES)})")
    given = [key for key in _ENTRY_RANGE_KEYS if key in data]
    if len(given) != 1:
        at.fail(f"give exactly one of {', '.join(_ENTRY_RANGE_KEYS)} (got {len(given)})")
    (range_key,) = given
    unit = "day" if range_key in ("day", "days") else "month"
    weekdays: tuple[int, ...] = ()
    every = 1
    r_at = at.key(range_key)
    if range_key in ("day", "month"):
        first = last = _integer(r_at, data[range_key], minimum=1)
    else:
        optional = ("every", "weekdays") if unit == "day" else ("every",)
        span = _mapping(r_at, data[range_key], required=("from", "to"), optional=optional)
        first = _integer(r_at.key("from"), span["from"], minimum=1)
        last = _integer(r_at.key("to"), span["to"], minimum=1)
        if first > last:
            r_at.fail(f"'from' {first} is after 'to' {last}")
        if ("every" in span) == ("weekdays" in span):
            r_at.fail("give exactly one of 'every', 'weekdays'" if unit == "day" else "missing key 'every'")
        if "every" in span:
            every = _integer(r_at.key("every"), span["every"], minimum=1)
        else:
            names = _list(r_at.key("weekdays"), span["weekdays"])
            for name in names:
                if name not in WEEKDAYS:
                    r_at.key("weekdays").fail(f"unknown weekday {name!r} (expected: {', '.join(WEEKDAYS)})")
            if len(set(names)) != len(names):
                r_at.key("weekdays").fail("a weekday is listed twice")
            weekdays = tuple(sorted(WEEKDAYS.index(name) for name in names))
    if unit == "day":
        if phase == "acute" and last > acute_last_day:
            r_at.fail(f"day {last} is after the acute phase (days 1-{acute_last_day})")
        if phase == "surveillance" and first <= acute_last_day:
            r_at.fail(f"day {first} is in the acute phase (days 1-{acute_last_day})")
    else:
        if phase != "surveillance":
            r_at.fail("the acute phase is planned in days, not months")
        if last > horizon_months:
            r_at.fail(f"month {last} is after the horizon of {horizon_months} months")
    at_time = _clock(at.key("time"), data["time"]) if "time" in data else default_time
    if kind == "check_in" and quiet_hours.contains(at_time):
        at.key("time").fail(
            f"check-in time {at_time:%H:%M} falls inside quiet hours {quiet_hours.start:%H:%M}-{quiet_hours.end:%H:%M}"
        )
    window_hours = (
        _integer(at.key("window_hours"), data["window_hours"], minimum=1) if "window_hours" in data else default_window
    )
    reminder_minutes: int | None = None
    if "reminder_hours" in data:
        if kind != "check_in":
            at.key("reminder_hours").fail(f"only a check-in is reminded, not a {kind}")
        reminder_hours = _integer(at.key("reminder_hours"), data["reminder_hours"], minimum=1)
        if reminder_hours >= window_hours:
            at.key("reminder_hours").fail(f"{reminder_hours} h is not inside the window of {window_hours} h")
        reminder_minutes = reminder_hours * 60
    labs: tuple[str, ...] = ()
    if kind == "lab":
        if "labs" not in data:
            at.fail("a lab entry needs 'labs' (the lab codes)")
        codes = _list(at.key("labs"), data["labs"])
        labs = tuple(_identifier(at.key("labs").item(i), code, "lab code") for i, code in enumerate(codes))
        if len(set(labs)) != len(labs):
            at.key("labs").fail("a lab code is listed twice")
    elif "labs" in data:
        at.key("labs").fail(f"only a lab entry has 'labs', not a {kind}")
    detail = _text(at.key("detail"), data["detail"]) if "detail" in data else ""
    return ScheduleEntry(
        kind=kind,
        phase=phase,
        unit=unit,
        first=first,
        last=last,
        every=every,
        weekdays=weekdays,
        at=at_time,
        window_minutes=window_hours * 60,
        detail=detail,
        labs=labs,
        reminder_minutes=reminder_minutes,
    )


def _fixed_texts(
    at: _At, value: object, languages: tuple[str, ...], spec: Mapping[str, frozenset[str]]
) -> Mapping[str, LocalizedText]:
    data = _mapping(at, value, required=tuple(spec), optional=())
    return MappingProxyType(
        {key: _localized_text(at.key(key), data[key], languages, required=spec[key]) for key in spec}
    )


def _keywords(at: _At, value: object, languages: tuple[str, ...]) -> Mapping[str, Keywords]:
    data = _mapping(at, value)
    for lang in languages:
        if lang not in data:
            at.fail(f"missing keywords for '{lang}'")
    for lang in data:
        if lang not in languages:
            at.fail(f"keywords for undeclared language '{lang}'")
    kind_of: dict[str, tuple[str, str]] = {
        _fold_keyword(word): (kind, "carriers") for kind, words in CARRIER_KEYWORDS.items() for word in words
    }
    result: dict[str, Keywords] = {}
    for lang in languages:
        l_at = at.key(lang)
        lists = _mapping(l_at, data[lang], required=KEYWORD_KINDS)
        sets: dict[str, frozenset[str]] = {}
        for kind in KEYWORD_KINDS:
            k_at = l_at.key(kind)
            words = [_text(k_at.item(i), word).strip() for i, word in enumerate(_list(k_at, lists[kind]))]
            for word in words:
                if any(char.isspace() for char in word):
                    k_at.fail(f"keyword {word!r} must be a single word")
                folded = _fold_keyword(word)
                other = kind_of.get(folded)
                if other is not None and other[0] != kind:
                    k_at.fail(
                        f"keyword {word!r} is also a {other[0].upper()} word ({other[1]}); "
                        "a word must mean one thing in every language"
                    )
                kind_of[folded] = (kind, lang)
            sets[kind] = frozenset(words)
        result[lang] = Keywords(stop=sets["stop"], start=sets["start"], help=sets["help"])
    return MappingProxyType(result)


def _staff_labels(at: _At, value: object) -> Mapping[str, Mapping[str, str]]:
    data = _mapping(at, value, required=tuple(STAFF_LABEL_GROUPS))
    result: dict[str, Mapping[str, str]] = {}
    for group, keys in STAFF_LABEL_GROUPS.items():
        g_at = at.key(group)
        labels = _mapping(g_at, data[group], required=keys, optional=())
        result[group] = MappingProxyType({key: _text(g_at.key(key), labels[key]) for key in keys})
    return MappingProxyType(result)


def _rule_titles(
    at: _At, value: object, languages: tuple[str, ...], titles: Mapping[str, str]
) -> Mapping[str, LocalizedText]:
    """Each rule's staff title in every language (on-call pages, staff pages). Optional:
    a protocol without the section (versions stored before it existed) shows the
    rules' English titles. With it, every rule has one and its English is the rule's
    ``title`` in the rules file, so the two cannot drift apart."""
    if value is None:
        return MappingProxyType({})
    data = _mapping(at, value)
    result: dict[str, LocalizedText] = {}
    for rule_id, title in titles.items():
        if rule_id not in data:
            at.fail(f"missing the titles of rule '{rule_id}'")
        text = _localized_text(at.key(rule_id), data[rule_id], languages, required=frozenset())
        if "en" in text.texts and text.texts["en"] != title:
            at.key(rule_id).key("text").key("en").fail(f"must be the rule's title {title!r}")
        result[rule_id] = text
    unknown = sorted(set(data) - set(titles))
    if unknown:
        at.key(unknown[0]).fail("no rule has this id")
    return MappingProxyType(result)


def _languages(at: _At, value: object) -> tuple[str, ...]:
    languages: list[str] = []
    for index, raw in enumerate(_list(at, value)):
        code = _text(at.item(index), raw)
        if not _LANGUAGE.match(code):
            at.item(index).fail(f"language {code!r} must be a two- or three-letter code such as 'en'")
        if code in languages:
            at.item(index).fail(f"language '{code}' is listed twice")
        languages.append(code)
    return tuple(languages)


def _raw_rules(path: Path, data: object) -> list[dict[str, Any]]:
    """The rule list: a YAML list, or a mapping whose ``rules`` key holds it."""
    at = _At(str(path))
    if isinstance(data, dict):
        data = _mapping(at, data, required=("rules",))["rules"]
    return _list(at, data, nonempty=False)


# --------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------


def load_protocol(path: str | os.PathLike[str]) -> ProtocolDefinition:
    """Load and validate one protocol.

    ``path`` is the protocol's directory or its ``protocol.yaml``; the rules are
    read from ``rules.yaml`` next to it. Raises :class:`ProtocolLoadError`.
    """
    location = Path(path)
    protocol_path = location / PROTOCOL_FILE if location.is_dir() else location
    rules_path = protocol_path.with_name(RULES_FILE)
    raw = _read_yaml(protocol_path)
    raw_rules_data = _read_yaml(rules_path)

    at = _At(str(protocol_path))
    data = _mapping(at, raw, required=_TOP_KEYS, optional=("rule_titles", "upper_limits_of_normal"))
    slug = _text(at.key("slug"), data["slug"])
    if not _SLUG.match(slug):
        at.key("slug").fail(f"slug {slug!r} must be lower-case words joined by '-'")
    version = data["version"]
    if not isinstance(version, str) or not version.strip():
        at.key("version").fail(f'expected a version string such as "2026.1" (quoted), got {_describe(version)}')
    languages = _languages(at.key("languages"), data["languages"])
    questions = _questions(at.key("questions"), data["questions"], languages)
    surveillance_ids = _surveillance_form(at.key("surveillance_form"), data["surveillance_form"], questions)
    schedule = _schedule(at.key("schedule"), data["schedule"])
    advice = _fixed_texts(at.key("advice"), data["advice"], languages, ADVICE_PLACEHOLDERS)
    sms_texts = _fixed_texts(at.key("sms_texts"), data["sms_texts"], languages, SMS_TEXT_PLACEHOLDERS)
    keywords = _keywords(at.key("keywords"), data["keywords"], languages)
    staff_labels = _staff_labels(at.key("staff_labels"), data["staff_labels"])

    raw_rules = _raw_rules(rules_path, raw_rules_data)
    fields = {
        question.id: FieldSpec(
            type=question.type,
            choices=question.choice_values if question.type == "choice" else None,
            unit=question.unit,
        )
        for question in questions
    }
    upper_limits = _upper_limits(at.key("upper_limits_of_normal"), data.get("upper_limits_of_normal"))
    try:
        ruleset = compile_rules(
            raw_rules, fields=fields, version=version, source=str(rules_path), upper_limits=upper_limits
        )
    except RuleLoadError as exc:
        entry = f"rule '{exc.rule_id}'" if exc.rule_id is not None else "rules"
        raise ProtocolLoadError(str(rules_path), entry, exc.reason) from exc
    for rule in ruleset.rules:
        if rule.advice not in advice:
            raise ProtocolLoadError(
                str(rules_path),
                f"rule '{rule.id}'",
                f"advice {rule.advice!r} is not an advice text of {protocol_path.name} ({', '.join(advice)})",
            )

    rule_titles = _rule_titles(
        at.key("rule_titles"),
        data.get("rule_titles"),
        languages,
        {rule.id: rule.title for rule in ruleset.rules},
    )

    for path, parsed in ((protocol_path, raw), (rules_path, raw_rules_data)):
        try:
            content_hash(parsed, None)
        except (TypeError, ValueError):
            raise ProtocolLoadError(
                str(path), None, "holds a value that is not plain data (text, number, true/false, list, mapping)"
            ) from None

    return ProtocolDefinition(
        slug=slug,
        version=version,
        title=_text(at.key("title"), data["title"]),
        content_hash=content_hash(raw, raw_rules_data),
        source=str(protocol_path.parent),
        languages=languages,
        questions=questions,
        surveillance_question_ids=surveillance_ids,
        schedule=schedule,
        advice_texts=advice,
        sms_texts=sms_texts,
        keyword_lists=keywords,
        staff_labels=staff_labels,
        ruleset=ruleset,
        raw_rules=tuple(raw_rules),
        rule_titles=rule_titles,
        upper_limits_of_normal=MappingProxyType(dict(upper_limits)),
    )


def _upper_limits(at: _At, value: object) -> Mapping[str, float]:
    """The protocol's upper limits of normal by lab code (SI), used by the lab rules
    when a result carries no reference range of its laboratory. Optional: a version
    without them (v1) gets the engine's defaults, the clinical file's figures."""
    if value is None:
        return DEFAULT_UPPER_LIMITS
    limits: dict[str, float] = {}
    for code, limit in _mapping(at, value).items():
        number = _number(at.key(str(code)), limit)
        if number <= 0:
            at.key(str(code)).fail(f"an upper limit of normal must be above 0, got {number}")
        limits[_identifier(at.key(str(code)), code, "lab code")] = float(number)
    return limits


def load_all(data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR) -> dict[str, ProtocolDefinition]:
    """Every protocol under ``data_dir`` (one directory each), by slug.

    A directory's name must be its protocol's slug, so a copied folder whose
    slug was not changed cannot shadow another protocol.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise ProtocolLoadError(str(root), None, "protocol data directory not found")
    protocols: dict[str, ProtocolDefinition] = {}
    for directory in sorted(path for path in root.iterdir() if (path / PROTOCOL_FILE).is_file()):
        protocol = load_protocol(directory)
        if protocol.slug != directory.name:
            raise ProtocolLoadError(
                str(directory / PROTOCOL_FILE),
                "slug",
                f"slug '{protocol.slug}' must match its directory name '{directory.name}'",
            )
        protocols[protocol.slug] = protocol
    return protocols
