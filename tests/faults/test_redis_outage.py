"""Fault 1 (H1): Redis (broker, channel layer, cache) stopped while red check-ins arrive.

Every check-in is accepted (201) or refused with a clear 503, nothing half-stored;
after Redis returns every alert reaches the connected dashboards (live or by their
`?since=` resync) and every SMS is sent exactly once."""

from __future__ import annotations

import os
import time

from tests.faults.flow import Feeder, assert_nothing_lost, report_counts, wait_delivered
from tests.faults.harness import DashboardClient, log

OUTAGE_SECONDS = float(os.environ.get("VIGIL_FAULTS_REDIS_OUTAGE", "30"))


def test_redis_down_while_red_check_ins_arrive_loses_nothing(stack, make_world):
    world = make_world(patients=10, label="redis")
    clients = [DashboardClient(stack.ws_url, world.staff_token, name=f"dash{i}").start() for i in range(2)]
    feeder = Feeder(stack, world)
    try:
        for _ in range(2):
            feeder.submit()
        log(f"INJECT: redis-server killed (SIGKILL, no persistence) for {OUTAGE_SECONDS:.0f}s")
        stack.redis.stop()
        outage_started = time.monotonic()
        health_during = stack.healthz()
        feeder.run_for(OUTAGE_SECONDS - 2, every=OUTAGE_SECONDS / 6)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
        during = [s.statuses[0] for s in feeder.submissions[2:]]
        log(f"HEAL: redis-server restarted (empty) after {time.monotonic() - outage_started:.0f}s")
        stack.redis.start()
        for _ in range(2):
            feeder.submit()
        feeder.retry_refused()
        found = wait_delivered(feeder, clients)
        report_counts(
            f"fault 1: redis down {OUTAGE_SECONDS:.0f}s",
            feeder,
            clients,
            found,
            **{
                "answers during the outage": during,
                "healthz during the outage": f"{health_during.status_code} {health_during.json().get('checks')}",
            },
        )
        assert set(during) <= {201, 503}, f"a check-in during the outage got neither 201 nor a clear 503: {during}"
        assert health_during.status_code == 503
        assert_nothing_lost(feeder, clients, found)
    finally:
        for client in clients:
            client.stop()
