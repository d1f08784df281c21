"""Soak: steady check-ins for a while with the faults of the fault suite injected in
turn, then the table of what was accepted, stored, created, delivered and sent.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigil REDIS_URL=redis://127.0.0.1:6379/15 \\
      SECRET_KEY=soak .venv/bin/python bench/soak.py --seconds 300

Runs the real web (daphne), worker and beat processes on a redis-server of its own and
PostgreSQL behind the fault suite's proxy (tests/faults/harness.py), in the database
<name>_faults, which it drops and re-creates. The time is split into equal slots:
a quiet one, then Redis killed, the worker SIGKILLed mid-send, PostgreSQL connections
dropped and refused, the fake Twilio answering 500 / 429 / timeouts, one dashboard not
reading, a second beat; each fault lasts most of its slot and heals before the next.
After the last slot every check-in the clients saw refused is retried with its
Idempotency-Key (as the app does), and the run waits for the outbox to settle and
the dashboards to catch up before counting. A figure printer, not a test: it exits 0
and prints "LOST" or "DUPLICATED" on the lines where something went wrong.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.faults.settings"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the steady load (default 300)")
    parser.add_argument("--rate", type=float, default=2.0, help="check-ins per second (default 2)")
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--red-every", type=int, default=3, help="one check-in in N is red (default 3)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("soak needs DATABASE_URL=postgres://... and REDIS_URL (see the docstring)", file=sys.stderr)
        return 2
    seconds = max(70.0, min(args.seconds, 1800.0))
    # One patient may send 12 check-ins an hour (the protocol's rate; more are a 429,
    # which the retries after the faults would wait out): enough patients that each
    # sends at most 10 in the run, whatever --rate and --seconds.
    patients = max(args.patients, math.ceil(args.rate * seconds / 10))

    import django

    django.setup()

    from tests.fake_twilio import FakeTwilio
    from tests.faults.flow import Feeder
    from tests.faults.harness import DashboardClient, Stack, database_recreate, log, wait_for
    from tests.faults.world import counts, settled, world_create

    database_recreate()
    fake = FakeTwilio().start()
    stack = Stack(fake)
    stack.start()
    world = world_create(patients=patients, label="soak")
    stack.worlds.append(world)
    clients = [DashboardClient(stack.ws_url, world.staff_token, name=f"dash{i}").start() for i in range(3)]
    slow = clients[2]
    feeder = Feeder(stack, world)
    stop = threading.Event()

    def load() -> None:
        n = 0
        interval = 1.0 / args.rate
        while not stop.is_set():
            started = time.monotonic()
            n += 1
            threading.Thread(target=feeder.submit, kwargs={"red": n % args.red_every == 0}, daemon=True).start()
            stop.wait(max(0.0, interval - (time.monotonic() - started)))

    faults = [
        ("quiet", lambda: None, lambda: None),
        ("redis killed", stack.redis.stop, stack.redis.start),
        (
            "worker SIGKILLed mid-send",
            lambda: (fake.fail_next(timeout=3.0, times=6), time.sleep(1.5), stack.processes["worker"].kill()),
            lambda: (stack.processes["worker"].start(), stack.wait_worker()),
        ),
        (
            "postgres dropped and refused",
            lambda: (stack.proxy.drop_all(), stack.proxy.refuse(True)),
            lambda: stack.proxy.refuse(False),
        ),
        (
            "twilio 500/429/timeouts",
            lambda: (
                fake.fail_next(500, times=6),
                fake.fail_next(429, retry_after=2, times=6),
                fake.fail_next(timeout=6.0, times=3),
            ),
            lambda: None,
        ),
        ("one dashboard not reading", slow.stop_reading, slow.resume_reading),
        ("two beats", lambda: stack.add_beat("beat2"), lambda: stack.remove("beat2")),
    ]
    slot = seconds / len(faults)
    injected: list[str] = []
    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        for name, inject, heal in faults:
            log(f"INJECT: {name} for {slot * 0.7:.0f}s")
            inject()
            time.sleep(slot * 0.7)
            heal()
            log(f"HEAL: {name}")
            injected.append(f"{name} ({slot * 0.7:.0f}s)")
            time.sleep(slot * 0.3)
    finally:
        stop.set()
        thread.join(timeout=10)
    time.sleep(5)
    feeder.retry_refused(timeout=180)
    try:
        wait_for(lambda: settled(world), timeout=300, interval=2, what="outbox settled")
        stored_events = counts(world, fake).events_stored
        wait_for(lambda: all(set(stored_events) <= set(c.seqs) for c in clients), timeout=120, what="dashboards")
    except TimeoutError as error:
        log(str(error))
    time.sleep(3)
    found = counts(world, fake)
    accepted = sum(1 for s in feeder.submissions if s.accepted)
    first = feeder.first_answers()
    expected_alerts = feeder.expected_alerts
    sent = found.messages_by_status.get("sent", 0) + found.messages_by_status.get("delivered", 0)
    rows = [
        (
            "check-ins sent (first answer)",
            f"{len(feeder.submissions)} ({', '.join(f'{k}: {v}' for k, v in sorted(first.items()))})",
        ),
        (
            "check-ins accepted vs stored",
            f"{accepted} vs {found.check_ins_stored}"
            + ("" if accepted == found.check_ins_stored else "  LOST/DUPLICATED"),
        ),
        (
            "alerts expected vs created",
            f"{len(expected_alerts)} vs {found.alerts_created}"
            + ("" if expected_alerts <= found.alert_ids else "  LOST"),
        ),
    ]
    for client in clients:
        got = len(set(client.seqs) & set(found.events_stored))
        note = "" if got == len(found.events_stored) else "  LOST"
        note += "" if client.duplicates == 0 else "  DUPLICATED"
        rows.append(
            (
                f"events stored vs delivered ({client.name})",
                f"{len(found.events_stored)} vs {got} (reconnects {client.connects - 1}){note}",
            )
        )
    rows += [
        (
            "messages queued / sent / failed",
            f"{found.messages_total} / {sent} / {found.messages_by_status.get('failed', 0)}"
            + ("" if found.undelivered == 0 else f"  {found.undelivered} STUCK"),
        ),
        ("messages accepted by the fake Twilio", str(found.fake_sent)),
        (
            "duplicates (SMS, events, escalation steps)",
            f"{found.duplicates}, {sum(c.duplicates for c in clients)}, {found.escalation_step_duplicates}",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"\nSoak: {seconds:.0f} s at {args.rate:g} check-ins/s, {patients} patients, 1 in {args.red_every} red")
    print("Faults in turn: " + "; ".join(injected) + "\n")
    print(f"| {'figure'.ljust(width)} | value |")
    print(f"| {'-' * width} | --- |")
    for key, value in rows:
        print(f"| {key.ljust(width)} | {value} |")
    for client in clients:
        client.stop()
    stack.stop()
    fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
