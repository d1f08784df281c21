"""A loaded protocol: frozen, plain-Python data (no Django).

The loader (``loader.py``) builds these from a protocol's YAML files after
validating them; everything else reads them. A ``ProtocolDefinition`` is
immutable, so one instance can be shared by every request and task that judges
a check-in against that protocol version.
"""

from __future__ import annotations

import copy
import operator
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from types import MappingProxyType
from typing import Any

QUESTION_TYPES: tuple[str, ...] = ("boolean", "integer", "number", "scale", "choice")
NUMERIC_TYPES: frozenset[str] = frozenset({"integer", "number", "scale"})
WHOLE_NUMBER_TYPES: frozenset[str] = frozenset({"integer", "scale"})

PHASES: tuple[str, ...] = ("acute", "surveillance")
LEVELS: tuple[str, ...] = ("red", "amber", "green")
PLAN_KINDS: tuple[str, ...] = ("check_in", "clinic_visit", "telemedicine", "lab", "imaging")
REVIEW_STATUSES: tuple[str, ...] = ("draft", "reviewed")
KEYWORD_KINDS: tuple[str, ...] = ("stop", "start", "help")

#: Per-check-in facts that skip logic may depend on, supplied by the caller:
#: the episode's ``drain_at_discharge`` and the enrollment's ``has_pulse_device``.
ASK_FLAGS: tuple[str, ...] = ("drain_at_discharge", "has_pulse_device")

#: Carriers handle these English words themselves whatever the protocol says,
#: so they always apply (API.md, SMS conversations).
CARRIER_KEYWORDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "stop": frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}),
        "start": frozenset({"START"}),
        "help": frozenset({"HELP"}),
    }
)

_COMPARISONS: Mapping[str, Callable[[Any, Any], bool]] = MappingProxyType(
    {
        "==": operator.eq,
        "!=": operator.ne,
        ">": operator.gt,
        ">=": operator.ge,
        "<": operator.lt,
        "<=": operator.le,
    }
)
COMPARISON_OPS: tuple[str, ...] = tuple(_COMPARISONS)


def placeholders(template: str) -> frozenset[str]:
    """The ``{name}`` fields of a text template."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)


def fill(template: str, values: Mapping[str, object]) -> str:
    """Fill every placeholder of ``template``; a missing value is an error.

    Strict on purpose: red advice sent with a literal ``{clinic_phone}`` instead
    of the number would leave the patient without the one thing to do (H2).
    """
    missing = placeholders(template) - set(values)
    if missing:
        raise ValueError(f"missing values for {sorted(missing)} in text {template!r}")
    return template.format_map(values)


@dataclass(frozen=True)
class LocalizedText:
    """One patient-facing text in every language, each with its review status.

    A translation stays ``draft`` until a clinician of the clinic has reviewed
    it (H6); the status is carried to the API so staff can see it.
    """

    texts: Mapping[str, str]
    review: Mapping[str, str]

    def get(self, lang: str, default_lang: str) -> str:
        return self.texts[lang] if lang in self.texts else self.texts[default_lang]

    def as_api_dict(self) -> dict[str, object]:
        return {"text": dict(self.texts), "review_status": dict(self.review)}


@dataclass(frozen=True)
class Choice:
    value: str
    labels: Mapping[str, str]

    def as_api_dict(self) -> dict[str, object]:
        return {"value": self.value, "label": dict(self.labels)}


@dataclass(frozen=True)
class AskWhen:
    """Skip logic: when a question is asked.

    Either a caller-supplied flag (``flag``, one of :data:`ASK_FLAGS`) or a
    comparison with the answer to an earlier question (``question op value``).
    """

    flag: str | None = None
    question: str | None = None
    op: str | None = None
    value: bool | int | float | str | None = None

    def holds(self, answers: Mapping[str, object], flags: Mapping[str, bool]) -> bool | None:
        """True or False, or None when it depends on an answer not (validly) given."""
        if self.flag is not None:
            return bool(flags[self.flag])
        assert self.question is not None and self.op is not None
        if self.question not in answers:
            return None
        answer = answers[self.question]
        expected = self.value
        # A bool is not a number here (strict JSON types), and a string never
        # compares with a number: such an answer is invalid, so "unknown".
        if isinstance(expected, bool) or isinstance(answer, bool):
            if type(answer) is not type(expected):
                return None
        elif isinstance(expected, (int, float)):
            if not isinstance(answer, (int, float)):
                return None
        elif not isinstance(answer, str):
            return None
        return bool(_COMPARISONS[self.op](answer, expected))

    def as_api_dict(self) -> dict[str, object]:
        if self.flag is not None:
            return {"flag": self.flag}
        return {"question": self.question, "op": self.op, "value": self.value}


@dataclass(frozen=True)
class Question:
    """One question: its type and limits, skip logic and every wording.

    ``text`` is the app wording, ``sms`` the short SMS wording and ``example``
    the hint sent when an SMS reply cannot be read, each per language;
    ``review`` is the review status of the question's wording (text, SMS text,
    example and choice labels) in each language (H6).

    ``required`` means "required whenever the question is asked": a question
    with ``ask_when`` is required only when its condition holds (the drain
    questions for an episode discharged with a drain, ``fluids_kept_down``
    after vomiting). ``label`` is the short English name staff see.
    """

    id: str
    type: str
    label: str
    unit: str | None
    min: int | float | None
    max: int | float | None
    choices: tuple[Choice, ...]
    required: bool
    ask_when: AskWhen | None
    text: Mapping[str, str]
    sms: Mapping[str, str]
    example: Mapping[str, str]
    review: Mapping[str, str]

    def __hash__(self) -> int:
        # The wording mappings are not hashable; equal questions share an id.
        return hash(self.id)

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(choice.value for choice in self.choices)

    def choice_labels(self) -> tuple[tuple[str, Mapping[str, str]], ...]:
        """``((value, {lang: label}), ...)`` in order, as SMS numbering uses them."""
        return tuple((choice.value, choice.labels) for choice in self.choices)

    def range_text(self) -> str:
        """The limits as written in the protocol, with the unit: ``34.0 and 43.0 °C``."""
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.min} and {self.max}{unit}"

    def as_api_dict(self) -> dict[str, object]:
        has_range = self.type in NUMERIC_TYPES
        return {
            "id": self.id,
            "type": self.type,
            "label": self.label,
            "unit": self.unit,
            "range": {"min": self.min, "max": self.max} if has_range else None,
            "choices": [choice.as_api_dict() for choice in self.choices] or None,
            "required": self.required,
            "ask_when": self.ask_when.as_api_dict() if self.ask_when else None,
            "text": dict(self.text),
            "sms": dict(self.sms),
            "example": dict(self.example),
            "review_status": dict(self.review),
        }


@dataclass(frozen=True)
class QuietHours:
    """Local times between which nothing scheduled is sent (may wrap midnight)."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def as_api_dict(self) -> dict[str, str]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}


