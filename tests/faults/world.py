"""The people of a fault test, written straight to the database (committed: the web,
worker and beat processes read them), and the counts a test reports.

Each test gets a clinic of its own, so its counts never mix with another test's:
an on-call chain of surgeons with phones, enrolled patients with app tokens, and a
staff token for the dashboards. Phone numbers come from Ofcom's drama range
(+44 113 496 0xxx) and are unique within a run, so the fake Twilio's record of what
was sent can be filtered by them.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.db.models import Count
from django.utils import timezone
from knox.models import AuthToken

from backend.models import CareTeam, Clinic, OnCallShift, Patient, Role, User
from backend.services import patient_user_get_or_create
from followup.models import Alert, CheckIn, EscalationStep
from notifications.models import Event, MessageStatus, OutgoingMessage
from tests.answers import green_answers, red_answers
from tests.factories import enrolled_patient_create

_numbers = itertools.count(1)
FINAL = {
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
    MessageStatus.FAILED,
    MessageStatus.SUPPRESSED,
}

# The kit's answer sets (tests/answers.py). Jaundice is a red warning sign after a
# hepatectomy (liver failure, bile leak).
GREEN_ANSWERS: dict[str, Any] = green_answers()
RED_ANSWERS: dict[str, Any] = red_answers()


def phone() -> str:
    number = next(_numbers)
    if number > 999:
        raise RuntimeError("out of drama-range numbers for this run")
    return f"+44113496{number:04d}"


@dataclass
class World:
    clinic: Clinic
    surgeons: list[User]
    nurse: User
    staff_token: str
    patients: list[Patient]
    patient_tokens: list[str]
    phones: set[str] = field(default_factory=set)


def world_create(*, patients: int, label: str, chain: int = 2, red_escalation_minutes: int = 10) -> World:
    clinic = Clinic.objects.create(
        name=f"Faults {label}",
        phone=phone(),
        timezone="Europe/Istanbul",
        languages=["en", "tr"],
        red_escalation_minutes=red_escalation_minutes,
        # Quiet hours would hold the advice SMS back at night (H10): not under test here.
        quiet_hours_start="00:00",
        quiet_hours_end="00:00",
    )
    team = CareTeam.objects.create(clinic=clinic, name=f"Team {label}")
    now = timezone.now()
    surgeons = []
    for level in range(1, chain + 1):
        surgeon = User.objects.create(
            username=f"faults-{label}-surgeon{level}-{uuid.uuid4().hex[:6]}",
            role=Role.SURGEON,
            clinic=clinic,
            phone=phone(),
        )
        OnCallShift.objects.create(
            care_team=team,
            user=surgeon,
            level=level,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
        )
        team.members.add(surgeon)
        surgeons.append(surgeon)
    nurse = User.objects.create(
        username=f"faults-{label}-nurse-{uuid.uuid4().hex[:6]}", role=Role.NURSE, clinic=clinic, phone=phone()
    )
    _instance, staff_token = AuthToken.objects.create(user=nurse)
    made: list[Patient] = []
    tokens: list[str] = []
    for index in range(patients):
        patient = Patient.objects.create(
            clinic=clinic,
            care_team=team,
            mrn=f"F{label[:6]}{index:04d}{uuid.uuid4().hex[:4]}",
            given_name=f"Fa{index}",
            family_name=f"Ult{label[:6]}",
            phone=phone(),
            language="en",
            timezone="Europe/Istanbul",
            sms_consent=True,
        )
        enrolled_patient_create(patient=patient)  # discharged two days ago, as every kit patient
        _instance, token = AuthToken.objects.create(user=patient_user_get_or_create(patient))
        made.append(patient)
        tokens.append(token)
    phones = {str(p.phone) for p in made} | {str(s.phone) for s in surgeons} | {str(nurse.phone)}
    return World(
        clinic=clinic,
        surgeons=surgeons,
        nurse=nurse,
        staff_token=staff_token,
        patients=made,
        patient_tokens=tokens,
        phones=phones,
    )


# --- counting ----------------------------------------------------------------------------------


def outbox_ids_sent(fake: Any, *, phones: set[str]) -> list[int]:
    """Outbox ids of the messages the fake Twilio accepted for these numbers (the
    StatusCallback URL names the row: ?m=<id>); a repeated id is a duplicate send."""
    ids = []
    for message in fake.messages:
        if message["to"] not in phones:
            continue
        callback = message.get("status_callback") or ""
        found = parse_qs(urlsplit(callback).query).get("m")
        ids.append(int(found[0]) if found else -1)
    return ids


@dataclass
class Counts:
    check_ins_stored: int
    alerts_created: int
    alert_ids: set[int]
    events_stored: list[int]
    messages_by_status: dict[str, int]
    messages_total: int
    fake_sent: int
    duplicates: int
    escalation_steps: int
    escalation_step_duplicates: int

    @property
    def undelivered(self) -> int:
        return sum(n for status, n in self.messages_by_status.items() if status not in FINAL)


def counts(world: World, fake: Any) -> Counts:
    clinic = world.clinic
    by_status = dict(
        OutgoingMessage.objects.filter(clinic=clinic).values_list("status").annotate(n=Count("id")).order_by()
    )
    sent_ids = outbox_ids_sent(fake, phones=world.phones)
    repeated = sum(n - 1 for n in Counter(sent_ids).values() if n > 1)
    steps = list(EscalationStep.objects.filter(alert__clinic=clinic).values_list("alert_id", "level"))
    return Counts(
        check_ins_stored=CheckIn.objects.filter(patient__clinic=clinic).count(),
        alerts_created=Alert.objects.filter(clinic=clinic).count(),
        alert_ids=set(Alert.objects.filter(clinic=clinic).values_list("id", flat=True)),
        events_stored=list(Event.objects.filter(clinic=clinic).order_by("seq").values_list("seq", flat=True)),
        messages_by_status=by_status,
        messages_total=sum(by_status.values()),
        fake_sent=len(sent_ids),
        duplicates=repeated,
        escalation_steps=len(steps),
        escalation_step_duplicates=len(steps) - len(set(steps)),
    )


def settled(world: World) -> bool:
    """Every outbox row of the clinic has reached a final status."""
    return not OutgoingMessage.objects.filter(
        clinic=world.clinic, status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
    ).exists()


def report(title: str, lines: dict[str, Any]) -> str:
    width = max(len(k) for k in lines)
    text = "\n".join(f"  {k.ljust(width)}  {v}" for k, v in lines.items())
    block = f"\n=== {title} ===\n{text}\n"
    print(block, flush=True)
    return block


def phi_in_logs(log_paths: list[Any], world: World) -> list[str]:
    """Lines of the processes' logs that carry a patient's or a staff member's phone
    number (as dialled, or URL-encoded) or a patient's name (H13)."""
    needles = {number.lstrip("+") for number in world.phones}
    needles |= {f"{p.given_name} {p.family_name}" for p in world.patients}
    found = []
    for path in log_paths:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if any(needle in line for needle in needles):
                found.append(f"{path.name}: {line[:200]}")
    return found
