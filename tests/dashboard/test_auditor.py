"""The auditor: overdue alerts and undelivered messages counted, shown on /healthz,
warned about without PHI, and a heartbeat pinged on every run (H1)."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.utils import timezone

from followup.escalation_tasks import auditor_tick
from followup.services.auditor import auditor_figures
from notifications.models import MessageKind, MessageStatus, OutgoingMessage
from tests.dashboard.conftest import red_alert_raise

pytestmark = pytest.mark.django_db(transaction=True)


def outbox_row(clinic, **fields) -> OutgoingMessage:  # type: ignore[no-untyped-def]
    fields.setdefault("idempotency_key", f"test:{OutgoingMessage.objects.count()}")
    return OutgoingMessage.objects.create(
        clinic=clinic, to_phone="+442079460100", body="x", display_body="x", kind=MessageKind.REMINDER, **fields
    )


def test_an_alert_whose_deadline_passed_two_minutes_ago_is_overdue(chain, enrolled):
    """H1: the tick runs every 20 s; an open alert still due two minutes after its
    deadline means nobody is being paged for it."""
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        alert = red_alert_raise(enrolled)
        clock.move_to(alert.next_escalation_at + timedelta(minutes=1, seconds=59))
        assert auditor_figures().overdue_alerts == 0
        clock.move_to(alert.next_escalation_at + timedelta(minutes=2, seconds=1))
        assert auditor_figures().overdue_alerts == 1
        assert auditor_figures(clinic_id=enrolled.clinic_id + 1000).overdue_alerts == 0


def test_an_acknowledged_alert_is_never_overdue(chain, enrolled):
    from followup.services.alert_review import alert_acknowledge

    alert = red_alert_raise(enrolled)
    alert_acknowledge(alert=alert, by=chain[0])
    with time_machine.travel(timezone.now() + timedelta(hours=3), tick=False):
        assert auditor_figures().overdue_alerts == 0


def test_messages_queued_or_sending_for_over_a_minute_after_they_were_due_are_undelivered(clinic):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        outbox_row(clinic)
        outbox_row(clinic, status=MessageStatus.SENDING)
        outbox_row(clinic, status=MessageStatus.SENT)
        # Held for quiet hours until tomorrow: not late.
        outbox_row(clinic, send_after=start + timedelta(hours=9))
        clock.move_to(start + timedelta(seconds=59))
        assert auditor_figures().undelivered_messages == 0
        clock.move_to(start + timedelta(seconds=61))
        assert auditor_figures().undelivered_messages == 2
        clock.move_to(start + timedelta(hours=9, minutes=2))
        assert auditor_figures().undelivered_messages == 3


def test_healthz_shows_the_auditor_figures_and_stays_up(client, clinic):
    """Stuck work is reported in the body; /healthz stays 200 so that a load balancer
    does not take the dashboard away exactly when alerts are stuck."""
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        outbox_row(clinic)
        clock.move_to(start + timedelta(minutes=5))
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["auditor"] == {"overdue_alerts": 0, "undelivered_messages": 1}


def test_the_tick_warns_without_phi_when_something_is_stuck(chain, enrolled, caplog):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        alert = red_alert_raise(enrolled)
        clock.move_to(alert.next_escalation_at + timedelta(minutes=5))
        with caplog.at_level(logging.WARNING, logger="followup.services.auditor"):
            figures = auditor_tick()
    assert figures["overdue_alerts"] == 1
    # The red advice SMS and the page were queued five minutes ago and never sent.
    assert figures["undelivered_messages"] >= 1
    warning = next(record for record in caplog.records if record.name == "followup.services.auditor")
    assert warning.levelno == logging.WARNING and "overdue" in warning.getMessage()
    for secret in (enrolled.given_name, enrolled.family_name, enrolled.mrn, str(enrolled.phone)):
        assert secret not in caplog.text


def test_the_tick_is_quiet_when_nothing_is_stuck(clinic, caplog):
    with caplog.at_level(logging.WARNING, logger="followup.services.auditor"):
        assert auditor_tick() == {"overdue_alerts": 0, "undelivered_messages": 0}
    assert not [record for record in caplog.records if record.name == "followup.services.auditor"]


def test_the_tick_pings_the_heartbeat_url_with_its_figures(clinic, settings):
    received: list[dict[str, int]] = []

    class Monitor(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Monitor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.VIGIL_AUDITOR_HEARTBEAT_URL = f"http://127.0.0.1:{server.server_port}/ping/abc"
        auditor_tick()
    finally:
        server.shutdown()
    assert received == [{"overdue_alerts": 0, "undelivered_messages": 0}]


def test_a_heartbeat_that_cannot_be_reached_is_a_warning_not_a_failure(clinic, settings, caplog):
    settings.VIGIL_AUDITOR_HEARTBEAT_URL = "http://127.0.0.1:9/unreachable"
    with caplog.at_level(logging.WARNING, logger="followup.services.auditor"):
        assert auditor_tick() == {"overdue_alerts": 0, "undelivered_messages": 0}
    assert "heartbeat ping failed" in caplog.text