@dataclass(frozen=True)
class ScheduleEntry:
    """One line of the schedule template, normalised to a range.

    ``unit`` is ``day`` (days after discharge, day 1 = the day after) or
    ``month`` (calendar months after the discharge date). A day range either
    steps by ``every`` or keeps only ``weekdays`` (0 = Monday).
    """

    kind: str
    phase: str
    unit: str
    first: int
    last: int
    every: int
    weekdays: tuple[int, ...]
    at: time
    window_minutes: int
    detail: str
    labs: tuple[str, ...]
    # When a check-in's reminder goes, after it opens (v2 surveillance: 24 h into a 72 h
    # window); None: the default, half-way through what is left of the window.
    reminder_minutes: int | None = None

    def as_api_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "phase": self.phase,
            "unit": self.unit,
            "first": self.first,
            "last": self.last,
            "every": self.every,
            "weekdays": list(self.weekdays) or None,
            "time": self.at.strftime("%H:%M"),
            "window_minutes": self.window_minutes,
            "detail": self.detail,
            "labs": list(self.labs),
        }


#: At most this many check-ins from one patient in any rolling hour, when the protocol
#: does not say (versions stored before ``max_check_ins_per_hour`` existed). The densest
#: schedule asks one check-in a day (two with a fever follow-up 12 h later); a patient
#: re-sending after a dropped reply or correcting a typo makes a few in an hour. Twelve
#: an hour is far above any honest use and still stops an app or a patient in a loop
#: before it floods the rules, the history and the on-call pager.
DEFAULT_MAX_CHECK_INS_PER_HOUR = 12


@dataclass(frozen=True)
class ScheduleTemplate:
    """The follow-up plan relative to the discharge date, in local time, and the most
    check-ins one patient may send in a rolling hour (beyond it: 429)."""

    quiet_hours: QuietHours
    acute_last_day: int
    horizon_months: int
    entries: tuple[ScheduleEntry, ...]
    max_check_ins_per_hour: int = DEFAULT_MAX_CHECK_INS_PER_HOUR

    def phase_of_day(self, day: int) -> str:
        return "acute" if day <= self.acute_last_day else "surveillance"

    def as_api_dict(self) -> dict[str, object]:
        return {
            "quiet_hours": self.quiet_hours.as_api_dict(),
            "acute_last_day": self.acute_last_day,
            "horizon_months": self.horizon_months,
            "entries": [entry.as_api_dict() for entry in self.entries],
            "max_check_ins_per_hour": self.max_check_ins_per_hour,
        }


@dataclass(frozen=True)
class Keywords:
    """SMS keywords (as written; the SMS side folds case and accents)."""

    stop: frozenset[str]
    start: frozenset[str]
    help: frozenset[str]

    def as_mapping(self) -> dict[str, frozenset[str]]:
        return {"stop": self.stop, "start": self.start, "help": self.help}


