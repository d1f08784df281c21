"""Inbound SMS handled in the worker (``notifications.inbound``, issue 17), H16: the
webhook stores the message and answers; a task handles each message once and a phone's
messages in the order they came, whatever order the tasks run in; a message whose task
was lost is picked up by the sweep; a handling that fails is retried and then put
before the nurses, never dropped, and the phone's next message still goes through."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from config.celery import app as celery_app
from followup.models import WorklistItem
from followup.sms.conversations import conversation_start
from followup.sms.inbound import inbound_route
from notifications import hooks
from notifications.inbound import (
    INBOUND_HANDLE_TASK,
    MAX_HANDLING_ATTEMPTS,
    HandlingOutcome,
    inbound_handle,
    inbound_sweep_run,
)
from notifications.models import InboundMessage, MessageHistoryEntry, OutgoingMessage, SmsConversation
from notifications.tasks import sms_inbound_handle
from notifications.webhooks import EMPTY_TWIML
from tests.factories import inbound_task_run

pytestmark = pytest.mark.django_db

FAILING_WORD = "failhere"


def failing_router(**kwargs: Any) -> str:
    """The real router, except that a message containing ``FAILING_WORD`` breaks it
    (a fault injected where the handling can fail: a bug, a lost connection)."""
    if FAILING_WORD in kwargs["body"]:
        raise RuntimeError(f"handling broke on {kwargs['body']}")
    return inbound_route(**kwargs)


@pytest.fixture
def router_that_fails(settings: Any) -> Iterator[None]:
    settings.VIGIL_SMS_INBOUND_ROUTER = f"{__name__}.failing_router"
    hooks._hook.cache_clear()  # the hooks are resolved once per process
    yield
    hooks._hook.cache_clear()


@pytest.fixture
def sent_tasks(monkeypatch: Any) -> list[tuple[str, list[Any]]]:
    """What would have gone to the broker, recorded: (task name, args)."""
    sent: list[tuple[str, list[Any]]] = []

    def record(name: str, args: Any = None, **options: Any) -> None:
        sent.append((name, list(args or [])))

    monkeypatch.setattr(celery_app, "send_task", record)
    return sent


def run_sent(sent: list[tuple[str, list[Any]]]) -> None:
    """Run the recorded tasks here, as a worker would."""
    for name, args in sent:
        celery_app.tasks[name].apply(args=args).get()
    sent.clear()


def conversation_of(patient: Any) -> SmsConversation:
    return SmsConversation.objects.get(patient=patient)


def test_the_webhook_stores_and_answers_and_the_worker_handles_after_commit(
    webhooks: Any,
    make_enrolled: Any,
    make_due_check_in: Any,
    sent_tasks: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    patient = make_enrolled()
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    before = OutgoingMessage.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        response = webhooks.sms(str(patient.phone), "37.4", handle=False)

    assert response.content.decode() == EMPTY_TWIML
    inbound = InboundMessage.objects.get()
    assert (inbound.from_phone, inbound.body, inbound.handled_as) == (str(patient.phone), "37.4", "pending")
    assert inbound.processed_at is None
    # Nothing but the row: the conversation waits for the worker, nothing is texted.
    assert conversation_of(patient).answers == {}
    assert conversation_of(patient).current_question == "temperature_c"
    assert OutgoingMessage.objects.count() == before
    assert sent_tasks == [(INBOUND_HANDLE_TASK, [inbound.pk])]  # after commit, the id only

    run_sent(sent_tasks)
    inbound.refresh_from_db()
    assert inbound.handled_as == InboundMessage.HandledAs.ANSWER and inbound.processed_at is not None
    assert conversation_of(patient).answers == {"temperature_c": 37.4}
    assert conversation_of(patient).current_question == "chills"


def test_a_repeated_message_sid_is_stored_once_and_handled_once_however_often_its_task_runs(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    patient = make_enrolled()
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    sid = "SM" + "d" * 32
    webhooks.sms(str(patient.phone), "37.4", message_sid=sid, handle=False)
    webhooks.sms(str(patient.phone), "37.4", message_sid=sid, handle=False)  # Twilio's retry
    assert InboundMessage.objects.count() == 1

    inbound_task_run(message_sid=sid)
    after_first = OutgoingMessage.objects.count()
    inbound_task_run(message_sid=sid)  # a redelivered task
    inbound = InboundMessage.objects.get()
    assert inbound_handle(inbound_id=inbound.pk) == HandlingOutcome(handled=0)

    assert OutgoingMessage.objects.count() == after_first
    assert conversation_of(patient).answers == {"temperature_c": 37.4}
    assert conversation_of(patient).current_question == "chills"
    assert MessageHistoryEntry.objects.filter(inbound=inbound).count() == 1


def test_one_phones_messages_are_handled_in_arrival_order_when_their_tasks_run_in_reverse(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    """Read against the wrong question, "no" would not be a temperature: the second
    task handles the first message first."""
    patient = make_enrolled()
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    webhooks.sms(str(patient.phone), "37.4", message_sid="SM" + "1" * 32, handle=False)
    webhooks.sms(str(patient.phone), "no", message_sid="SM" + "2" * 32, handle=False)
    first, second = InboundMessage.objects.order_by("id")

    assert inbound_handle(inbound_id=second.pk) == HandlingOutcome(handled=2)
    assert inbound_handle(inbound_id=first.pk) == HandlingOutcome(handled=0)

    conversation = conversation_of(patient)
    assert conversation.answers == {"temperature_c": 37.4, "chills": False}
    assert conversation.miss_streak == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.processed_at is not None and second.processed_at is not None
    assert first.processed_at <= second.processed_at


def test_a_message_whose_task_was_lost_is_picked_up_by_the_sweep(
    webhooks: Any,
    make_enrolled: Any,
    clock: Any,
    monkeypatch: Any,
    sent_tasks: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The broker is down when the message comes: Twilio still gets its answer, the row
    is stored, and the sweep hands it to a worker once it has waited too long."""
    start = clock.at(datetime(2031, 5, 6, 10, 0, tzinfo=UTC))
    patient = make_enrolled()

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(celery_app, "send_task", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = webhooks.sms(str(patient.phone), "Is it normal to itch?", handle=False)
    assert response.content.decode() == EMPTY_TWIML
    inbound = InboundMessage.objects.get()
    assert inbound.processed_at is None

    monkeypatch.setattr(celery_app, "send_task", lambda name, args=None, **options: sent_tasks.append((name, args)))
    clock.at(start + timedelta(seconds=5))
    assert inbound_sweep_run() == 0  # its task may still be on its way
    clock.at(start + timedelta(seconds=20))
    assert inbound_sweep_run() == 1
    assert sent_tasks == [(INBOUND_HANDLE_TASK, [inbound.pk])]

    run_sent(sent_tasks)
    inbound.refresh_from_db()
    assert inbound.handled_as == InboundMessage.HandledAs.FREE_TEXT
    assert WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE).count() == 1
    clock.at(start + timedelta(minutes=5))
    assert inbound_sweep_run() == 0  # handled: never again


