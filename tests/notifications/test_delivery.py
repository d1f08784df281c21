"""Outbox delivery with the real twilio client against the fake Twilio server.

Every message either arrives or is visibly failed, and an outbox row is never sent
twice. Delivery runs outside any transaction, so these tests use a transactional
database."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from backend.models import Patient
from followup.models import Alert, Appointment, WorklistItem
from followup.sms.recalls import recall_sms_send
from notifications.delivery import MAX_ATTEMPTS, outbox_deliver, outbox_sweep_run, outbox_verify, status_callback_url
from notifications.models import DeliveryAttempt, MessageKind, MessageStatus, OutgoingMessage
from notifications.ratelimit import sms_rate_reset, sms_slot_reserve
from notifications.services import sms_enqueue
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)


def enqueue(
    patient: Patient, key: str = "m1", body: str = "Your temperature now, in °C?", **extra: Any
) -> OutgoingMessage:
    return sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body=body,
        kind=extra.pop("kind", MessageKind.CHECK_IN),
        idempotency_key=key,
        patient=patient,
        **extra,
    )


def attempts(message: OutgoingMessage) -> list[str]:
    return list(DeliveryAttempt.objects.filter(message=message).order_by("id").values_list("outcome", flat=True))


def test_it_sends_through_twilio_with_a_status_callback_naming_the_row(twilio_backend: Any, db: None) -> None:
    patient = PatientFactory()
    message = enqueue(patient)
    outcome = outbox_deliver(message_id=message.pk)

    assert outcome is not None and outcome.status == MessageStatus.SENT
    message.refresh_from_db()
    [sent] = twilio_backend.messages
    assert message.status == MessageStatus.SENT and message.twilio_sid == sent["sid"]
    assert (sent["to"], sent["from"], sent["body"]) == (str(patient.phone), twilio_backend.phone_number, message.body)
    assert sent["status_callback"] == status_callback_url(message.pk)
    assert sent["status_callback"].endswith(f"/webhooks/twilio/status/?m={message.pk}")
    assert attempts(message) == ["accepted"]


def test_a_500_then_a_success_sends_once(twilio_backend: Any, db: None) -> None:
    message = enqueue(PatientFactory())
    twilio_backend.fail_next(500)

    first = outbox_deliver(message_id=message.pk)
    assert first.status == MessageStatus.QUEUED and first.retry_in is not None
    message.refresh_from_db()
    assert message.send_after > timezone.now()
    assert outbox_deliver(message_id=message.pk) is None  # not due yet: nothing sent

    with time_machine.travel(message.send_after + timedelta(seconds=1)):
        second = outbox_deliver(message_id=message.pk)
    assert second.status == MessageStatus.SENT
    assert twilio_backend.received_count == 2
    assert len(twilio_backend.messages) == 1
    message.refresh_from_db()
    assert message.attempts == 2
    assert attempts(message) == ["transient_error", "accepted"]
    assert DeliveryAttempt.objects.filter(message=message, outcome="transient_error").get().error_code == 20500


def test_a_429_backs_off_for_at_least_its_retry_after(twilio_backend: Any, db: None) -> None:
    message = enqueue(PatientFactory())
    twilio_backend.fail_next(429, retry_after=120)
    before = timezone.now()

    outcome = outbox_deliver(message_id=message.pk)

    assert outcome.status == MessageStatus.QUEUED and outcome.retry_in >= 120
    message.refresh_from_db()
    assert message.send_after >= before + timedelta(seconds=120)
    assert message.error_code == 20429
    attempt = DeliveryAttempt.objects.get(message=message)
    assert (attempt.http_status, attempt.retry_after_seconds) == (429, 120)
    with time_machine.travel(before + timedelta(seconds=60)):
        assert outbox_deliver(message_id=message.pk) is None
    with time_machine.travel(message.send_after + timedelta(seconds=1)):
        assert outbox_deliver(message_id=message.pk).status == MessageStatus.SENT
    assert len(twilio_backend.messages) == 1


def test_transient_failures_back_off_exponentially_then_fail_visibly(twilio_backend: Any, db: None) -> None:
    """H11: Twilio down for good is a failed message on the patient's worklist, not a
    message retried for ever."""
    patient = PatientFactory()
    message = enqueue(patient)
    twilio_backend.fail_next(503, times=MAX_ATTEMPTS)
    delays = []
    moment = timezone.now()
    for _ in range(MAX_ATTEMPTS):
        with time_machine.travel(moment):
            outcome = outbox_deliver(message_id=message.pk)
        if outcome.retry_in is not None:
            delays.append(outcome.retry_in)
            moment += timedelta(seconds=outcome.retry_in + 1)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error_message.startswith(f"Not sent after {MAX_ATTEMPTS} tries")
    assert len(delays) == MAX_ATTEMPTS - 1
    # Each ceiling doubles; jitter keeps each delay within half of it and all of it.
    for number, delay in enumerate(delays, start=1):
        ceiling = 5 * 2 ** (number - 1)
        assert ceiling / 2 <= delay <= ceiling
    assert WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.UNREACHABLE).exists()


def test_21610_fails_at_once_and_marks_the_patient_opted_out_and_unreachable(twilio_backend: Any, db: None) -> None:
    """H11: the patient texted STOP to the carrier; no retry, no second try later."""
    patient = PatientFactory()
    twilio_backend.mark_unsubscribed(str(patient.phone))
    message = enqueue(patient)

    outcome = outbox_deliver(message_id=message.pk)

    assert outcome.status == MessageStatus.FAILED
    assert twilio_backend.received_count == 1
    message.refresh_from_db()
    assert (message.status, message.error_code) == (MessageStatus.FAILED, 21610)
    assert "unsubscribed" in message.error_message
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is not None
    item = WorklistItem.objects.get(patient=patient)
    assert item.kind == WorklistItem.Kind.UNREACHABLE and "21610" in item.detail
    assert not Alert.objects.exists()  # a question, not a recall or red advice
    assert outbox_deliver(message_id=message.pk) is None
    # Nothing more goes to the number until START.
    later = enqueue(patient, key="m2")
    assert later.status == MessageStatus.SUPPRESSED


def test_an_undeliverable_recall_raises_a_staff_alert(twilio_backend: Any, db: None) -> None:
    """H11: a recall that cannot reach the patient makes staff phone them."""
    patient = PatientFactory()
    twilio_backend.mark_invalid(str(patient.phone))
    appointment = Appointment.objects.create(
        patient=patient,
        kind=Appointment.Kind.RECALL,
        starts_at=timezone.now() + timedelta(hours=4),
        status=Appointment.Status.SCHEDULED,
    )
    message = recall_sms_send(appointment=appointment)

    outbox_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert (message.status, message.error_code) == (MessageStatus.FAILED, 21211)
    alert = Alert.objects.get(patient=patient)
    assert (alert.rule_id, alert.severity, alert.status) == ("sms_unreachable", "amber", "open")
    assert alert.rule_title == "Patient could not be reached by SMS"
    assert alert.evidence[0]["field"] == "sms" and "recall" in alert.evidence[0]["condition"]
    assert WorklistItem.objects.get(patient=patient, kind=WorklistItem.Kind.UNREACHABLE).alert == alert


def test_two_workers_with_the_same_row_send_it_once(twilio_backend: Any, db: None) -> None:
    message = enqueue(PatientFactory())
    twilio_backend.fail_next(timeout=0.5)  # hold the first request so both race
    results: list[Any] = []

    def work() -> None:
        try:
            results.append(outbox_deliver(message_id=message.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(twilio_backend.messages) == 1
    assert sorted(str(result.status) if result else "none" for result in results) == ["none", "none", "none", "sent"]


def test_a_timeout_is_verified_with_twilio_and_not_resent(twilio_backend: Any, db: None, settings: Any) -> None:
    """No answer within the timeout, but Twilio took the message: it is found in
    Twilio's message list and the row is settled, not sent a second time."""
    settings.SMS_SENDING_STALE_SECONDS = 1
    message = enqueue(PatientFactory())
    twilio_backend.fail_next(timeout=3)  # answers after the client's 2 s timeout

    outcome = outbox_deliver(message_id=message.pk)
    assert outcome.status == MessageStatus.SENDING
    twilio_backend.wait_idle(timeout=5)
    assert outbox_deliver(message_id=message.pk) is None  # never resent blindly
    time.sleep(1.1)

    assert outbox_verify(message_id=message.pk).status == MessageStatus.SENT

    message.refresh_from_db()
    [sent] = twilio_backend.messages
    assert message.twilio_sid == sent["sid"]
    assert attempts(message) == ["unknown", "found_at_provider"]