@dataclass(frozen=True, eq=False)
class ProtocolDefinition:
    """One version of a protocol, validated and ready to use.

    Two definitions are equal when slug, version and content hash are: loading
    the same files twice gives equal (and equally hashed) definitions, so one
    can key a cache.
    """

    slug: str
    version: str
    title: str
    content_hash: str
    source: str
    languages: tuple[str, ...]
    questions: tuple[Question, ...]
    surveillance_question_ids: tuple[str, ...]
    schedule: ScheduleTemplate
    advice_texts: Mapping[str, LocalizedText]
    sms_texts: Mapping[str, LocalizedText]
    keyword_lists: Mapping[str, Keywords]
    staff_labels: Mapping[str, Mapping[str, str]]
    ruleset: Any
    raw_rules: tuple[Mapping[str, Any], ...]
    # Staff titles of the rules per language; empty in versions stored before them.
    rule_titles: Mapping[str, LocalizedText] = field(default_factory=lambda: MappingProxyType({}))
    # Upper limits of normal (SI) the lab rules fall back on when a result comes without
    # the laboratory's reference range (v2); the engine's defaults when not given.
    upper_limits_of_normal: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    _by_id: Mapping[str, Question] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = MappingProxyType({question.id: question for question in self.questions})
        object.__setattr__(self, "_by_id", by_id)

    def _identity(self) -> tuple[str, str, str]:
        return (self.slug, self.version, self.content_hash)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProtocolDefinition):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @property
    def quiet_hours(self) -> QuietHours:
        return self.schedule.quiet_hours

    def question(self, question_id: str) -> Question:
        """The question with this id; ``KeyError`` for an unknown id."""
        return self._by_id[question_id]

    def has_question(self, question_id: str) -> bool:
        return question_id in self._by_id

    def phase_questions(self, phase: str) -> tuple[Question, ...]:
        """The questions a check-in of ``phase`` asks, in the order asked."""
        if phase == "acute":
            return self.questions
        if phase == "surveillance":
            return tuple(self._by_id[qid] for qid in self.surveillance_question_ids)
        raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")

    def _language(self, lang: str) -> str:
        # A patient language the protocol does not declare falls back to the
        # first declared one rather than sending nothing (H2).
        return lang if lang in self.languages else self.default_language

    def advice_template(self, level: str, lang: str) -> str:
        return self.advice_texts[level].get(self._language(lang), self.default_language)

    def advice(self, level: str, lang: str, **values: object) -> str:
        """What the patient is told after a check-in of ``level``, filled in.

        Red and amber need ``clinic_phone``, green ``next_check_in``; a missing
        value raises ``ValueError``.
        """
        return fill(self.advice_template(level, lang), values)

    def rule_title(self, rule_id: str, lang: str) -> str | None:
        """A rule's staff title in ``lang`` (the first declared language for one the
        protocol does not declare); None when the protocol has no titles for it."""
        title = self.rule_titles.get(rule_id)
        return title.get(self._language(lang), self.default_language) if title is not None else None

    def sms_template(self, key: str, lang: str) -> str:
        return self.sms_texts[key].get(self._language(lang), self.default_language)

    def sms_text(self, key: str, lang: str, **values: object) -> str:
        """An SMS conversation text (``help``, ``stop``, ...), filled in."""
        return fill(self.sms_template(key, lang), values)

    def keywords(self, lang: str | None = None) -> Keywords:
        """STOP/START/HELP words: the carriers' English ones plus the protocol's.

        With ``lang`` those of that language (and English); without, every
        language's words merged, for a message whose sender is not known yet.
        """
        if lang is None:
            langs: tuple[str, ...] = tuple(self.keyword_lists)
        else:
            langs = (self._language(lang), "en")
        merged: dict[str, set[str]] = {kind: set(CARRIER_KEYWORDS[kind]) for kind in KEYWORD_KINDS}
        for code in langs:
            words = self.keyword_lists.get(code)
            if words is not None:
                for kind, values in words.as_mapping().items():
                    merged[kind] |= values
        return Keywords(
            stop=frozenset(merged["stop"]),
            start=frozenset(merged["start"]),
            help=frozenset(merged["help"]),
        )

    def as_api_dict(self) -> dict[str, object]:
        """The protocol as ``GET /api/v1/protocols/{slug}/`` returns it."""
        return {
            "slug": self.slug,
            "version": self.version,
            "title": self.title,
            "content_hash": self.content_hash,
            "languages": list(self.languages),
            "questions": [question.as_api_dict() for question in self.questions],
            "forms": {
                "acute": [question.id for question in self.questions],
                "surveillance": list(self.surveillance_question_ids),
            },
            "schedule": self.schedule.as_api_dict(),
            "advice": {level: text.as_api_dict() for level, text in self.advice_texts.items()},
            "rules": copy.deepcopy([dict(rule) for rule in self.raw_rules]),
            "staff_labels": {group: dict(labels) for group, labels in self.staff_labels.items()},
        }
