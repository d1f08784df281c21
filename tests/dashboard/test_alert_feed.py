"""The /ws/alerts/ feed through the real ASGI application (config.asgi) with Redis as
the channel layer: who may connect, what each clinic receives, and `?since=` replay
without gap or repeat at the seam (H1, H12)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection, transaction
from knox.models import AuthToken
from rest_framework.test import APIClient

from backend.models import AuditRecord
from backend.services import patient_user_get_or_create
from config.asgi import application
from notifications.events import event_publish
from notifications.models import Event
from tests.dashboard.conftest import ORIGIN, session_cookie
from tests.ws_tickets import ws_ticket

pytestmark = pytest.mark.django_db(transaction=True)


def publish(clinic_id: int, number: int = 1, type: str = "check_in.received") -> list[int]:
    seqs = []
    for _ in range(number):
        with transaction.atomic():
            event = event_publish(clinic_id=clinic_id, type=type, data={"id": 1, "patient": 1, "level": "green"})
        seqs.append(event.seq)
    return seqs


def token_for(user) -> str:  # type: ignore[no-untyped-def]
    _instance, key = AuthToken.objects.create(user=user)
    return key


def ticket_for(user, origin: bytes | None = ORIGIN) -> str:  # type: ignore[no-untyped-def]
    """A single-use ticket bought with a token (POST /api/v1/ws-tickets/) from ``origin``."""
    return ws_ticket(user, origin=origin)


def communicator(path: str, *, origin: bytes | None = ORIGIN, cookie: str | None = None) -> WebsocketCommunicator:
    headers = []
    if origin is not None:
        headers.append((b"origin", origin))
    if cookie is not None:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_all(comm: WebsocketCommunicator, *, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Every frame until the feed has been quiet for `quiet` seconds."""
    frames = []
    # receive_nothing, unlike a timed-out receive, leaves the application running.
    while not await comm.receive_nothing(timeout=quiet, interval=0.01):
        frames.append(json.loads(await comm.receive_from(timeout=1)))
    return frames


async def test_it_refuses_a_connection_without_credentials():
    """H12: no session, no token: refused in the handshake (daphne answers 403)."""
    comm = communicator("/ws/alerts/")
    connected, _code = await comm.connect()
    assert not connected


async def test_it_refuses_an_unknown_ticket(nurse):
    comm = communicator("/ws/alerts/?ticket=not-a-real-ticket-at-all")
    connected, _code = await comm.connect()
    assert not connected


async def test_it_refuses_a_patient_token(patient):
    """H12: a patient's token is valid for the API, never for the staff feed: it buys no
    ticket, and in the URL it is refused like any token."""
    key = await database_sync_to_async(lambda: token_for(patient_user_get_or_create(patient)))()
    refused = await database_sync_to_async(
        lambda: APIClient().post("/api/v1/ws-tickets/", HTTP_AUTHORIZATION=f"Token {key}", HTTP_ORIGIN=ORIGIN.decode())
    )()
    assert refused.status_code == 403
    comm = communicator(f"/ws/alerts/?ticket={key}")
    connected, _code = await comm.connect()
    assert not connected


async def test_it_refuses_a_foreign_origin_even_with_a_valid_session(nurse):
    """Another site's page cannot open the feed with a signed-in nurse's cookie."""
    cookie = await database_sync_to_async(session_cookie)(nurse)
    comm = communicator("/ws/alerts/", origin=b"https://evil.example.com", cookie=cookie)
    connected, _code = await comm.connect()
    assert not connected


async def test_it_refuses_a_foreign_origin_with_a_valid_ticket(nurse):
    key = await database_sync_to_async(ticket_for)(nurse)
    comm = communicator(f"/ws/alerts/?ticket={key}", origin=b"http://attacker.test")
    connected, _code = await comm.connect()
    assert not connected


async def test_it_refuses_a_session_cookie_without_an_origin(nurse):
    """Only a program omits Origin; a cookie alone is a browser's credential."""
    cookie = await database_sync_to_async(session_cookie)(nurse)
    comm = communicator("/ws/alerts/", origin=None, cookie=cookie)
    connected, _code = await comm.connect()
    assert not connected


async def test_it_accepts_a_program_with_a_ticket_and_no_origin(nurse):
    key = await database_sync_to_async(ticket_for)(nurse, None)
    comm = communicator(f"/ws/alerts/?ticket={key}", origin=None)
    connected, _code = await comm.connect()
    assert connected
    await comm.disconnect()


async def test_it_accepts_a_staff_session_and_audits_the_subscription(nurse):
    cookie = await database_sync_to_async(session_cookie)(nurse)
    comm = communicator("/ws/alerts/", cookie=cookie)
    connected, _code = await comm.connect()
    assert connected
    await comm.disconnect()
    audited = await database_sync_to_async(
        lambda: AuditRecord.objects.filter(actor_user_id=nurse.pk, object_type="alert_feed").count()
    )()
    assert audited == 1


