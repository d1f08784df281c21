"""What staff read of protocol data, in the reader's language: an alert's evidence
lines, question labels and the schedule's appointment reasons.

The stored evidence stays machine-readable (``{"field", "value", "condition"}``, the
API's contract); only its rendering here changes. A line names the question by its
staff label, shows the value as the reader writes it (yes/no, the choice's label from
the protocol, a number in the language's format with its unit) and the comparison in
words. The engine writes a condition as rule notation ("is true", ">= 38.5"); the
simple comparisons are said again in words, a longer one (trends, history, labs)
stays as the engine wrote it, after the localised label and value.

Question labels and the schedule's ``detail`` texts are English in the protocol data
(both versions have the same ones); their words for staff come from the gettext
catalogue, keyed by the English text (the lists below let ``makemessages`` find them;
a text not listed shows as it is). Changing the protocol files would publish a new
content hash for the current version, so the words live in the catalogue instead."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext, gettext_noop

from followup.protocols.definition import ProtocolDefinition, Question

# The staff labels of the post-hepatectomy questions (protocol.yaml ``label``).
QUESTION_LABELS = (
    gettext_noop("Temperature"),
    gettext_noop("Chills or night sweats"),
    gettext_noop("Jaundice"),
    gettext_noop("Dark urine"),
    gettext_noop("New itching"),
    gettext_noop("Belly pain (0-10)"),
    gettext_noop("Pain under right ribs or right shoulder"),
    gettext_noop("Belly swelling"),
    gettext_noop("Nausea"),
    gettext_noop("Vomiting in 24 h"),
    gettext_noop("Keeps fluids down"),
    gettext_noop("Blood in vomit"),
    gettext_noop("Black stools or blood in stools"),
    gettext_noop("Days since bowel movement"),
    gettext_noop("Appetite"),
    gettext_noop("Weight"),
    gettext_noop("Pulse at rest"),
    gettext_noop("New confusion or sleepiness"),
    gettext_noop("New shortness of breath"),
    gettext_noop("Leg swelling"),
    gettext_noop("Difficulty swallowing"),
    gettext_noop("Wound"),
    gettext_noop("Drain output in 24 h"),
    gettext_noop("Bile-coloured drain fluid"),
    gettext_noop("Wants contact today"),
)

# The schedule's appointment reasons (protocol.yaml ``schedule.entries[].detail``),
# stored on each appointment as written there.
SCHEDULE_DETAILS = (
    gettext_noop("Video visit with the surgical team"),
    gettext_noop("Bilirubin, INR, ALT, AST, ALP, albumin"),
    gettext_noop("Telemedicine or clinic visit"),
    gettext_noop("Clinic visit at the end of the acute phase"),
    gettext_noop("CEA"),
    gettext_noop("CT of chest, abdomen and pelvis (or liver MRI)"),
)
_KNOWN_TEXTS = frozenset(QUESTION_LABELS) | frozenset(SCHEDULE_DETAILS)

# Lab results the lab rules judge: their names for staff and SI units.
_LABS: Mapping[str, tuple[str, str]] = {
    "bilirubin_umol_l": (gettext_noop("Bilirubin"), "µmol/L"),
    "inr": ("INR", ""),
    "alt_u_l": ("ALT", "U/L"),
    "ast_u_l": ("AST", "U/L"),
    "alp_u_l": (gettext_noop("Alkaline phosphatase"), "U/L"),
    "albumin_g_l": (gettext_noop("Albumin"), "g/L"),
    "cea_ng_ml": ("CEA", "ng/mL"),
}

_COMPARISON_WORDS = {
    ">=": gettext_noop("at least %(limit)s"),
    ">": gettext_noop("above %(limit)s"),
    "<=": gettext_noop("at most %(limit)s"),
    "<": gettext_noop("below %(limit)s"),
    "==": gettext_noop("equal to %(limit)s"),
    "!=": gettext_noop("other than %(limit)s"),
}
_NUMERIC_CONDITION = re.compile(r"\A(>=|<=|==|!=|>|<) (-?[0-9]+(?:\.[0-9]+)?)\Z")
_NEGATED = re.compile(r"\Anot \((>=|<=|==|!=|>|<) (-?[0-9]+(?:\.[0-9]+)?)\)\Z")
_COMPLEMENT = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}
_CHOICE_CONDITION = re.compile(r"\A(==|in) \[?([a-z0-9_, ]+)\]?\Z")


def staff_text(text: str) -> str:
    """A question label or schedule reason from the protocol in the active language;
    any other text (a reason staff typed) as it is."""
    return gettext(text) if text in _KNOWN_TEXTS else text


def _number(value: float | int, unit: str | None) -> str:
    shown = number_format(value, use_l10n=True)
    return f"{shown} {unit}" if unit else shown


def _value_text(value: Any, question: Question | None, unit: str | None, language: str) -> str:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if value is None:
        return gettext("no answer")
    if isinstance(value, (int, float)):
        return _number(value, unit)
    if isinstance(value, str) and question is not None and question.choices:
        labels = dict(question.choice_labels())
        if value in labels:
            return labels[value].get(language) or labels[value].get("en") or value
    return str(value)


_ON_EARLIER = re.compile(
    r"\A(?P<head>.+?), on the check-in of (?P<when>[0-9T:+\-.Z]+)(?: \((?P<hours>[0-9.]+) h earlier\))?\Z"
)
_ON_PREVIOUS = re.compile(r"\A(?P<head>.+?) on the previous check-in \((?P<when>[0-9T:+\-.Z]+)\)\Z")


def _moment(text: str) -> str:
    """An engine's ISO time as the reader writes it, in the active zone; as is if unread."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return date_format(moment, "SHORT_DATETIME_FORMAT")