def test_a_failed_handling_is_retried_and_the_message_handled_once(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any, router_that_fails: None, monkeypatch: Any
) -> None:
    patient = make_enrolled()
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    tries = iter([True, True, False])  # two failures (a lost connection), then it works

    def flaky(**kwargs: Any) -> str:
        if next(tries):
            raise ConnectionError("database went away")
        return inbound_route(**kwargs)

    monkeypatch.setattr(f"{__name__}.failing_router", flaky)
    hooks._hook.cache_clear()
    webhooks.sms(str(patient.phone), "37.4")  # the task's retries run here, without their backoff

    inbound = InboundMessage.objects.get()
    assert inbound.handled_as == InboundMessage.HandledAs.ANSWER
    assert (inbound.handling_attempts, inbound.handling_error) == (2, "ConnectionError")
    assert conversation_of(patient).answers == {"temperature_c": 37.4}
    assert not WorklistItem.objects.filter(patient=patient).exists()


def test_a_message_that_cannot_be_handled_goes_to_the_nurses_in_red_and_the_next_one_goes_through(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any, router_that_fails: None, caplog: Any
) -> None:
    """H16: the failing message may hold a warning sign nobody judged; after its tries it
    is a red item on the worklist with its words, in the patient's thread. The phone's
    later message, whose task ran first, is not held behind it. H13: its words are in
    the database, not in the logs."""
    caplog.set_level("DEBUG")
    patient = make_enrolled()
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    webhooks.sms(str(patient.phone), f"38.9 {FAILING_WORD}", message_sid="SM" + "1" * 32, handle=False)
    webhooks.sms(str(patient.phone), "37.4", message_sid="SM" + "2" * 32, handle=False)
    failing, later = InboundMessage.objects.order_by("id")

    sms_inbound_handle.apply(args=[later.pk]).get()  # tries the older one first, again and again

    failing.refresh_from_db()
    assert failing.handled_as == InboundMessage.HandledAs.FAILED
    assert failing.handling_failed_at is not None and failing.processed_at is None
    assert (failing.handling_attempts, failing.handling_error) == (MAX_HANDLING_ATTEMPTS, "RuntimeError")
    assert failing.patient == patient and failing.body == f"38.9 {FAILING_WORD}"
    assert MessageHistoryEntry.objects.filter(patient=patient, inbound=failing).count() == 1
    item = WorklistItem.objects.get(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE)
    assert item.severity == "red" and item.status == WorklistItem.Status.OPEN
    assert f"38.9 {FAILING_WORD}" in item.detail

    later.refresh_from_db()
    assert later.handled_as == InboundMessage.HandledAs.ANSWER
    assert conversation_of(patient).answers == {"temperature_c": 37.4}
    # Given up is settled: neither the sweep nor a redelivered task takes it again.
    assert inbound_handle(inbound_id=failing.pk) == HandlingOutcome(handled=0)
    assert FAILING_WORD not in caplog.text and str(patient.phone) not in caplog.text


