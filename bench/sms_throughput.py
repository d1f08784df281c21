"""SMS: inbound webhook latency and outbound throughput to the fake Twilio server.

Run: ``.venv/bin/python bench/sms_throughput.py [--requests 300] [--messages 12] [--rate R]``
with ``REDIS_URL`` set (the per-number rate lives in Redis, Celery's broker too).

Self-contained like bench/checkin_service.py: a throw-away SQLite database in a temp
directory, migrated first; the shell's ``DATABASE_URL`` is ignored. Set
``BENCH_DATABASE_URL`` to measure on PostgreSQL (a database you can throw away).
Its Celery tasks go to a queue of their own, so no other worker takes them.

Inbound (one client, sequential requests over HTTP to a threaded WSGI server in this
process, each form signed with twilio's RequestValidator over the public URL; two real
``celery worker`` processes handle what the webhook stored, as in production):
* ``anchor``: the floor of any Twilio webhook: check the signature, insert one row,
  answer empty TwiML;
* ``answer``: Vigil's webhook with the reply to the question of a running SMS
  check-in: the webhook stores the message and answers; the worker then locks, parses,
  stores and queues the next question (every 21st reply of a patient ends the
  check-in: rules, alerts, advice);
* ``free text``: a message outside a conversation (the worker: nurse's worklist, reply).
For both Vigil kinds the bench also gives the time from the webhook's insert to the
worker's "handled" (``received_at`` to ``processed_at``, the database's clock).

Outbound (two real ``celery worker`` processes, two pool slots each, sending with the
real twilio client to the fake Twilio server):
* ``anchor``: the raw twilio client sending in a loop, no database, no rate;
* ``no per-number rate``: Vigil's outbox with the rate off (a Messaging Service);
* ``at the configured rate``: the same with the per-number rate (SMS_RATE_PER_SECOND,
  or ``--rate``) shared through Redis by all four senders: the rate measured is the
  one Twilio saw, from the first request to the last.

Prints figures (and a ``BENCH_JSON`` line); never fails on a figure.
"""

from __future__ import annotations

import argparse
import atexit
import itertools
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK_DIR = Path(tempfile.mkdtemp(prefix="vigil-sms-bench-"))
atexit.register(shutil.rmtree, WORK_DIR, ignore_errors=True)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ["VIGIL_DATA_DIR"] = str(WORK_DIR)
# Never the shell's DATABASE_URL (it may be a real database): the bench writes patients
# and messages. BENCH_DATABASE_URL names a throw-away one on purpose.
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{WORK_DIR / 'bench.sqlite3'}"
os.environ.setdefault("LOG_LEVEL", "WARNING")
QUEUE = "vigil-sms-bench"
AUTH_TOKEN = "bench-" + secrets.token_hex(8)

import django  # noqa: E402 - after the environment above

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import transaction  # noqa: E402
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402
from twilio.rest import Client  # noqa: E402

from backend.models import AuditRecord, Clinic, Episode, Patient  # noqa: E402
from config.celery import app as celery_app  # noqa: E402
from followup.models import Enrollment, ScheduledCheckIn  # noqa: E402
from followup.services.protocols import protocol_version_current  # noqa: E402
from followup.sms.conversations import conversation_start  # noqa: E402
from notifications.backends.twilio import RebasedTwilioHttpClient  # noqa: E402
from notifications.models import (  # noqa: E402
    DeliveryAttempt,
    InboundMessage,
    MessageKind,
    MessageStatus,
    OutgoingMessage,
)
from notifications.ratelimit import sms_rate_reset  # noqa: E402
from notifications.services import sms_enqueue  # noqa: E402
from notifications.webhooks import EMPTY_TWIML, twilio_signature_valid  # noqa: E402
from tests.fake_twilio import FakeTwilio  # noqa: E402

# The reply a patient gives to each question, in the order asked (no vomiting, no drain,
# no pulse device: 21 questions).
REPLIES = [
    "37,1", "no", "no", "no", "no", "2", "no", "1", "no", "0", "no", "no", "1", "normal",
    "79.5", "no", "no", "none", "no", "1", "no",
]  # fmt: skip


