"""Escalation along the care team's on-call chain (H1, H9): who is paged, when next.

The chain is frozen into the alert when it opens (user ids by level), so roster edits
mid-incident do not change who is paged next; the first deadline is committed with the
alert, and followup.services.escalations advances what is due (driven by the beat task
in followup.escalation_tasks).

Levels. `Alert.escalation_level` is the level of the chain last reached:
- red: level 1 (the first person on call) is paged by SMS as the alert opens; each
  deadline (clinic.red_escalation_minutes, 10 by default, any hour) without an
  acknowledgement pages the next level;
- amber: level 1 is the dashboard and the nurses' call list (amber means "a nurse calls
  today", not a page); a deadline of clinic.amber_escalation_minutes (240) counted in
  clinic hours without an acknowledgement pages level 2, then 3, ...
- a person who cannot be paged (no phone, deactivated since the chain was frozen) is
  recorded as skipped and the next level is paged at once (H9);
- past the end of the chain the clinic's fallback number is paged, at every deadline
  until someone acknowledges, each time with an operations warning; the dashboard
  flags such alerts. An empty chain (a roster gap) sends a red alert straight there.

Clinic hours (for amber deadlines): 08:00-18:00 in the clinic's time zone, Monday to
Friday. Public holidays are not known to Vigil and count as working days. An amber
alert raised at 17:00 on a Friday escalates at 11:00 on Monday; one raised at night
counts from 08:00.

Every page is an outbox row written in the caller's transaction with an idempotency key
per alert and level, so a rolled-back step sends nothing and a repeated one sends once.
A page speaks the language of the person paged (their own, else the clinic's default;
the clinic's default for its fallback number), the rule's title included, taken from
the protocol version's translations (followup.rule_titles).
"""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from backend.models import CareTeam, Clinic, OnCallShift, User
from backend.staff_texts import clinic_language, staff_language, text_in
from followup.models import Alert, EscalationStep
from followup.rule_titles import alert_rule_title
from followup.sms.texts import PAGE_AMBER, PAGE_AMBER_FALLBACK, PAGE_RED, PAGE_RED_FALLBACK
from notifications.models import MessageKind
from notifications.services import sms_enqueue

logger = logging.getLogger(__name__)

CLINIC_DAY_START = time(8, 0)
CLINIC_DAY_END = time(18, 0)
CLINIC_WEEKDAYS = frozenset({0, 1, 2, 3, 4})  # Monday .. Friday

NOTE_PAGED = "paged"
NOTE_SKIPPED = "not paged: no phone or no longer active"
NOTE_FALLBACK = "on-call chain exhausted: clinic fallback number paged"
NOTE_NO_FALLBACK = "on-call chain exhausted and the clinic has no fallback number: nobody paged"


# --- the roster ----------------------------------------------------------------------


def on_call_users(*, care_team_id: int | None, at: datetime) -> list[User]:
    """The people of the chain at a moment, first level first (one per level), with
    their clinic (a page is in their language, else their clinic's)."""
    if care_team_id is None:
        return []
    shifts = (
        OnCallShift.objects.filter(care_team_id=care_team_id, starts_at__lte=at, ends_at__gt=at)
        .filter(Q(user__is_active=True))
        .select_related("user__clinic")
        .order_by("level", "starts_at")
    )
    chain: dict[int, User] = {}
    for shift in shifts:
        chain.setdefault(shift.level, shift.user)
    return [chain[level] for level in sorted(chain)]


def on_call_chain(*, care_team_id: int | None, at: datetime) -> list[int]:
    """User ids of the chain at a moment, first level first (one per level)."""
    return [user.pk for user in on_call_users(care_team_id=care_team_id, at=at)]


@dataclass(frozen=True)
class RosterGap:
    """A period in which nobody pageable holds a level of a care team's roster."""

    care_team_id: int
    care_team_name: str
    level: int
    starts_at: datetime
    ends_at: datetime


