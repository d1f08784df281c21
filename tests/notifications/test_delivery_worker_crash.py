"""A real Celery worker killed with SIGKILL in the middle of a send, then a new worker
and the sweeper: every message ends up sent exactly once (counted at the fake Twilio
server), whether or not the killed worker's request reached Twilio."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from config.celery import app as celery_app
from notifications.delivery import outbox_sweep_run
from notifications.models import DeliveryAttempt, MessageKind, MessageStatus, OutgoingMessage
from notifications.services import sms_enqueue
from tests.factories import PatientFactory
from tests.fake_twilio import FakeTwilio

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


# Deadlines are generous: a worker starting on a loaded machine (another test run
# beside this one) can take tens of seconds to import Django and reach the broker.
DEADLINE = 180.0


def wait_for(condition: Callable[[], bool], *, timeout: float = DEADLINE, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def start_worker(twilio_backend: FakeTwilio, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start `celery worker` processes on the test database and the fake Twilio."""
    fake = twilio_backend
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # A short "stuck in sending" threshold, so the test need not wait a minute.
        "SMS_SENDING_STALE_SECONDS": "2",
        "DATABASE_URL": database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "SMS_BACKEND": "notifications.backends.twilio.TwilioBackend",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_FROM_NUMBER": fake.phone_number,
        "TWILIO_API_BASE_URL": fake.base_url,
        "SMS_RATE_PER_SECOND": "1000",
    }
    # Tasks left in the queue by earlier tests name rows that no longer exist.
    celery_app.control.purge()
    workers: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(workers)}.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "--loglevel=INFO"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            worker.kill()  # its work is done and checked; nothing to shut down cleanly
            worker.wait()


def enqueue_three() -> list[OutgoingMessage]:
    messages = []
    for number in range(3):
        patient = PatientFactory()
        messages.append(
            sms_enqueue(
                clinic_id=patient.clinic_id,
                to_phone=str(patient.phone),
                body=f"Your temperature now, in °C? ({number})",
                kind=MessageKind.CHECK_IN,
                idempotency_key=f"crash-{number}",
                patient=patient,
            )
        )
    return messages


def status(message: OutgoingMessage) -> str:
    message.refresh_from_db()
    return message.status


def outcomes(message: OutgoingMessage) -> list[str]:
    return list(DeliveryAttempt.objects.filter(message=message).order_by("id").values_list("outcome", flat=True))


def kill_mid_send(start_worker: Callable[[], subprocess.Popen[bytes]], fake: FakeTwilio) -> None:
    worker = start_worker()
    # The first request is in Twilio's hands (held by the fake) when the worker dies.
    wait_for(lambda: fake.received_count >= 1, what="the worker's first request")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=DEADLINE)
    fake.wait_idle(timeout=DEADLINE)


def recover(
    start_worker: Callable[[], subprocess.Popen[bytes]], messages: list[OutgoingMessage], settings: Any
) -> None:
    start_worker()
    stuck = [m for m in messages if status(m) == MessageStatus.SENDING]
    assert len(stuck) == 1
    others = [m for m in messages if m not in stuck]
    wait_for(lambda: all(status(m) == MessageStatus.SENT for m in others), what="the other messages")
    # The sweeper, as beat runs it: once the row stuck in `sending` is stale, it is
    # verified, not resent (a sweep before then leaves it alone).
    settings.SMS_SENDING_STALE_SECONDS = 2
    wait_for(lambda: outbox_sweep_run().verifying == 1, what="the sweeper to take the stale message")
    wait_for(lambda: status(stuck[0]) == MessageStatus.SENT, what="the stuck message")


def test_a_worker_killed_while_twilio_takes_the_message_leaves_each_message_sent_once(
    start_worker: Any, twilio_backend: FakeTwilio, settings: Any
) -> None:
    fake = twilio_backend
    fake.fail_next(timeout=4)  # Twilio takes the first message, but answers late
    messages = enqueue_three()

    kill_mid_send(start_worker, fake)
    stuck = [m for m in messages if status(m) == MessageStatus.SENDING]
    assert [m.twilio_sid for m in stuck] == [""]  # the worker died before storing the sid
    recover(start_worker, messages, settings)

    assert fake.received_count == 3
    assert sorted(m["body"] for m in fake.messages) == sorted(m.body for m in messages)
    stuck[0].refresh_from_db()
    assert stuck[0].twilio_sid in {m["sid"] for m in fake.messages}
    assert outcomes(stuck[0]) == ["interrupted", "found_at_provider"]


def test_a_worker_killed_before_twilio_took_the_message_leaves_each_message_sent_once(
    start_worker: Any, twilio_backend: FakeTwilio, settings: Any
) -> None:
    fake = twilio_backend
    fake.fail_next(503, timeout=4)  # the first request never becomes a message
    messages = enqueue_three()

    kill_mid_send(start_worker, fake)
    recover(start_worker, messages, settings)

    assert len(fake.messages) == 3
    assert sorted(m["body"] for m in fake.messages) == sorted(m.body for m in messages)
    resent = next(m for m in messages if outcomes(m)[0] == "interrupted")
    assert outcomes(resent) == ["interrupted", "not_at_provider", "accepted"]