# --- the anchor webhook and the URLs this process serves ------------------------------------


@csrf_exempt
def anchor_webhook(request: HttpRequest) -> HttpResponse:
    """What any Twilio webhook must do: verify the signature, store, answer TwiML."""
    if not twilio_signature_valid(request):
        return HttpResponseForbidden()
    AuditRecord.objects.create(action="create", object_type="bench_sms_anchor", object_id=request.POST["MessageSid"])
    return HttpResponse(EMPTY_TWIML, content_type="text/xml; charset=utf-8")


urlpatterns = [path("bench/anchor/twilio/", anchor_webhook), path("", include("config.urls"))]


class QuietHandler(WSGIRequestHandler):
    # Headers and body are two writes: without TCP_NODELAY the body waits for the
    # client's delayed ACK (40 ms), which would swamp what is measured.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve() -> tuple[ThreadedWSGIServer, str]:
    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=True)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# --- data ---------------------------------------------------------------------------------------


def patients_create(count: int, clinic: Clinic, prefix: str, group: int) -> list[Patient]:
    version = protocol_version_current("post-hepatectomy")
    today = timezone.localdate()
    patients = []
    for index in range(count):
        patient = Patient.objects.create(
            clinic=clinic,
            mrn=f"{prefix}{index:05d}",
            given_name="Bench",
            family_name=f"{prefix}{index}",
            phone=f"+44207946{group}{index:03d}",  # Ofcom's range for fiction
            language="en",
            timezone="Europe/Istanbul",
            sms_consent=True,
        )
        episode = Episode.objects.create(
            patient=patient,
            procedure="Right hepatectomy",
            surgery_date=today - timedelta(days=9),
            discharge_date=today - timedelta(days=3),
            baseline_weight_kg=Decimal("80.0"),
        )
        Enrollment.objects.create(episode=episode, patient=patient, protocol_version=version)
        patients.append(patient)
    return patients


def check_in_start(patient: Patient) -> None:
    scheduled = ScheduledCheckIn.objects.create(
        patient=patient,
        enrollment=patient.enrollments.get(),
        due_at=timezone.now() - timedelta(minutes=1),
        window_minutes=720,
        status=ScheduledCheckIn.Status.SENT,
        announced_at=timezone.now(),
    )
    conversation_start(scheduled_check_in=scheduled)


# --- inbound -------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def post_signed(session: requests.Session, base: str, path_: str, params: dict[str, str]) -> float:
    signature = RequestValidator(AUTH_TOKEN).compute_signature(settings.PUBLIC_BASE_URL + path_, params)
    started = time.perf_counter()
    response = session.post(
        base + path_,
        data=urllib.parse.urlencode(params),
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{path_} answered {response.status_code}")
    return elapsed


def inbound_params(phone: str, body: str) -> dict[str, str]:
    sid = "SM" + secrets.token_hex(16)
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": phone,
            "To": "+15005550006", "Body": body, "NumMedia": "0"}  # fmt: skip


def inbound(base: str, requests_count: int, clinic: Clinic) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """(webhook latencies per kind, the worker's handling per Vigil kind)."""
    answering = patients_create(20, clinic, "BENCHA", 1)
    chatting = patients_create(20, clinic, "BENCHB", 2)
    for patient in answering:
        check_in_start(patient)
    turn = {patient.pk: 0 for patient in answering}
    samples: dict[str, list[float]] = {"anchor": [], "answer": [], "free text": []}
    workers = workers_start(INBOUND_WORKER_ENV, label="inbound")
    try:
        with requests.Session() as session:
            for _ in range(20):  # warm up both paths
                post_signed(session, base, "/bench/anchor/twilio/", inbound_params(str(chatting[0].phone), "hello"))
            warm = inbound_params(str(chatting[0].phone), "hello")
            post_signed(session, base, "/webhooks/twilio/sms/", warm)
            handled_wait(InboundMessage.objects.filter(message_sid=warm["MessageSid"]), timeout=60)
            first_id = InboundMessage.objects.order_by("-id").values_list("pk", flat=True).first() or 0
            inbound_posts(session, base, requests_count, answering, chatting, turn, samples)
        rows = InboundMessage.objects.filter(pk__gt=first_id)
        handled_wait(rows, timeout=60)
    finally:
        workers_stop(workers)
    return samples, handling_figures(rows, answering)


