"""The harness's own tests: the proxy and the dedicated Redis do what the fault tests
rely on, and the whole stack carries one red check-in end to end with nothing broken
(the baseline every fault test is compared with)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid

import pytest

from tests.faults.harness import DashboardClient, RedisServer, TcpProxy, free_port, log, wait_for
from tests.faults.world import RED_ANSWERS, counts, report, settled


@pytest.fixture
def echo_server():
    port = free_port()
    server = socket.create_server(("127.0.0.1", port))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue

            def echo(conn: socket.socket = conn) -> None:
                with conn, contextlib.suppress(OSError):
                    while data := conn.recv(1024):
                        conn.sendall(data)

            threading.Thread(target=echo, daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join(timeout=2)
    server.close()


def _roundtrip(port: int, payload: bytes = b"ping", timeout: float = 1.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        return sock.recv(1024)


def test_it_proxies_drops_refuses_and_pauses(echo_server):
    proxy = TcpProxy("127.0.0.1", echo_server).start()
    try:
        assert _roundtrip(proxy.port) == b"ping"
        held = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        held.sendall(b"a")
        assert held.recv(8) == b"a"
        assert proxy.drop_all() >= 1
        held.settimeout(2)
        assert held.recv(8) == b""  # the server side went away
        held.close()

        proxy.refuse(True)
        try:
            refused_answer = _roundtrip(proxy.port)
        except OSError:
            refused_answer = b""
        assert refused_answer == b""  # closed at once, nothing echoed
        proxy.refuse(False)
        assert _roundtrip(proxy.port) == b"ping"

        proxy.pause(True)
        with pytest.raises(TimeoutError):
            _roundtrip(proxy.port, timeout=0.5)
        proxy.pause(False)
        assert _roundtrip(proxy.port) == b"ping"
    finally:
        proxy.stop()


def test_it_runs_stops_pauses_and_restarts_a_dedicated_redis(tmp_path):
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        assert redis.ping()
        redis.pause()
        assert not redis.ping()
        redis.resume()
        assert redis.ping()
        redis.stop()
        assert not redis.ping()
        redis.start()
        assert redis.ping()
    finally:
        redis.stop()


def test_it_carries_a_red_check_in_to_dashboards_and_on_call_sms_with_no_fault(stack, fake_twilio, make_world):
    world = make_world(patients=2, label="baseline")
    clients = [DashboardClient(stack.ws_url, world.staff_token, name=f"dash{i}").start() for i in range(2)]
    try:
        results = [
            stack.post_check_in(token=token, answers=RED_ANSWERS, key=uuid.uuid4().hex)
            for token in world.patient_tokens
        ]
        assert [status for status, _ in results] == [201, 201], results
        expected_alerts = {alert for _, body in results for alert in body["triage"]["alerts"]}
        assert expected_alerts, "a red check-in opens an alert"
        for client in clients:
            wait_for(lambda c=client: expected_alerts <= c.alert_ids(), timeout=20, what=f"alerts on {client.name}")
        wait_for(lambda: settled(world), timeout=60, what="outbox settled")
        time.sleep(1)
        found = counts(world, fake_twilio)
        report(
            "baseline (no fault)",
            {
                "check-ins accepted vs stored": f"2 vs {found.check_ins_stored}",
                "alerts expected vs created": f"{len(expected_alerts)} vs {found.alerts_created}",
                "events stored vs delivered": f"{len(found.events_stored)} vs "
                + ", ".join(f"{c.name}={len(c.events)}" for c in clients),
                "messages queued/sent/failed": f"{found.messages_total} / {found.fake_sent} / "
                f"{found.messages_by_status.get('failed', 0)}",
                "duplicates (sms, events)": f"{found.duplicates}, {[c.duplicates for c in clients]}",
            },
        )
        assert found.check_ins_stored == 2
        assert found.alert_ids == expected_alerts
        for client in clients:
            assert client.seqs == found.events_stored
        assert found.messages_total > 0
        assert found.fake_sent == found.messages_by_status.get("sent", 0) + found.messages_by_status.get("delivered", 0)
        assert found.duplicates == 0
        log("baseline ok")
    finally:
        for client in clients:
            client.stop()