def test_a_row_stuck_sending_that_never_reached_twilio_is_sent_again_once(
    twilio_backend: Any, db: None, settings: Any
) -> None:
    settings.SMS_SENDING_STALE_SECONDS = 1
    message = enqueue(PatientFactory())
    # A worker claimed it and died before its request left (nothing at Twilio).
    OutgoingMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, claimed_at=timezone.now() - timedelta(seconds=5), attempts=1
    )

    report = outbox_sweep_run()
    assert report.verifying == 1
    assert outbox_verify(message_id=message.pk).status == MessageStatus.QUEUED
    assert outbox_deliver(message_id=message.pk).status == MessageStatus.SENT

    assert len(twilio_backend.messages) == 1
    assert attempts(message) == ["interrupted", "not_at_provider", "accepted"]


def test_the_verification_ignores_a_twilio_message_that_belongs_to_another_row(
    twilio_backend: Any, db: None, settings: Any
) -> None:
    """Two rows with the same text to one number: the crashed one is not settled with
    the other's sid."""
    settings.SMS_SENDING_STALE_SECONDS = 1
    patient = PatientFactory()
    delivered = enqueue(patient, key="a", body="Eyes or skin yellow?")
    stuck = enqueue(patient, key="b", body="Eyes or skin yellow?")
    outbox_deliver(message_id=delivered.pk)
    OutgoingMessage.objects.filter(pk=stuck.pk).update(
        status=MessageStatus.SENDING, claimed_at=timezone.now() - timedelta(seconds=5), attempts=1
    )
    assert outbox_verify(message_id=stuck.pk).status == MessageStatus.QUEUED


