"""Check-ins flowing while a fault is on, and the bookkeeping every fault test shares:
what the clients were told (accepted or refused), the idempotent retries a patient's
app makes after the fault heals, and the final counts with their assertions."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.faults.harness import DashboardClient, Stack, log, wait_for
from tests.faults.world import GREEN_ANSWERS, RED_ANSWERS, Counts, World, counts, phi_in_logs, report, settled


@dataclass
class Submission:
    patient_index: int
    key: str
    answers: dict[str, Any]
    statuses: list[int] = field(default_factory=list)
    body: Any = None

    @property
    def accepted(self) -> bool:
        return 201 in self.statuses

    @property
    def check_in_id(self) -> int | None:
        return self.body.get("id") if self.accepted and isinstance(self.body, dict) else None

    @property
    def alert_ids(self) -> list[int]:
        if not self.accepted or not isinstance(self.body, dict):
            return []
        return list(self.body["triage"]["alerts"])


class Feeder:
    """Submits check-ins for a world's patients, round robin, each with its own
    Idempotency-Key (as the patient app does, so a retry can never store it twice)."""

    def __init__(self, stack: Stack, world: World) -> None:
        self.stack = stack
        self.world = world
        self.submissions: list[Submission] = []
        self._next = 0
        self._lock = threading.Lock()

    def submit(self, *, red: bool = True, timeout: float = 30) -> Submission:
        with self._lock:
            index = self._next % len(self.world.patients)
            self._next += 1
        answers = RED_ANSWERS if red else GREEN_ANSWERS
        submission = Submission(patient_index=index, key=uuid.uuid4().hex, answers=answers)
        status, body = self.stack.post_check_in(
            token=self.world.patient_tokens[index], answers=answers, key=submission.key, timeout=timeout
        )
        submission.statuses.append(status)
        submission.body = body
        with self._lock:
            self.submissions.append(submission)
        return submission

    def run_for(self, seconds: float, *, every: float, red: bool = True) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            self.submit(red=red)
            time.sleep(max(0.0, every - (time.monotonic() - started)))

    def retry_refused(self, *, timeout: float = 90) -> None:
        """After the fault: resend each refused check-in with the same key until it is
        accepted (the app's retry); the key guarantees it is stored once."""
        deadline = time.monotonic() + timeout
        for submission in self.submissions:
            while not submission.accepted:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"check-in {submission.key} still refused after the fault healed")
                status, body = self.stack.post_check_in(
                    token=self.world.patient_tokens[submission.patient_index],
                    answers=submission.answers,
                    key=submission.key,
                )
                submission.statuses.append(status)
                submission.body = body
                if status != 201:
                    time.sleep(1)

    @property
    def expected_alerts(self) -> set[int]:
        return {alert for s in self.submissions for alert in s.alert_ids}

    def first_answers(self) -> dict[int, int]:
        """How many submissions got each first status (0: no answer at all)."""
        result: dict[int, int] = {}
        for s in self.submissions:
            result[s.statuses[0]] = result.get(s.statuses[0], 0) + 1
        return result


def wait_delivered(
    feeder: Feeder, clients: list[DashboardClient], *, timeout: float = 120, settle_timeout: float = 180
) -> Counts:
    """Wait until every dashboard has every stored event of the clinic and the outbox
    has settled; then count."""
    world, fake = feeder.world, feeder.stack.fake

    def dashboards_caught_up() -> bool:
        stored = counts(world, fake).events_stored
        return all(set(stored) <= set(c.seqs) for c in clients)

    try:
        wait_for(dashboards_caught_up, timeout=timeout, interval=1, what="every stored event on every dashboard")
    except TimeoutError as error:
        log(str(error))
    try:
        wait_for(lambda: settled(world), timeout=settle_timeout, interval=1, what="outbox settled")
    except TimeoutError as error:
        log(str(error))
    time.sleep(2)  # let a (wrong) second send show up before counting
    return counts(world, fake)


def report_counts(title: str, feeder: Feeder, clients: list[DashboardClient], found: Counts, **extra: Any) -> None:
    accepted = sum(1 for s in feeder.submissions if s.accepted)
    lines: dict[str, Any] = {
        "check-ins sent / first answers": f"{len(feeder.submissions)} / {feeder.first_answers()}",
        "check-ins accepted vs stored": f"{accepted} vs {found.check_ins_stored}",
        "alerts expected vs created": f"{len(feeder.expected_alerts)} vs {found.alerts_created}",
        "events stored vs delivered": f"{len(found.events_stored)} vs "
        + ", ".join(f"{c.name}={len(set(c.seqs) & set(found.events_stored))}" for c in clients),
        "websocket reconnects": ", ".join(f"{c.name}={c.connects - 1}" for c in clients),
        "event duplicates / out of order": ", ".join(f"{c.name}={c.duplicates}/{c.out_of_order}" for c in clients),
        "messages queued/sent/failed": f"{found.messages_total} / {found.fake_sent} / "
        f"{found.messages_by_status.get('failed', 0)}",
        "messages by status": found.messages_by_status,
        "sms duplicates": found.duplicates,
    }
    lines.update(extra)
    report(title, lines)


def assert_nothing_lost(feeder: Feeder, clients: list[DashboardClient], found: Counts) -> None:
    accepted = [s for s in feeder.submissions if s.accepted]
    assert found.check_ins_stored == len(accepted), "a check-in stored twice or half-stored"
    assert feeder.expected_alerts <= found.alert_ids, "an alert promised to a patient was not stored"
    for client in clients:
        assert set(found.events_stored) <= set(client.seqs), f"{client.name} missed events"
        assert client.duplicates == 0, f"{client.name} got an event twice"
        assert client.out_of_order == 0, f"{client.name} got events out of order"
        assert feeder.expected_alerts <= client.alert_ids(), f"{client.name} missed an alert"
    assert found.undelivered == 0, f"messages still queued or sending: {found.messages_by_status}"
    assert found.duplicates == 0, "an SMS was sent twice"
    sent = found.messages_by_status.get("sent", 0) + found.messages_by_status.get("delivered", 0)
    assert found.fake_sent == sent, "the provider's count differs from the outbox's"


def assert_no_phi_in_logs(stack: Stack) -> None:
    """H13: the web, worker and beat logs of the run name no phone number or patient
    name of any clinic the run created."""
    leaks = []
    for world in stack.worlds:
        leaks += phi_in_logs([p.log_path for p in stack.processes.values()], world)
    assert not leaks, "PHI in process logs:\n" + "\n".join(leaks[:10])