def inbound_posts(
    session: requests.Session,
    base: str,
    requests_count: int,
    answering: list[Patient],
    chatting: list[Patient],
    turn: dict[int, int],
    samples: dict[str, list[float]],
) -> None:
    for serial in range(requests_count):
        # Interleaved, so drift in the machine touches all three alike.
        samples["anchor"].append(
            post_signed(session, base, "/bench/anchor/twilio/", inbound_params(str(chatting[0].phone), "hello"))
        )
        patient = answering[serial % len(answering)]
        if turn[patient.pk] == len(REPLIES):
            # The last check-in ended (once the worker has its last reply): the next begins.
            handled_wait(InboundMessage.objects.filter(from_phone=str(patient.phone)), timeout=30)
            check_in_start(patient)
            turn[patient.pk] = 0
        reply = REPLIES[turn[patient.pk]]
        turn[patient.pk] += 1
        samples["answer"].append(
            post_signed(session, base, "/webhooks/twilio/sms/", inbound_params(str(patient.phone), reply))
        )
        sender = chatting[serial % len(chatting)]
        samples["free text"].append(
            post_signed(
                session, base, "/webhooks/twilio/sms/", inbound_params(str(sender.phone), "Is it normal to itch?")
            )
        )


def handled_wait(rows: Any, *, timeout: float) -> None:
    """Until every row is handled (or given up), or the timeout: the workers' backlog."""
    deadline = time.monotonic() + timeout
    while rows.filter(processed_at__isnull=True, handling_failed_at__isnull=True).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)


def handling_figures(rows: Any, answering: list[Patient]) -> dict[str, Any]:
    """Insert to handled, per kind (ms); the workers' rate from the first insert to the
    last handled (messages/s); how many were left unhandled. One client posting as
    fast as it can outpaces the workers on a small machine, so the delays include the
    backlog: the rate is the figure to compare."""
    phones = {str(patient.phone) for patient in answering}
    delays: dict[str, list[float]] = {"answer": [], "free text": []}
    unhandled = 0
    first, last = None, None
    for from_phone, received, processed in rows.values_list("from_phone", "received_at", "processed_at"):
        if processed is None:
            unhandled += 1
            continue
        first = received if first is None else min(first, received)
        last = processed if last is None else max(last, processed)
        kind = "answer" if from_phone in phones else "free text"
        delays[kind].append((processed - received).total_seconds() * 1000)
    handled = sum(len(values) for values in delays.values())
    span = (last - first).total_seconds() if first is not None and last is not None else 0.0
    figures: dict[str, Any] = {"unhandled": unhandled, "per_second": round(handled / span, 1) if span else None}
    for kind, values in delays.items():
        if values:
            figures[kind] = {"p50": round(statistics.median(values), 2), "p99": round(percentile(values, 0.99), 2)}
    return figures


# --- outbound ------------------------------------------------------------------------------------


WORKER_SETTINGS = f"""
from config.settings import *  # noqa: F403
# Retries and rate deferrals the workers queue go to the bench's own queue too.
CELERY_TASK_DEFAULT_QUEUE = {QUEUE!r}
"""


# The inbound handling's replies go to the in-memory backend: only the handling is timed.
INBOUND_WORKER_ENV = {"SMS_BACKEND": "notifications.backends.locmem.LocmemBackend", "LOG_LEVEL": "WARNING"}


