"""Fault 3 (H1): PostgreSQL restarted under load.

Through the proxy every open connection is dropped and new ones are refused for a
while, as a restarting server does. The web and worker processes recover without
being restarted, and no check-in acknowledged (201) to a client is missing; the
refused ones, retried with their Idempotency-Key, are stored once."""

from __future__ import annotations

import os
import threading
import time

from followup.models import CheckIn
from tests.faults.flow import Feeder, assert_nothing_lost, report_counts, wait_delivered
from tests.faults.harness import DashboardClient, log

REFUSE_SECONDS = float(os.environ.get("VIGIL_FAULTS_PG_DOWN", "10"))


def test_postgres_restart_under_load_loses_no_acknowledged_check_in(stack, make_world):
    world = make_world(patients=8, label="postgres")
    clients = [DashboardClient(stack.ws_url, world.staff_token, name=f"dash{i}").start() for i in range(2)]
    feeder = Feeder(stack, world)
    starts_before = {name: p.starts for name, p in stack.processes.items()}
    pids_before = {name: p.pid for name, p in stack.processes.items()}
    load = threading.Thread(target=feeder.run_for, args=(REFUSE_SECONDS + 20,), kwargs={"every": 0.7}, daemon=True)
    try:
        load.start()
        time.sleep(6)
        dropped = stack.proxy.drop_all()
        stack.proxy.refuse(True)
        log(f"INJECT: postgres connections dropped ({dropped}) and refused for {REFUSE_SECONDS:.0f}s")
        time.sleep(REFUSE_SECONDS)
        stack.proxy.refuse(False)
        log(f"HEAL: postgres accepting again (refused {stack.proxy.refused} connection attempts)")
        load.join(timeout=REFUSE_SECONDS + 60)
        feeder.retry_refused()
        acknowledged = {s.check_in_id for s in feeder.submissions if s.accepted}
        stored = set(CheckIn.objects.filter(patient__clinic=world.clinic).values_list("id", flat=True))
        # A check-in after the outage goes all the way through (the worker recovered).
        after = feeder.submit()
        found = wait_delivered(feeder, clients)
        report_counts(
            f"fault 3: postgres down {REFUSE_SECONDS:.0f}s under load",
            feeder,
            clients,
            found,
            **{
                "acknowledged ids missing from the database": len(acknowledged - stored),
                "process restarts (web/worker/beat)": {
                    name: p.starts - starts_before.get(name, 0) for name, p in stack.processes.items()
                },
            },
        )
        assert not acknowledged - stored, "a check-in acknowledged with 201 is not in the database"
        assert after.statuses == [201]
        assert {name: p.pid for name, p in stack.processes.items()} == pids_before, "a process was restarted"
        assert all(p.alive for p in stack.processes.values())
        assert_nothing_lost(feeder, clients, found)
    finally:
        for client in clients:
            client.stop()
