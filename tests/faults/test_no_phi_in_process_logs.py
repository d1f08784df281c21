"""H13 across the real processes: after the whole fault run (outages, retries, a
killed worker, provider look-ups of sends in doubt), the web, worker and beat logs
name no phone number and no patient name of any clinic the run created.

Runs last (tests/faults/conftest.py orders it), so it reads the logs of every fault;
it also drives its own red check-ins through a send whose answer is lost, so the
look-up path runs even when it is run alone."""

from __future__ import annotations

from tests.faults.flow import Feeder, assert_no_phi_in_logs, report_counts, wait_delivered
from tests.faults.harness import DashboardClient, log


def test_process_logs_carry_no_phi(stack, make_world, fake_twilio):
    world = make_world(patients=2, label="phi")
    clients = [DashboardClient(stack.ws_url, world.staff_token, name="dash0").start()]
    feeder = Feeder(stack, world)
    try:
        fake_twilio.fail_next(timeout=6.0, times=1)  # the answer is lost: the send is verified by a look-up
        log("INJECT: one send answered too late (read timeout), then verified against the provider")
        for _ in range(len(world.patients)):
            feeder.submit()
        found = wait_delivered(feeder, clients)
        report_counts(
            "H13: PHI in process logs",
            feeder,
            clients,
            found,
            **{
                "clinics searched": len(stack.worlds),
                "log files": ", ".join(p.log_path.name for p in stack.processes.values()),
            },
        )
        assert_no_phi_in_logs(stack)
    finally:
        for client in clients:
            client.stop()
