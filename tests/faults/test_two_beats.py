"""Fault 6 (H1, H8, H9): two beat schedulers running at once by mistake.

Every tick is then sent twice, at nearly the same moment, and two worker processes
run the copies concurrently. Nothing may happen twice: no scheduled check-in is
announced twice, no escalation step is taken twice, no SMS is sent twice."""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import timedelta

from django.utils import timezone

from followup.models import Alert, Enrollment, ScheduledCheckIn
from notifications.models import MessageKind, OutgoingMessage, SmsConversation
from tests.faults.flow import Feeder, report_counts, wait_delivered
from tests.faults.harness import DashboardClient, log, wait_for
from tests.faults.world import counts

ROUNDS = int(os.environ.get("VIGIL_FAULTS_BEAT_ROUNDS", "2"))


def test_two_beats_announce_and_escalate_nothing_twice(stack, make_world, fake_twilio):
    world = make_world(patients=6, label="beats", chain=3)
    clients = [DashboardClient(stack.ws_url, world.staff_token, name="dash0").start()]
    feeder = Feeder(stack, world)
    log("INJECT: a second celery beat started next to the first")
    second = stack.add_beat("beat2")
    try:
        now = timezone.now()
        due = []
        for patient in world.patients:
            enrollment = Enrollment.objects.get(patient=patient)
            due.append(
                ScheduledCheckIn.objects.create(
                    patient=patient,
                    enrollment=enrollment,
                    due_at=now - timedelta(minutes=1),
                    window_minutes=720,
                    channel="sms",
                )
            )
        for _ in range(3):
            feeder.submit()
        alert_ids = feeder.expected_alerts
        wait_for(
            lambda: (
                ScheduledCheckIn.objects.filter(pk__in=[d.pk for d in due], announced_at__isnull=False).count()
                == len(due)
            ),
            timeout=60,
            what="every due check-in announced",
        )
        for round_ in range(ROUNDS):
            # The clock moves past each alert's deadline: the next level is due.
            Alert.objects.filter(pk__in=alert_ids, status="open").update(next_escalation_at=timezone.now())
            level_before = sum(Alert.objects.filter(pk__in=alert_ids).values_list("escalation_level", flat=True))
            wait_for(
                lambda lb=level_before: (
                    sum(Alert.objects.filter(pk__in=alert_ids).values_list("escalation_level", flat=True))
                    >= lb + len(alert_ids)
                ),
                timeout=60,
                what=f"escalation round {round_ + 1}",
            )
            time.sleep(12)  # two more double ticks, which must find nothing left to do
        beat_ticks = second.log_path.read_text(errors="replace").count("Sending due task")
        found = wait_delivered(feeder, clients)
        conversations = Counter(
            SmsConversation.objects.filter(patient__clinic=world.clinic).values_list("scheduled_check_in_id", flat=True)
        )
        invitations = Counter(
            OutgoingMessage.objects.filter(clinic=world.clinic, kind=MessageKind.CHECK_IN).values_list(
                "conversation_id", "question_id"
            )
        )
        levels = dict(Alert.objects.filter(pk__in=alert_ids).values_list("id", "escalation_level"))
        found = counts(world, fake_twilio)
        report_counts(
            "fault 6: two beat schedulers at once",
            feeder,
            clients,
            found,
            **{
                "ticks sent by the second beat": beat_ticks,
                "scheduled check-ins due vs announced": f"{len(due)} vs "
                f"{ScheduledCheckIn.objects.filter(pk__in=[d.pk for d in due], announced_at__isnull=False).count()}",
                "conversations per check-in (max)": max(conversations.values(), default=0),
                "check-in SMS per question (max)": max(invitations.values(), default=0),
                "escalation steps (duplicates)": f"{found.escalation_steps} ({found.escalation_step_duplicates})",
                "alert levels": levels,
            },
        )
        assert beat_ticks > 0, "the second beat never sent a tick"
        assert max(conversations.values(), default=0) == 1
        assert max(invitations.values(), default=0) == 1
        assert found.escalation_step_duplicates == 0
        assert all(level == 1 + ROUNDS for level in levels.values()), levels
        assert found.duplicates == 0
        assert found.undelivered == 0
    finally:
        for client in clients:
            client.stop()
        stack.remove("beat2")