def test_the_sweeper_redrives_queued_rows_whose_task_was_lost(twilio_backend: Any, db: None) -> None:
    message = enqueue(PatientFactory())
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        report = outbox_sweep_run()
    assert report.requeued == 1
    assert OutgoingMessage.objects.get(pk=message.pk).status == MessageStatus.QUEUED


def test_the_rate_per_sending_number_holds_across_concurrent_senders(
    twilio_backend: Any, db: None, settings: Any
) -> None:
    """A long code sends about one message a second; here 5 a second, with four
    senders at once (the slots live in Redis, shared by every worker process)."""
    settings.SMS_RATE_PER_SECOND = 5.0
    sms_rate_reset(number=twilio_backend.phone_number)
    messages = [enqueue(PatientFactory(), key=f"rate-{n}") for n in range(8)]

    def work(mine: list[OutgoingMessage]) -> None:
        try:
            for message in mine:
                outbox_deliver(message_id=message.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(messages[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(twilio_backend.messages) == 8
    starts = sorted(
        DeliveryAttempt.objects.filter(outcome=DeliveryAttempt.Outcome.ACCEPTED).values_list("started_at", flat=True)
    )
    # Each send waits for its slot, and slots are 0.2 s apart; a send may start late
    # (the machine is busy), which brings it closer to the next one, so any k sends
    # span at least (k - 1) x 0.2 s less that lateness: never a burst.
    lateness = 0.15
    for first, later in itertools.combinations(range(len(starts)), 2):
        span = (starts[later] - starts[first]).total_seconds()
        assert span >= (later - first) * 0.2 - lateness, (first, later, span)


def test_a_message_whose_slot_is_too_far_off_goes_back_to_the_queue_untried(
    twilio_backend: Any, db: None, settings: Any
) -> None:
    settings.SMS_RATE_PER_SECOND = 1.0
    sms_rate_reset(number=twilio_backend.phone_number)
    for _ in range(10):  # other workers took the next ten seconds
        sms_slot_reserve(number=twilio_backend.phone_number, max_wait=60)
    message = enqueue(PatientFactory())

    outcome = outbox_deliver(message_id=message.pk)

    assert outcome.status == MessageStatus.QUEUED and 4 < outcome.retry_in <= 10
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.QUEUED, 0)
    assert message.send_after > timezone.now() + timedelta(seconds=4)
    assert twilio_backend.received_count == 0
    assert not DeliveryAttempt.objects.exists()


def test_with_a_messaging_service_only_there_is_no_per_number_wait(
    twilio_backend: Any, db: None, settings: Any
) -> None:
    settings.SMS_RATE_PER_SECOND = 1.0
    settings.TWILIO_FROM_NUMBER = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32
    messages = [enqueue(PatientFactory(), key=f"mg-{n}") for n in range(3)]
    started = time.monotonic()
    for message in messages:
        outbox_deliver(message_id=message.pk)
    assert time.monotonic() - started < 1.5
    assert [m["messaging_service_sid"] for m in twilio_backend.messages] == [settings.TWILIO_MESSAGING_SERVICE_SID] * 3


def test_delivery_refuses_to_run_inside_a_transaction(twilio_backend: Any, db: None) -> None:
    """STYLE: never call Twilio with a transaction open."""
    message = enqueue(PatientFactory())
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_deliver(message_id=message.pk)
    assert twilio_backend.received_count == 0


def test_a_broker_outage_after_commit_loses_nothing_and_raises_nothing(
    twilio_backend: Any, db: None, monkeypatch: Any
) -> None:
    """H1/H2: the message is committed with what caused it; the broker refusing the
    task neither undoes that nor fails the caller, and the sweeper sends it later."""

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Error 111 connecting to the broker")

    monkeypatch.setattr("notifications.services.celery_app.send_task", broker_down)
    with transaction.atomic():
        message = enqueue(PatientFactory())
    assert OutgoingMessage.objects.get(pk=message.pk).status == MessageStatus.QUEUED

    monkeypatch.undo()
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        assert outbox_sweep_run().requeued == 1
    assert outbox_deliver(message_id=message.pk).status == MessageStatus.SENT
    assert len(twilio_backend.messages) == 1
