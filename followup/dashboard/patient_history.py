"""What the dashboard's patient page reads of a patient's history, in a fixed number of
queries and a bounded number of rows, so that a patient followed for two years (about
300 check-ins, 40 labs, 20 alerts, thousands of SMS) opens as fast as one discharged
last week (issue 17).

What a surgeon needs, usually opening the page from an alert, often on a phone:
- **Unresolved alerts**, whatever their age, first: an alert left open months ago must
  not sink below a page of green check-ins. One open alert per rule per patient bounds
  them (OPEN_ALERTS_LIMIT is a safety net, not a page).
- **The timeline** (check-ins, alerts, appointments), newest first, TIMELINE_PAGE
  entries, with an "Older" link: a keyset cursor on (time, kind, id), so the tenth
  page reads what the first does and an entry that arrives meanwhile shifts nothing.
- **Charts of the whole follow-up**: every value of the last CHART_DETAIL_DAYS (the
  acute course, a fever this week), and before that one point per week, the week's
  *worst* value (highest temperature and pain, lowest weight), computed by the database
  in one GROUP BY: the two-year trend of weight is there, a fever spike is never
  averaged away, and the rows read are weeks, not check-ins. Labs are few (staff enter
  them) and are plotted value by value, the latest CHART_LAB_LIMIT.
- **The SMS thread**: the latest THREAD_PAGE messages, oldest first, with an "Earlier
  messages" link (keyset on the history entry's id).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Aggregate, FloatField, Max, Min, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, TruncWeek
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from backend.models import Patient
from followup.dashboard import labels as staff_labels
from followup.dashboard.evidence_text import staff_text
from followup.dashboard.selectors import check_in_unanswered_labels
from followup.models import Alert, Appointment, CheckIn, Observation
from followup.rule_titles import alert_rule_titles
from notifications.history import MessageRow, message_history_list, message_history_row

TIMELINE_PAGE = 20
OPEN_ALERTS_LIMIT = 50
THREAD_PAGE = 30
CHART_DETAIL_DAYS = 30
# The newest check-ins read in full for the charts: a month of daily check-ins and a
# fever's extra ones fit many times over.
CHART_DETAIL_LIMIT = 120
# Five years and a bit of weekly points: the whole protocol.
CHART_WEEKS_LIMIT = 270
CHART_LAB_LIMIT = 120
UNRESOLVED = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED)


# --- the timeline ---------------------------------------------------------------------------------------

# At the same moment, an appointment is listed above an alert above a check-in.
KIND_RANK = {"check_in": 0, "alert": 1, "appointment": 2}
_TIMELINE_CURSOR = re.compile(r"\A(-?[0-9]{1,18})\.([0-2])\.([0-9]{1,19})\Z")


class BadCursor(ValueError):
    """A timeline or thread position the page did not give."""


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # check_in, alert, appointment
    pk: int
    level: str  # red, amber, green or "" (colour of the entry)
    title: str
    detail: str
    url: str
    # A check-in whose SMS conversation ended before every question was answered
    # (H16): shown as partial, with the protocol's labels of the unanswered questions.
    partial: bool = False
    unanswered: tuple[str, ...] = ()

    @property
    def kind_label(self) -> str:
        return {"check_in": _("check-in"), "alert": _("alert"), "appointment": _("appointment")}[self.kind]

    @property
    def sort_key(self) -> tuple[datetime, int, int]:
        return (self.at, KIND_RANK[self.kind], self.pk)

    @property
    def cursor(self) -> str:
        """This entry's position: the page after it starts just below it."""
        micros = round(self.at.timestamp() * 1_000_000)
        return f"{micros}.{KIND_RANK[self.kind]}.{self.pk}"


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    older: str | None  # the cursor of the next (older) page, None at the start of the history