_LAB_RESULT = re.compile(
    r"\A(?P<head>(?:>=|<=|==|!=|>|<) -?[0-9]+(?:\.[0-9]+)?) "
    r"\(result of (?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})(?:, day (?P<day>[0-9]+) after surgery)?\)\Z"
)


def _lab_result_text(match: re.Match[str], unit: str | None) -> str:
    """A lab result compared with a fixed limit, with the result's date (and day)."""
    values = {"date": date_format(date.fromisoformat(match["date"]), "SHORT_DATE_FORMAT"), "day": match["day"]}
    when = (
        gettext("result of %(date)s, day %(day)s after surgery") % values
        if match["day"]
        else gettext("result of %(date)s") % values
    )
    return f"{_comparison_text(match['head'], None, unit, '')}, {when}"


def _condition_text(condition: str, question: Question | None, unit: str | None, language: str) -> str | None:
    """The condition in words, with the earlier check-in it held on (history rules) or
    the lab result's date."""
    lab = _LAB_RESULT.match(condition)
    if lab is not None:
        return _lab_result_text(lab, unit)
    earlier = _ON_EARLIER.match(condition) or _ON_PREVIOUS.match(condition)
    if earlier is None:
        return _comparison_text(condition, question, unit, language)
    head = _comparison_text(earlier["head"], question, unit, language)
    values = {"when": _moment(earlier["when"]), "hours": ""}
    if earlier.re is _ON_PREVIOUS:
        where = gettext("on the previous check-in, %(when)s") % values
    elif earlier["hours"]:
        values["hours"] = number_format(float(earlier["hours"]), decimal_pos=1, use_l10n=True)
        where = gettext("on the check-in of %(when)s, %(hours)s h earlier") % values
    else:
        where = gettext("on the check-in of %(when)s") % values
    return f"{head}, {where}" if head else where


def _comparison_text(condition: str, question: Question | None, unit: str | None, language: str) -> str | None:
    """The comparison in words; None when the value says it all (yes/no, one choice);
    the engine's text for one it does not write as a simple comparison."""
    if condition in ("is true", "is false", "answered", "not (is true)", "not (is false)"):
        return None
    negated = _NEGATED.match(condition)
    if negated is not None:
        # "not (>= 38.5)" said as its complement, "below 38.5".
        condition = f"{_COMPLEMENT[negated[1]]} {negated[2]}"
    if condition == "not answered":
        return gettext("not answered")
    numeric = _NUMERIC_CONDITION.match(condition)
    if numeric is not None:
        limit = float(numeric[2]) if "." in numeric[2] else int(numeric[2])
        return gettext(_COMPARISON_WORDS[numeric[1]]) % {"limit": _number(limit, unit)}
    choice = _CHOICE_CONDITION.match(condition) if question is not None and question.choices else None
    if choice is not None:
        words = [_value_text(word.strip(), question, None, language) for word in choice[2].split(",")]
        return None if choice[1] == "==" else gettext("one of: %(choices)s") % {"choices": ", ".join(words)}
    return condition


# An SMS that could not be delivered (followup.sms.unreachable): by the message's kind.
_UNDELIVERED = re.compile(r"\A.* SMS (?P<number>[0-9]+) not delivered: (?P<reason>.*)\Z", re.DOTALL)
_UNDELIVERED_WORDS = {
    "recall": gettext_noop("Recall SMS %(number)s not delivered: %(reason)s"),
    "advice": gettext_noop("Red advice SMS %(number)s not delivered: %(reason)s"),
}
_UNDELIVERED_OTHER = gettext_noop("SMS %(number)s not delivered: %(reason)s")


def evidence_line(item: Mapping[str, Any], definition: ProtocolDefinition | None, language: str) -> str:
    """One stored evidence item as staff read it in ``language``."""
    field = str(item.get("field") or "")
    undelivered = _UNDELIVERED.match(str(item.get("condition") or "")) if field == "sms" else None
    if undelivered is not None:
        # The reason is Twilio's verdict, shown as it came.
        template = _UNDELIVERED_WORDS.get(str(item.get("value")), _UNDELIVERED_OTHER)
        return gettext(template) % undelivered.groupdict()
    question = definition.question(field) if definition is not None and definition.has_question(field) else None
    if question is not None:
        name, unit = gettext(question.label), question.unit
    elif field in _LABS:
        name, unit = gettext(_LABS[field][0]), _LABS[field][1] or None
    else:
        name, unit = field, None
    value = _value_text(item.get("value"), question, unit, language)
    condition = _condition_text(str(item.get("condition") or ""), question, unit, language)
    line = f"{name}: {value}" if name else value
    return f"{line} ({condition})" if condition else line


def evidence_lines(evidence: Any, definition: ProtocolDefinition | None, language: str) -> list[str]:
    """Each condition that held, with the value that made it hold, as one line of text
    in ``language`` ("Ateş: 38,9 °C (en az 38,5 °C)"). Values come from patients: the
    page escapes them and the script sets them as text, never as markup."""
    return [
        evidence_line(item, definition, language)
        for item in (evidence if isinstance(evidence, list) else [])
        if isinstance(item, dict)
    ]