def test_a_stranger_whose_message_cannot_be_handled_leaves_only_the_claim(
    webhooks: Any, db: None, router_that_fails: None
) -> None:
    webhooks.sms("+442079460999", f"hello {FAILING_WORD}")
    inbound = InboundMessage.objects.get()
    assert inbound.handled_as == InboundMessage.HandledAs.FAILED
    assert (inbound.from_phone, inbound.body, inbound.patient_id) == ("", "", None)


@pytest.mark.django_db(transaction=True)
def test_three_workers_at_once_take_one_phones_messages_in_order_and_each_once(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any, sent_tasks: list[Any]
) -> None:
    """Real concurrency, each worker on its own database connection, the newest
    message's task first: the phone's row lock puts them in arrival order."""
    patient = make_enrolled()
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    for serial, body in enumerate(["37.4", "no", "no"]):
        webhooks.sms(str(patient.phone), body, message_sid=f"SM{serial:032d}", handle=False)
    rows = list(InboundMessage.objects.order_by("-id"))
    barrier = threading.Barrier(len(rows))
    outcomes: list[Any] = [None] * len(rows)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            outcomes[index] = inbound_handle(inbound_id=rows[index].pk)
        except Exception as error:  # reported to the test, not swallowed
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(rows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(isinstance(outcome, HandlingOutcome) for outcome in outcomes), outcomes
    assert sum(outcome.handled for outcome in outcomes) == 3  # each message once
    asked = list(
        OutgoingMessage.objects.filter(patient=patient, kind="check_in")
        .order_by("id")
        .values_list("question_id", flat=True)
    )
    assert len(asked) == 4 and len(set(asked)) == 4  # each question asked once, none twice
    assert asked[:2] == ["temperature_c", "chills"]
    conversation = conversation_of(patient)
    assert conversation.answers == {"temperature_c": 37.4, "chills": False, asked[2]: False}
    assert conversation.miss_streak == 0