def on_call_gaps(*, clinic_id: int, start: datetime, days: int = 7, levels: int = 2) -> list[RosterGap]:
    """Gaps in each care team's on-call coverage between `start` and `days` later, for
    levels 1..`levels` (level 1 uncovered: a red alert goes straight to the fallback
    number; level 2 uncovered: nobody to escalate to). A shift of someone without a
    phone or no longer active covers nothing: they cannot be paged (H9).

    Two queries whatever the number of teams and shifts."""
    end = start + timedelta(days=days)
    teams = list(CareTeam.objects.filter(clinic_id=clinic_id).order_by("name", "id").values_list("id", "name"))
    shifts = (
        OnCallShift.objects.filter(
            care_team__clinic_id=clinic_id, level__lte=levels, starts_at__lt=end, ends_at__gt=start
        )
        .filter(user__is_active=True)
        .exclude(user__phone="")
        .values_list("care_team_id", "level", "starts_at", "ends_at")
    )
    covered: dict[tuple[int, int], list[tuple[datetime, datetime]]] = {}
    for team_id, level, starts_at, ends_at in shifts:
        covered.setdefault((team_id, level), []).append((max(starts_at, start), min(ends_at, end)))
    gaps: list[RosterGap] = []
    for team_id, team_name in teams:
        for level in range(1, levels + 1):
            cursor = start
            for starts_at, ends_at in sorted(covered.get((team_id, level), [])):
                if starts_at > cursor:
                    gaps.append(RosterGap(team_id, team_name, level, cursor, starts_at))
                cursor = max(cursor, ends_at)
            if cursor < end:
                gaps.append(RosterGap(team_id, team_name, level, cursor, end))
    return gaps


# --- deadlines -----------------------------------------------------------------------


def clinic_hours_add(*, start: datetime, minutes: int, tz: zoneinfo.ZoneInfo) -> datetime:
    """`minutes` of clinic hours after `start` (see the module docstring)."""
    local = start.astimezone(tz)
    remaining = timedelta(minutes=minutes)
    while True:
        day_start = datetime.combine(local.date(), CLINIC_DAY_START, tzinfo=tz)
        day_end = datetime.combine(local.date(), CLINIC_DAY_END, tzinfo=tz)
        if local.weekday() not in CLINIC_WEEKDAYS or local >= day_end:
            local = datetime.combine(local.date() + timedelta(days=1), CLINIC_DAY_START, tzinfo=tz)
            continue
        local = max(local, day_start)
        if local + remaining <= day_end:
            return (local + remaining).astimezone(start.tzinfo)
        remaining -= day_end - local
        local = day_end


def escalation_deadline(*, alert: Alert, from_time: datetime) -> datetime:
    clinic = alert.clinic
    if alert.severity == Alert.Severity.RED:
        return from_time + timedelta(minutes=clinic.red_escalation_minutes)
    return clinic_hours_add(
        start=from_time, minutes=clinic.amber_escalation_minutes, tz=zoneinfo.ZoneInfo(clinic.timezone)
    )


# --- pages ---------------------------------------------------------------------------


# By severity and whether it is the clinic's fallback number that is paged.
_PAGE_TEXTS = {
    (Alert.Severity.RED, False): PAGE_RED,
    (Alert.Severity.AMBER, False): PAGE_AMBER,
    (Alert.Severity.RED, True): PAGE_RED_FALLBACK,
    (Alert.Severity.AMBER, True): PAGE_AMBER_FALLBACK,
}


def staff_page_body(*, alert: Alert, language: str, fallback: bool = False) -> str:
    """The page in ``language``, the rule's title from the protocol's translations.
    Minimal PHI (H13): initials, the MRN's last characters, the rule, a link."""
    patient = alert.patient
    return text_in(
        language=language,
        message=_PAGE_TEXTS[(alert.severity, fallback)],
        rule=alert_rule_title(alert=alert, language=language),
        initials=patient.initials,
        mrn_end=patient.mrn[-3:],
        link=f"{settings.PUBLIC_BASE_URL}/dashboard/alerts/{alert.pk}/",
        code=alert.ack_code,
    )


def _page_key(*, alert: Alert, level: int) -> str:
    return f"alert-page:{alert.pk}:level:{level}"