async def test_a_nurse_of_clinic_a_never_receives_clinic_b_events(nurse, other_nurse, clinic, other_clinic):
    """H12: the feed is scoped to the user's clinic, live and in replay."""
    before = await database_sync_to_async(publish)(other_clinic.pk, 2)
    key = await database_sync_to_async(ticket_for)(nurse)
    comm = communicator(f"/ws/alerts/?ticket={key}&since={before[0] - 1}")
    connected, _code = await comm.connect()
    assert connected
    mine = await database_sync_to_async(publish)(clinic.pk)
    await database_sync_to_async(publish)(other_clinic.pk, 3)
    mine += await database_sync_to_async(publish)(clinic.pk)
    frames = await receive_all(comm)
    assert [frame["seq"] for frame in frames] == mine
    await comm.disconnect()


async def test_messages_carry_exactly_seq_type_and_data(nurse, clinic):
    key = await database_sync_to_async(ticket_for)(nurse)
    comm = communicator(f"/ws/alerts/?ticket={key}")
    assert (await comm.connect())[0]
    [seq] = await database_sync_to_async(publish)(clinic.pk)
    frame = await comm.receive_json_from(timeout=2)
    assert frame == {"seq": seq, "type": "check_in.received", "data": {"id": 1, "patient": 1, "level": "green"}}
    await comm.disconnect()


async def test_since_replays_exactly_the_missed_events_then_live_ones(nurse, clinic, other_clinic):
    """A dashboard that lost its connection misses nothing and sees nothing twice."""
    seen = await database_sync_to_async(publish)(clinic.pk, 2)
    missed = await database_sync_to_async(publish)(clinic.pk, 3)
    await database_sync_to_async(publish)(other_clinic.pk, 2)
    missed += await database_sync_to_async(publish)(clinic.pk)
    key = await database_sync_to_async(ticket_for)(nurse)
    comm = communicator(f"/ws/alerts/?ticket={key}&since={seen[-1]}")
    assert (await comm.connect())[0]
    replayed = await receive_all(comm, quiet=0.3)
    assert [frame["seq"] for frame in replayed] == missed
    live = await database_sync_to_async(publish)(clinic.pk, 2)
    frames = await receive_all(comm, quiet=0.5)
    assert [frame["seq"] for frame in frames] == live
    await comm.disconnect()


async def test_since_has_no_gap_and_no_repeat_while_events_arrive_during_the_replay(nurse, clinic):
    """The seam: events committed while the consumer joins and replays are each
    delivered once, in order."""
    start = await database_sync_to_async(publish)(clinic.pk, 30)
    stop = threading.Event()
    published: list[int] = []

    def keep_publishing() -> None:
        try:
            while not stop.is_set() and len(published) < 200:
                published.extend(publish(clinic.pk))
        finally:
            connection.close()

    key = await database_sync_to_async(ticket_for)(nurse)
    writer = threading.Thread(target=keep_publishing)
    writer.start()
    try:
        await asyncio.sleep(0.05)
        comm = communicator(f"/ws/alerts/?ticket={key}&since={start[9]}")
        assert (await comm.connect())[0]
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.get_running_loop().run_in_executor(None, writer.join)
    frames = await receive_all(comm, quiet=1.0)
    received = [frame["seq"] for frame in frames]
    expected = await database_sync_to_async(
        lambda: list(Event.objects.filter(clinic=clinic, seq__gt=start[9]).values_list("seq", flat=True))
    )()
    assert published, "events were published during the connection"
    assert received == expected
    await comm.disconnect()


async def test_a_later_commit_does_not_overtake_an_earlier_seq(nurse, clinic):
    """Transaction A takes a seq and commits late; transaction B takes the next seq
    and commits first. The client still receives A before B, each once (on SQLite B
    waits for A's lock; on PostgreSQL the feed holds B back until A is settled)."""
    key = await database_sync_to_async(ticket_for)(nurse)
    comm = communicator(f"/ws/alerts/?ticket={key}")
    assert (await comm.connect())[0]
    a_inserted = threading.Event()
    release_a = threading.Event()
    seqs: dict[str, int] = {}

    def transaction_a() -> None:
        try:
            with transaction.atomic():
                seqs["a"] = event_publish(clinic_id=clinic.pk, type="check_in.received", data={"which": "a"}).seq
                a_inserted.set()
                release_a.wait(5)
        finally:
            connection.close()

    def transaction_b() -> None:
        a_inserted.wait(5)
        try:
            with transaction.atomic():
                seqs["b"] = event_publish(clinic_id=clinic.pk, type="check_in.received", data={"which": "b"}).seq
        finally:
            connection.close()

    thread_a = threading.Thread(target=transaction_a)
    thread_b = threading.Thread(target=transaction_b)
    thread_a.start()
    thread_b.start()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, a_inserted.wait, 5)
    await asyncio.sleep(0.5)
    early = await receive_all(comm, quiet=0.2)
    release_a.set()
    await loop.run_in_executor(None, thread_a.join)
    await loop.run_in_executor(None, thread_b.join)
    frames = early + await receive_all(comm, quiet=0.5)
    assert [frame["data"]["which"] for frame in frames] == ["a", "b"]
    assert [frame["seq"] for frame in frames] == sorted([seqs["a"], seqs["b"]])
    await comm.disconnect()


