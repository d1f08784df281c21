"""Template filters for the staff pages: a stored code as the reader's word
(``followup.dashboard.labels``) and a moment in the viewer's zone with the patient's
local time beside it when the two differ.

    {% load staff_labels %}
    {{ alert.severity|severity_label }} {{ alert.status|alert_status_label }}
    {{ alert.created_at|with_patient_time:patient.timezone }}
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from followup.dashboard import labels
from followup.dashboard.evidence_text import staff_text

register = template.Library()


@register.filter
def protocol_text(text: object) -> str:
    """A question label or appointment reason from the protocol in the reader's
    language (``followup.dashboard.evidence_text``); other text as it is."""
    return staff_text(str(text)) if text else ""


@register.filter
def severity_label(code: object) -> str:
    return labels.label(labels.SEVERITY, code)


@register.filter
def alert_status_label(code: object) -> str:
    return labels.label(labels.ALERT_STATUS, code)


@register.filter
def outcome_label(code: object) -> str:
    return labels.label(labels.OUTCOME, code)


@register.filter
def channel_label(code: object) -> str:
    return labels.label(labels.CHANNEL, code)


@register.filter
def message_status_label(code: object) -> str:
    return labels.label(labels.MESSAGE_STATUS, code)


@register.filter
def step_note_label(code: object) -> str:
    return labels.label(labels.STEP_NOTE, code)


@register.filter
def plan_status_label(code: object) -> str:
    return labels.label(labels.PLAN_STATUS, code)


@register.filter
def kind_label(code: object) -> str:
    return labels.label(labels.KIND, code)


@register.filter
def with_patient_time(moment: datetime | None, patient_zone: str) -> SafeString | str:
    """``moment`` in the page's zone (the ``{% timezone %}`` around it: the clinic's),
    formatted for the reader's language, and the patient's local time beside it when
    their zone's clock reads differently at that moment (a patient who went home to
    another country): staff calling them see both."""
    return _both_times(moment, patient_zone, "SHORT_DATETIME_FORMAT")


@register.filter
def time_with_patient_time(moment: datetime | None, patient_zone: str) -> SafeString | str:
    """As ``with_patient_time``, the time of day only (a page that shows one day)."""
    return _both_times(moment, patient_zone, "TIME_FORMAT")


def _both_times(moment: datetime | None, patient_zone: str, here_format: str) -> SafeString | str:
    if moment is None:
        return ""
    here = timezone.localtime(moment)
    shown = date_format(here, here_format)
    try:
        there = moment.astimezone(zoneinfo.ZoneInfo(patient_zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return shown
    if there.utcoffset() == here.utcoffset():
        return shown
    beside = gettext("patient's time %(time)s (%(zone)s)") % {
        "time": date_format(there, "SHORT_DATETIME_FORMAT" if there.date() != here.date() else "TIME_FORMAT"),
        "zone": patient_zone,
    }
    return format_html('{} <span class="hint patient-time">{}</span>', shown, beside)