def twilio_worker_env(fake: FakeTwilio, rate: float) -> dict[str, str]:
    return {
        "SMS_BACKEND": "notifications.backends.twilio.TwilioBackend",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_FROM_NUMBER": fake.phone_number if rate > 0 else "",
        "TWILIO_MESSAGING_SERVICE_SID": "" if rate > 0 else "MG" + "0" * 32,
        "TWILIO_API_BASE_URL": fake.base_url,
        "SMS_RATE_PER_SECOND": str(rate),
        "LOG_LEVEL": "WARNING",
    }


def workers_start(extra_env: dict[str, str], *, label: str) -> list[subprocess.Popen[bytes]]:
    (WORK_DIR / "sms_bench_settings.py").write_text(WORKER_SETTINGS)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sms_bench_settings",
        "PYTHONPATH": os.pathsep.join([str(WORK_DIR), str(ROOT)]),
        **extra_env,
    }
    workers = []
    for index in range(2):
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", QUEUE, "--pool=prefork",
                   "--concurrency=2", "--without-gossip", "--without-mingle", "--without-heartbeat",
                   "--loglevel=WARNING", "-n", f"sms-bench-{index}@%h"]  # fmt: skip
        log = (WORK_DIR / f"worker-{label}-{index}.log").open("wb")
        workers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    return workers


def workers_stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def outbound_run(fake: FakeTwilio, clinic: Clinic, patients: list[Patient], count: int, rate: float) -> dict[str, Any]:
    """Send ``count`` messages through the outbox with four senders in two processes."""
    fake.reset()
    sms_rate_reset(number=fake.phone_number)
    workers = workers_start(twilio_worker_env(fake, rate), label=f"outbound-{rate:g}")
    try:
        # Let the workers come up and take a first message, so start-up is not timed.
        first = enqueue(clinic, patients[0], f"warm-{rate}-{secrets.token_hex(4)}")
        deadline = time.monotonic() + 60
        while status(first) != MessageStatus.SENT and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5 if rate <= 0 else max(1.5, 2 / rate))  # the rate's slot clears
        tag = secrets.token_hex(4)
        with transaction.atomic():  # all queued at once, at commit: the producer is not timed
            messages = [enqueue(clinic, patients[n % len(patients)], f"out-{rate}-{tag}-{n}") for n in range(count)]
        deadline = time.monotonic() + 30 + (count / rate if rate > 0 else 0)
        while time.monotonic() < deadline:
            if not OutgoingMessage.objects.filter(pk__in=[m.pk for m in messages]).exclude(status="sent").exists():
                break
            time.sleep(0.05)
    finally:
        workers_stop(workers)
    starts = sorted(
        DeliveryAttempt.objects.filter(message__in=messages, outcome=DeliveryAttempt.Outcome.ACCEPTED).values_list(
            "started_at", flat=True
        )
    )
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    span = (starts[-1] - starts[0]).total_seconds() if len(starts) > 1 else float("nan")
    return {
        "sent": len(starts),
        "accepted_by_fake": len(fake.messages) - 1,  # less the warm-up message
        "per_second": (len(starts) - 1) / span if span and span == span else float("nan"),
        "min_gap_ms": min(gaps) * 1000 if gaps else float("nan"),
    }


def enqueue(clinic: Clinic, patient: Patient, key: str) -> OutgoingMessage:
    return sms_enqueue(
        clinic_id=clinic.pk,
        to_phone=str(patient.phone),
        body="Your temperature now, in °C?",
        kind=MessageKind.CHECK_IN,
        idempotency_key=key,
        patient=patient,
    )


def status(message: OutgoingMessage) -> str:
    return str(OutgoingMessage.objects.filter(pk=message.pk).values_list("status", flat=True).get())


def anchor_send(fake: FakeTwilio, count: int) -> float:
    client = Client(fake.account_sid, fake.auth_token, http_client=RebasedTwilioHttpClient(base_url=fake.base_url))
    client.messages.create(to="+442079460999", from_=fake.phone_number, body="warm up")
    started = time.perf_counter()
    for _ in range(count):
        client.messages.create(to="+442079460999", from_=fake.phone_number, body="Your temperature now, in °C?")
    return count / (time.perf_counter() - started)


