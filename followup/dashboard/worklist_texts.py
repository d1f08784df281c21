"""A worklist item's text in the reader's language.

An item stores its text as first written (H17), in the language of whoever's code
wrote it. Where the item's own data says the same thing, the page writes it afresh in
the reader's language instead: a nurse call for an amber alert names the alert's rule
from the protocol's translations; a no-response item, stored from one of the English
templates of followup.services.worklist, is read back against them and said again in
the reader's language; so are the SMS-failure and patient-message hand-over texts (the
carried words, Twilio's verdict or the patient's message, as they are). Other texts show
as stored."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings
from django.utils.translation import gettext, override

from followup.dashboard.labels import KIND, label
from followup.models import Alert, WorklistItem
from followup.rule_titles import alert_rule_titles
from followup.services.appointment_answers import DECLINED_DETAIL
from followup.services.patient_messages import APP_MESSAGE_DETAIL
from followup.services.worklist import (
    MISSED_ONE_TEXT,
    MISSED_ONE_TEXT_NO_DAY,
    MISSED_RUN_TEXT,
    MISSED_RUN_TEXT_NO_DAY,
)
from followup.sms.inbound import SMS_MESSAGE_DETAIL, UNHANDLED_DETAIL
from followup.sms.unreachable import UNREACHABLE_DETAIL

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _pattern(template: str) -> re.Pattern[str]:
    """The English ``template`` as a pattern whose groups are its (numeric) values."""
    parts = _PLACEHOLDER.split(template)
    # split alternates text and placeholder names: text, name, text, name, text...
    pattern = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[0-9]+)" for index, part in enumerate(parts))
    return re.compile(rf"\A{pattern}\Z")


_STORED_TEMPLATES = [
    (template, _pattern(template))
    for template in (MISSED_RUN_TEXT, MISSED_RUN_TEXT_NO_DAY, MISSED_ONE_TEXT, MISSED_ONE_TEXT_NO_DAY)
]


# Texts that carry words from outside (Twilio's verdict, the patient's own message). Rows
# stored before these were kept in English hold them in their writer's language: each
# language's wording is read back.
_CARRYING_TEXTS = (UNREACHABLE_DETAIL, SMS_MESSAGE_DETAIL, UNHANDLED_DETAIL, APP_MESSAGE_DETAIL)
_carrying_patterns: list[tuple[str, re.Pattern[str]]] = []


def _carrying() -> list[tuple[str, re.Pattern[str]]]:
    """(English template, pattern of one language's wording), for every language."""
    if not _carrying_patterns:
        for code, _name in settings.LANGUAGES:
            with override(code):
                for template in _CARRYING_TEXTS:
                    wording = _PLACEHOLDER.split(gettext(template))
                    pattern = "".join(
                        re.escape(part) if index % 2 == 0 else f"(?P<{part}>.*)" for index, part in enumerate(wording)
                    )
                    _carrying_patterns.append((template, re.compile(rf"\A{pattern}\Z", re.DOTALL)))
    return _carrying_patterns


# "I can't come" in the patient app (issue 18): the time as the patient's clock shows it, the kind a code.
_DECLINED = re.compile(
    r"\A"
    + re.escape(DECLINED_DETAIL)
    .replace(re.escape("%(when)s"), "(?P<when>.+?)")
    .replace(re.escape("%(kind)s"), "(?P<kind>[a-z_]+)")
    + r"\Z"
)


def _said_again(detail: str) -> str:
    """A stored English template text in the active language; any other text as is."""
    for template, pattern in _STORED_TEMPLATES:
        match = pattern.match(detail)
        if match is not None:
            return gettext(template) % match.groupdict()
    return _carrying_said_again(detail)


def _carrying_said_again(detail: str) -> str:
    for template, pattern in _carrying():
        match = pattern.match(detail)
        if match is not None:
            return gettext(template) % match.groupdict()
    return detail


def worklist_details(*, items: Iterable[WorklistItem], language: str) -> dict[int, str]:
    """Each item's text (by item id) for a reader of ``language``: two queries for
    the alerts and their protocol versions, whatever the number of items."""
    items = list(items)
    calls = {item.pk: item.alert_id for item in items if item.kind == WorklistItem.Kind.NURSE_CALL and item.alert_id}
    alerts = list(
        Alert.objects.filter(pk__in=set(calls.values())).only("id", "rule_id", "rule_title", "rule_version")
        if calls
        else []
    )
    titles = alert_rule_titles(alerts=alerts, language=language)
    details = {}
    for item in items:
        alert_id = calls.get(item.pk)
        declined = _DECLINED.match(item.detail) if item.kind == WorklistItem.Kind.NURSE_CALL else None
        if declined is not None:
            values = {"when": declined["when"], "kind": label(KIND, declined["kind"])}
            details[item.pk] = gettext(DECLINED_DETAIL) % values
        elif alert_id in titles:
            details[item.pk] = gettext("Call the patient today: %(rule)s") % {"rule": titles[alert_id]}
        elif item.kind in (WorklistItem.Kind.NO_RESPONSE, WorklistItem.Kind.UNREACHABLE):
            details[item.pk] = _said_again(item.detail)
        elif item.kind == WorklistItem.Kind.PATIENT_MESSAGE:
            details[item.pk] = _carrying_said_again(item.detail)
        else:
            details[item.pk] = item.detail
    return details


def worklist_with_details(*, items: Iterable[WorklistItem], language: str) -> list[WorklistItem]:
    """``items`` with ``detail_shown`` set to their text for a reader of ``language``."""
    items = list(items)
    details = worklist_details(items=items, language=language)
    for item in items:
        item.detail_shown = details[item.pk]  # type: ignore[attr-defined]
    return items
