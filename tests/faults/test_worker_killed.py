"""Fault 2 (H1): the Celery worker SIGKILLed in the middle of sending.

The fake Twilio delays its answers, so the kill lands while requests are in flight:
Twilio may have the message while the worker never heard back. After a restart each
message is sent exactly once (the fake server's count) and none stays `sending`."""

from __future__ import annotations

import time

from notifications.models import MessageStatus, OutgoingMessage
from tests.faults.flow import Feeder, assert_nothing_lost, report_counts, wait_delivered
from tests.faults.harness import DashboardClient, log, wait_for


def test_worker_killed_mid_send_sends_each_message_exactly_once(stack, make_world, fake_twilio):
    world = make_world(patients=4, label="worker")
    clients = [DashboardClient(stack.ws_url, world.staff_token, name="dash0").start()]
    feeder = Feeder(stack, world)
    worker = stack.processes["worker"]
    try:
        # Every send for a while answers only after 3 s (and is then kept by "Twilio").
        fake_twilio.fail_next(timeout=3.0, times=4)
        for _ in range(len(world.patients)):
            feeder.submit()
        wait_for(
            lambda: OutgoingMessage.objects.filter(clinic=world.clinic, status=MessageStatus.SENDING).exists(),
            timeout=30,
            interval=0.1,
            what="a message in `sending`",
        )
        time.sleep(0.5)
        in_flight = OutgoingMessage.objects.filter(clinic=world.clinic, status=MessageStatus.SENDING).count()
        log(f"INJECT: worker process group SIGKILLed with {in_flight} message(s) in `sending`")
        worker.kill()
        time.sleep(3)
        log("HEAL: worker restarted")
        worker.start()
        stack.wait_worker()
        feeder.retry_refused()
        found = wait_delivered(feeder, clients)
        report_counts(
            "fault 2: worker SIGKILLed mid-send",
            feeder,
            clients,
            found,
            **{"messages in `sending` at the kill": in_flight},
        )
        assert in_flight > 0
        assert_nothing_lost(feeder, clients, found)
    finally:
        for client in clients:
            client.stop()