async def test_a_malformed_frame_gets_an_error_frame_and_the_feed_goes_on(nurse, clinic):
    key = await database_sync_to_async(ticket_for)(nurse)
    comm = communicator(f"/ws/alerts/?ticket={key}")
    assert (await comm.connect())[0]
    await comm.send_to(text_data="{not json")
    error = await comm.receive_json_from(timeout=2)
    assert error["type"] == "error" and error["seq"] is None and "JSON" in error["data"]["detail"]
    await comm.send_json_to({"type": "subscribe", "clinic": 999})
    error = await comm.receive_json_from(timeout=2)
    assert error["type"] == "error"
    await comm.send_json_to({"type": "ping"})
    assert (await comm.receive_json_from(timeout=2))["type"] == "pong"
    [seq] = await database_sync_to_async(publish)(clinic.pk)
    assert (await comm.receive_json_from(timeout=2))["seq"] == seq
    await comm.disconnect()


@pytest.mark.parametrize("since", ["-3", "abc", "%C2%B2", "1" * 30])
async def test_a_bad_since_is_answered_with_an_error_and_closed(nurse, since):
    key = await database_sync_to_async(ticket_for)(nurse)
    comm = communicator(f"/ws/alerts/?ticket={key}&since={since}")
    connected, _code = await comm.connect()
    assert connected
    error = await comm.receive_json_from(timeout=2)
    assert error["type"] == "error" and "since" in error["data"]["detail"]
    assert (await comm.receive_output(timeout=2))["type"] == "websocket.close"


async def test_a_client_too_slow_to_keep_up_is_closed_so_that_it_resyncs(nurse, clinic, monkeypatch):
    """A server that applies backpressure (as uvicorn does; daphne buffers itself) and a
    client that reads nothing: once MAX_BACKLOG live frames wait, the feed closes it
    (4008) rather than hold them all; the client reconnects with ?since=."""
    from notifications.consumers import AlertFeedConsumer

    monkeypatch.setattr(AlertFeedConsumer, "MAX_BACKLOG", 5)
    blocked = asyncio.Event()

    async def server_that_applies_backpressure(scope, receive, send):  # type: ignore[no-untyped-def]
        async def slow_send(message):  # type: ignore[no-untyped-def]
            if message["type"] == "websocket.send":
                await blocked.wait()  # the client's TCP window is full
            await send(message)

        await application(scope, receive, slow_send)

    key = await database_sync_to_async(ticket_for)(nurse, None)
    comm = WebsocketCommunicator(server_that_applies_backpressure, f"/ws/alerts/?ticket={key}")
    assert (await comm.connect())[0]
    await database_sync_to_async(publish)(clinic.pk, 12)
    blocked.set()
    outputs = []
    while True:
        output = await comm.receive_output(timeout=2)
        outputs.append(output)
        if output["type"] == "websocket.close":
            break
    assert outputs[-1]["code"] == 4008
    assert len(outputs) - 1 <= 6
    await comm.disconnect()


async def test_a_revoked_token_ends_the_feed(nurse, monkeypatch):
    """H12: signing out (the token is deleted) stops the events within a sweep."""
    from notifications.consumers import AlertFeedConsumer

    monkeypatch.setattr(AlertFeedConsumer, "SWEEP_SECONDS", 0.2)
    key = await database_sync_to_async(ticket_for)(nurse)
    comm = communicator(f"/ws/alerts/?ticket={key}")
    assert (await comm.connect())[0]
    await database_sync_to_async(lambda: AuthToken.objects.filter(user=nurse).delete())()
    closed = await comm.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4401}
    await comm.disconnect()


async def test_signing_out_ends_a_session_feed_and_a_move_to_another_clinic_too(nurse, other_clinic, monkeypatch):
    from django.contrib.sessions.models import Session

    from notifications.consumers import AlertFeedConsumer

    monkeypatch.setattr(AlertFeedConsumer, "SWEEP_SECONDS", 0.2)
    cookie = await database_sync_to_async(session_cookie)(nurse)
    comm = communicator("/ws/alerts/", cookie=cookie)
    assert (await comm.connect())[0]
    assert await comm.receive_nothing(timeout=0.5)  # still valid: the feed stays
    await database_sync_to_async(lambda: Session.objects.filter(session_key=cookie).delete())()
    assert (await comm.receive_output(timeout=3))["code"] == 4401
    await comm.disconnect()

    key = await database_sync_to_async(ticket_for)(nurse)
    comm = communicator(f"/ws/alerts/?ticket={key}")
    assert (await comm.connect())[0]
    nurse.clinic = other_clinic
    await database_sync_to_async(nurse.save)()
    assert (await comm.receive_output(timeout=3))["code"] == 4401
    await comm.disconnect()
