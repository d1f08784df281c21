"""Fault 4 (H1, H11): Twilio answering 500s, timeouts and 429s for a while.

The issue asks for two minutes; here the fake answers a scripted run of failures
(500, 429 with Retry-After, read timeouts) to the next sends, which with the outbox's
backoff (5 s doubling, jittered) lasts about a minute: enough for every message to
meet several failures without spending its retry budget. Messages retry with
backoff, each is sent exactly once, and every try is recorded."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.db.models import Count

from notifications.models import DeliveryAttempt
from tests.faults.flow import Feeder, assert_nothing_lost, report_counts, wait_delivered
from tests.faults.harness import DashboardClient, log


def test_twilio_errors_retry_with_backoff_and_send_nothing_twice(stack, make_world, fake_twilio):
    world = make_world(patients=3, label="twilio")
    clients = [DashboardClient(stack.ws_url, world.staff_token, name="dash0").start()]
    feeder = Feeder(stack, world)
    try:
        fake_twilio.fail_next(500, times=4)
        fake_twilio.fail_next(429, retry_after=3, times=3)
        fake_twilio.fail_next(timeout=6.0, times=2)  # longer than TWILIO_TIMEOUT (4 s): outcome unknown
        fake_twilio.fail_next(503, times=2)
        log("INJECT: fake Twilio scripted: 4x 500, 3x 429 (Retry-After 3), 2x read timeout, 2x 503")
        for _ in range(len(world.patients)):
            feeder.submit()
        found = wait_delivered(feeder, clients, settle_timeout=240)
        attempts = DeliveryAttempt.objects.filter(message__clinic=world.clinic)
        outcomes = dict(attempts.values_list("outcome").annotate(n=Count("id")).order_by())
        # Backoff: a retry after a transient refusal never comes sooner than the first
        # backoff's lower bound (2.5 s) or the Retry-After.
        gaps = []
        for message_id in set(attempts.values_list("message_id", flat=True)):
            rows = list(attempts.filter(message_id=message_id).order_by("id").values_list("outcome", "started_at"))
            for (outcome, started), (_next_outcome, next_started) in itertools.pairwise(rows):
                if outcome == DeliveryAttempt.Outcome.TRANSIENT_ERROR:
                    gaps.append(next_started - started)
        report_counts(
            "fault 4: Twilio 500 / 429 / timeout / 503",
            feeder,
            clients,
            found,
            **{
                "delivery attempts by outcome": outcomes,
                "shortest retry gap after a refusal": min(gaps) if gaps else None,
            },
        )
        assert_nothing_lost(feeder, clients, found)
        assert found.messages_by_status.get("failed", 0) == 0
        assert outcomes.get(DeliveryAttempt.Outcome.TRANSIENT_ERROR, 0) >= 5
        assert gaps and min(gaps) >= timedelta(seconds=2.4)
    finally:
        for client in clients:
            client.stop()