def timeline_cursor_read(text: str) -> tuple[datetime, int, int] | None:
    """``?older_than=`` as the page wrote it (None when absent), or BadCursor."""
    if not text:
        return None
    match = _TIMELINE_CURSOR.match(text)
    if match is None:
        raise BadCursor(text)
    micros, rank, pk = (int(group) for group in match.groups())
    try:
        at = datetime.fromtimestamp(micros / 1_000_000, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise BadCursor(text) from error
    return at, rank, pk


def _older_than(time_field: str, rank: int, cursor: tuple[datetime, int, int] | None) -> Q:
    """The rows of one kind (``rank``) below the cursor in the timeline's order:
    earlier, or at the same moment a lower kind, or the same kind and a lower id."""
    if cursor is None:
        return Q()
    at, cursor_rank, pk = cursor
    if rank < cursor_rank:
        return Q(**{f"{time_field}__lte": at})
    if rank == cursor_rank:
        return Q(**{f"{time_field}__lt": at}) | Q(**{time_field: at, "pk__lt": pk})
    return Q(**{f"{time_field}__lt": at})


def patient_timeline_page(
    *, patient: Patient, older_than: tuple[datetime, int, int] | None = None, size: int = TIMELINE_PAGE
) -> TimelinePage:
    """One page of check-ins, alerts and appointments, newest first, below the cursor:
    three queries (each kind's newest ``size + 1`` below it) and one more for the
    protocol versions when a check-in shown is partial, however long the history."""
    check_ins = list(
        CheckIn.objects.filter(_older_than("taken_at", KIND_RANK["check_in"], older_than), patient=patient)
        .only("id", "taken_at", "level", "channel", "complete", "unanswered", "protocol_version_id")
        .order_by("-taken_at", "-id")[: size + 1]
    )
    alerts = list(
        Alert.objects.filter(_older_than("created_at", KIND_RANK["alert"], older_than), patient=patient)
        .only("id", "created_at", "severity", "rule_id", "rule_title", "rule_version", "status", "outcome")
        .order_by("-created_at", "-id")[: size + 1]
    )
    appointments = list(
        Appointment.objects.filter(_older_than("starts_at", KIND_RANK["appointment"], older_than), patient=patient)
        .only("id", "starts_at", "kind", "status", "reason")
        .order_by("-starts_at", "-id")[: size + 1]
    )
    # (time, kind rank, id, row): the timeline's order, newest first.
    candidates: list[tuple[datetime, int, int, Any]] = [
        (row.taken_at, KIND_RANK["check_in"], row.pk, row) for row in check_ins
    ]
    candidates += [(row.created_at, KIND_RANK["alert"], row.pk, row) for row in alerts]
    candidates += [(row.starts_at, KIND_RANK["appointment"], row.pk, row) for row in appointments]
    candidates.sort(key=lambda item: item[:3], reverse=True)
    shown = [item[3] for item in candidates[:size]]
    # The labels of the partial check-ins shown, in their protocol version's words.
    labels = check_in_unanswered_labels([row for row in shown if isinstance(row, CheckIn)])
    # Alerts named in the reader's language, from the protocol's translations (one query).
    titles = alert_rule_titles(alerts=[row for row in shown if isinstance(row, Alert)], language=get_language())
    entries = [_entry(row, labels, titles) for row in shown]
    more = len(candidates) > size
    return TimelinePage(entries=entries, older=entries[-1].cursor if more and entries else None)


def _entry(
    row: CheckIn | Alert | Appointment, labels: dict[int, tuple[str, ...]], titles: dict[int, str]
) -> TimelineEntry:
    if isinstance(row, CheckIn):
        return TimelineEntry(
            row.taken_at,
            "check_in",
            row.pk,
            row.level,
            _("Check-in"),
            staff_labels.label(staff_labels.CHANNEL, row.channel),
            "",
            partial=not row.complete,
            unanswered=labels.get(row.pk, ()),
        )
    if isinstance(row, Alert):
        return _alert_entry(row, titles[row.pk])
    return _appointment_entry(row)


def _alert_entry(alert: Alert, title: str) -> TimelineEntry:
    status = staff_labels.label(staff_labels.ALERT_STATUS, alert.status)
    outcome = staff_labels.label(staff_labels.OUTCOME, alert.outcome) if alert.outcome else ""
    return TimelineEntry(
        alert.created_at,
        "alert",
        alert.pk,
        alert.severity,
        title,
        status + (f" ({outcome})" if outcome else ""),
        reverse("dashboard-alert", args=[alert.pk]),
    )


def _appointment_entry(appointment: Appointment) -> TimelineEntry:
    status = staff_labels.label(staff_labels.PLAN_STATUS, appointment.status)
    return TimelineEntry(
        appointment.starts_at,
        "appointment",
        appointment.pk,
        "",
        staff_labels.label(staff_labels.KIND, appointment.kind),
        status + (f": {staff_text(appointment.reason)}" if appointment.reason else ""),
        "",
    )


def patient_open_alerts(*, patient: Patient) -> list[Alert]:
    """The patient's unresolved alerts, red first, the longest waiting first (one query)."""
    return list(
        Alert.objects.filter(patient=patient, status__in=UNRESOLVED)
        .only("id", "created_at", "severity", "rule_id", "rule_title", "rule_version", "status", "patient_id")
        # "red" sorts after "amber": descending puts red first.
        .order_by("-severity", "created_at", "id")[:OPEN_ALERTS_LIMIT]
    )


# --- the charts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartAnswer:
    code: str
    title: Callable[[], str]
    unit: str
    worst: type[Aggregate]  # Max: the highest is the worst; Min: the lowest


# Plotted on the patient page: check-in answers and one lab (stored in SI units).
CHART_ANSWERS = (
    ChartAnswer("temperature_c", lambda: _("Temperature"), "°C", Max),
    ChartAnswer("weight_kg", lambda: _("Weight"), "kg", Min),
    ChartAnswer("abdominal_pain", lambda: _("Abdominal pain"), "0-10", Max),
)
CHART_LABS = (("bilirubin_umol_l", lambda: _("Bilirubin"), "µmol/L"),)


def patient_series(*, patient: Patient, now: datetime | None = None) -> list[dict[str, Any]]:
    """Values over time for the charts: [{"id", "title", "unit", "points": [[unix
    seconds, value], ...], "weekly_until": unix seconds or None}], oldest first. Before
    ``weekly_until`` a point is a week's worst value (at the week's start); after it,
    every value. Three queries, rows bounded by the limits above."""
    now = now or timezone.now()
    series: dict[str, dict[str, Any]] = {
        one.code: {"id": one.code, "title": one.title(), "unit": one.unit, "points": [], "weekly_until": None}
        for one in CHART_ANSWERS
    }
    for code, title, unit in CHART_LABS:
        series[code] = {"id": code, "title": title(), "unit": unit, "points": [], "weekly_until": None}
    recent = list(
        CheckIn.objects.filter(patient=patient, taken_at__gte=now - timedelta(days=CHART_DETAIL_DAYS))
        .order_by("-taken_at", "-id")
        .values_list("taken_at", "answers")[:CHART_DETAIL_LIMIT]
    )
    recent.reverse()
    # Everything before the first value read in full is summarised by week.
    boundary = recent[0][0] if recent else now
    weeks = _weekly_worst(patient=patient, before=boundary)
    for row in weeks:
        for one in CHART_ANSWERS:
            if row[one.code] is not None:
                series[one.code]["points"].append([int(row["week"].timestamp()), row[one.code]])
    if weeks:
        for one in CHART_ANSWERS:
            series[one.code]["weekly_until"] = int(boundary.timestamp())
    for taken_at, answers in recent:
        for one in CHART_ANSWERS:
            value = answers.get(one.code) if isinstance(answers, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                series[one.code]["points"].append([int(taken_at.timestamp()), value])
    labs = list(
        Observation.objects.filter(patient=patient, code__in=[code for code, _t, _u in CHART_LABS])
        .order_by("-observed_at", "-id")
        .values_list("code", "observed_at", "value")[:CHART_LAB_LIMIT]
    )
    for code, observed_at, value in reversed(labs):
        series[code]["points"].append([int(observed_at.timestamp()), value])
    return list(series.values())


def _weekly_worst(*, patient: Patient, before: datetime) -> list[dict[str, Any]]:
    """Per week (UTC, Monday) before ``before``, each charted answer's worst value, oldest
    first: one GROUP BY in the database, a row per week."""
    worst = {one.code: one.worst(Cast(KT(f"answers__{one.code}"), FloatField())) for one in CHART_ANSWERS}
    rows = (
        CheckIn.objects.filter(patient=patient, taken_at__lt=before)
        .annotate(week=TruncWeek("taken_at", tzinfo=UTC))
        .values("week")
        .annotate(**worst)
        .order_by("-week")[:CHART_WEEKS_LIMIT]
    )
    return list(reversed(list(rows)))


# --- the SMS thread -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientThread:
    """The patient's SMS messages, oldest first (rows as the messages API gives them:
    one-time codes masked); ``earlier`` is the cursor of the page of older ones, None
    when these are the first."""

    messages: list[MessageRow]
    earlier: int | None

    @property
    def entry_ids(self) -> list[int]:
        return [row["id"] for row in self.messages]


def thread_cursor_read(text: str) -> int | None:
    """``?messages_before=`` as the page wrote it (None when absent), or BadCursor."""
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise BadCursor(text)
    return int(text)


def patient_thread(*, patient: Patient, before: int | None = None, size: int = THREAD_PAGE) -> PatientThread:
    """The ``size`` messages before ``before`` (the latest without it), oldest first:
    one query, however many messages (H17's append-only thread as staff read it)."""
    entries: QuerySet = message_history_list(patient=patient)
    if before is not None:
        entries = entries.filter(pk__lt=before)
    latest = list(entries.order_by("-id")[: size + 1])
    shown = latest[:size]
    rows = [message_history_row(entry=entry) for entry in reversed(shown)]
    return PatientThread(messages=rows, earlier=shown[-1].pk if len(latest) > size else None)