# --- main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="inbound requests per kind")
    parser.add_argument("--messages", type=int, default=12, help="outbound messages per run")
    parser.add_argument("--rate", type=float, default=None, help="per-number rate (default SMS_RATE_PER_SECOND)")
    args = parser.parse_args()
    rate = args.rate if args.rate is not None else float(settings.SMS_RATE_PER_SECOND)

    call_command("migrate", verbosity=0)
    celery_app.conf.task_default_queue = QUEUE
    celery_app.control.purge()
    settings.ROOT_URLCONF = __name__
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.SMS_BACKEND = "notifications.backends.locmem.LocmemBackend"  # inbound replies stay queued
    server, base = serve()
    settings.PUBLIC_BASE_URL = base
    clinic = Clinic.objects.create(name="SMS bench clinic", phone="+442079460001", languages=["en"])

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"SMS bench on {platform.python_implementation()} {platform.python_version()}, {database}, "
          f"{os.cpu_count()} CPUs", flush=True)  # fmt: skip
    samples, handling = inbound(base, args.requests, clinic)
    server.shutdown()
    figures: dict[str, Any] = {"inbound_ms": {}, "inbound_handled_ms": handling, "outbound_per_second": {}}
    print(f"\ninbound webhook, {args.requests} requests each, one client over HTTP (ms)")
    for name, values in samples.items():
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        figures["inbound_ms"][name] = {"p50": round(p50, 2), "p99": round(p99, 2)}
        print(f"  {name:<10} median {p50:7.2f}   p99 {p99:7.2f}")
    anchor = figures["inbound_ms"]["anchor"]["p50"]
    anchor_p99 = figures["inbound_ms"]["anchor"]["p99"]
    for name in ("answer", "free text"):
        print(f"  {name} / anchor: median {figures['inbound_ms'][name]['p50'] / anchor:.2f}x, "
              f"p99 {figures['inbound_ms'][name]['p99'] / anchor_p99:.2f}x")  # fmt: skip
    print(f"\nstored by the webhook -> handled by a worker (2 processes x 2 slots): {handling['per_second']} msg/s, ms")
    for name in ("answer", "free text"):
        if name in handling:
            print(f"  {name:<10} median {handling[name]['p50']:7.2f}   p99 {handling[name]['p99']:7.2f}")
    print(f"  left unhandled: {handling['unhandled']}")

    celery_app.control.purge()  # the inbound replies' tasks: not for the outbound runs
    senders = patients_create(10, clinic, "BENCHC", 3)
    with FakeTwilio() as fake:
        raw = anchor_send(fake, max(args.messages * 4, 40))
        unlimited = outbound_run(fake, clinic, senders, args.messages * 2, rate=0)
        paced = outbound_run(fake, clinic, senders, args.messages, rate=rate)
    figures["outbound_per_second"] = {
        "anchor, raw twilio client": round(raw, 1),
        "outbox, no per-number rate": round(unlimited["per_second"], 2),
        f"outbox at {rate:g}/s per number": round(paced["per_second"], 3),
    }
    figures["outbound_detail"] = {"no_rate": unlimited, "rate": paced}
    print("\noutbound to the fake Twilio server, 2 worker processes x 2 slots (messages/s)")
    print(f"  anchor: raw twilio client, one loop         {raw:8.1f}")
    print(f"  Vigil outbox, no per-number rate            {unlimited['per_second']:8.1f}"
          f"   ({unlimited['sent']} sent, Twilio got {unlimited['accepted_by_fake']})")  # fmt: skip
    print(f"  Vigil outbox, per-number rate {rate:g}/s         {paced['per_second']:8.2f}"
          f"   ({paced['sent']} sent, Twilio got {paced['accepted_by_fake']}, "
          f"closest two sends {paced['min_gap_ms']:.0f} ms apart)")  # fmt: skip
    print("\nBENCH_JSON " + json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