def staff_page_send(*, alert: Alert, user: User, level: int) -> bool:
    """Page one person of the chain; False when they cannot be paged."""
    if not user.phone or not user.is_active:
        return False
    sms_enqueue(
        clinic_id=alert.clinic_id,
        to_phone=str(user.phone),
        body=staff_page_body(alert=alert, language=staff_language(user)),
        kind=MessageKind.STAFF_PAGE,
        idempotency_key=_page_key(alert=alert, level=level),
        staff_user=user,
    )
    return True


def escalation_exhausted(*, alert: Alert) -> bool:
    """Past the end of the frozen chain: only the clinic's fallback number is left."""
    return alert.escalation_level > len(alert.escalation_chain or [])


def escalation_page_from(
    *, alert: Alert, level: int, clinic: Clinic, users: dict[int, User] | None = None
) -> tuple[int, list[EscalationStep]]:
    """Page `level` of the frozen chain, falling through people who cannot be paged,
    and past the chain's end the clinic's fallback number. Writes one EscalationStep
    per level touched; returns the level finally reached and the steps written. Caller
    holds the alert's row lock inside a transaction. ``users``: the chain's people, if
    the caller has read them (with their clinic)."""
    chain = list(alert.escalation_chain or [])
    if users is None:
        users = User.objects.select_related("clinic").in_bulk(chain[level - 1 :]) if level <= len(chain) else {}
    steps: list[EscalationStep] = []
    while level <= len(chain):
        user = users.get(chain[level - 1])
        if user is not None and staff_page_send(alert=alert, user=user, level=level):
            steps.append(
                EscalationStep.objects.create(
                    alert=alert, level=level, user=user, target_phone=str(user.phone), note=NOTE_PAGED
                )
            )
            return level, steps
        steps.append(EscalationStep.objects.create(alert=alert, level=level, user=user, note=NOTE_SKIPPED))
        level += 1
    # H9: nobody left on the chain. Operations warning without PHI: ids only.
    if clinic.fallback_phone:
        sms_enqueue(
            clinic_id=alert.clinic_id,
            to_phone=str(clinic.fallback_phone),
            body=staff_page_body(alert=alert, language=clinic_language(clinic), fallback=True),
            kind=MessageKind.STAFF_PAGE,
            idempotency_key=_page_key(alert=alert, level=level),
        )
        steps.append(
            EscalationStep.objects.create(
                alert=alert, level=level, target_phone=str(clinic.fallback_phone), note=NOTE_FALLBACK
            )
        )
        logger.warning(
            "escalation: alert %s (clinic %s) is past its on-call chain at level %s; paged the fallback number",
            alert.pk,
            alert.clinic_id,
            level,
        )
    else:
        steps.append(EscalationStep.objects.create(alert=alert, level=level, note=NOTE_NO_FALLBACK))
        logger.error(
            "escalation: alert %s (clinic %s) is past its on-call chain and the clinic has no fallback number",
            alert.pk,
            alert.clinic_id,
        )
    return level, steps


def escalation_plan(*, alert: Alert, care_team_id: int | None) -> dict[int, User]:
    """Before a new alert is inserted: freeze the chain and set the first deadline on
    it, so the row is written with them (no second write). Returns the chain's people
    for ``escalation_first_page``."""
    now = timezone.now()
    users = on_call_users(care_team_id=care_team_id, at=now)
    alert.escalation_chain = [user.pk for user in users]
    alert.escalation_level = 1
    alert.next_escalation_at = escalation_deadline(alert=alert, from_time=now)
    return {user.pk: user for user in users}


def escalation_first_page(*, alert: Alert, users: dict[int, User]) -> list[EscalationStep]:
    """Once the new alert is stored: for a red one, page level 1 now (or whoever the
    chain falls through to). Returns the steps written. Called inside the transaction
    that creates the alert."""
    if alert.severity != Alert.Severity.RED:
        return []
    level, steps = escalation_page_from(alert=alert, level=1, clinic=alert.clinic, users=users)
    if level != alert.escalation_level:  # fell through people who cannot be paged
        alert.escalation_level = level
        alert.save(update_fields=["escalation_level", "updated_at"])
    return steps
