"""Web Push for the app's reminders (issue 18, must-show 4). A push endpoint on this
machine stands in for the browser's push service: it holds the subscription's EC key
pair (made with ``cryptography``) and auth secret, and decrypts what the server sends
with real aes128gcm (``http-ece``). The payload names the clinic and a link, nothing
about health (H13: no PHI on a lock screen). A 410 (the subscription is gone) deletes the subscription and the
reminder goes by SMS through the outbox instead, exactly once."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from datetime import time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.test import Client
from django.utils import timezone

from backend.models import Patient
from followup.models import PushReminder, PushSubscription
from followup.services import push
from followup.services.push_keys import vapid_public_key
from followup.tasks_push import push_reminder_task
from notifications.models import MessageKind, OutgoingMessage
from tests.patient_app.conftest import app_sign_in

pytestmark = pytest.mark.django_db


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class PushService:
    """A push service on 127.0.0.1 answering each POST with ``status``; keeps what it got."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                service.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(service.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/push/{b64(os.urandom(9))}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def push_service() -> Iterator[type[PushService]]:
    started: list[PushService] = []

    def start(status: int = 201) -> PushService:
        service = PushService(status)
        started.append(service)
        return service

    yield start  # type: ignore[misc]
    for service in started:
        service.server.shutdown()


@pytest.fixture
def browser_keys() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    return ec.generate_private_key(ec.SECP256R1()), os.urandom(16)


def subscribe(patient: Patient, endpoint: str, keys: tuple[ec.EllipticCurvePrivateKey, bytes]) -> PushSubscription:
    private, auth = keys
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return push.push_subscription_save(patient=patient, endpoint=endpoint, p256dh=b64(public), auth=b64(auth))


@pytest.fixture
def app_patient(enrolled, nurse) -> Patient:
    """Signed in to the app just now (last_login set by the sign-in)."""
    app_sign_in(Client(), enrolled, nurse)
    return Patient.objects.select_related("clinic", "user").get(pk=enrolled.pk)


def queue_reminder(patient: Patient, django_capture_on_commit_callbacks, monkeypatch) -> PushReminder:  # type: ignore[no-untyped-def]
    queued: list[dict] = []
    # The broker is the edge here: record what would be queued, with its eta.
    monkeypatch.setattr(push_reminder_task, "apply_async", lambda **kwargs: queued.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        reminder = push.push_reminder_queue(
            patient=patient,
            key="check-in-reminder:1",
            link="/app/check-in/",
            sms_body="Your check-in is due: https://vigil.example/app/",
            sms_kind=MessageKind.REMINDER,
        )
    assert [one["args"] for one in queued] == [[reminder.pk]]
    reminder.eta = queued[0]["eta"]  # type: ignore[attr-defined]
    return reminder


def test_it_pushes_a_reminder_the_push_service_decrypts_with_the_subscriptions_keys(
    app_patient, push_service, browser_keys, django_capture_on_commit_callbacks, monkeypatch
):
    service = push_service(201)
    subscription = subscribe(app_patient, service.url, browser_keys)
    assert push.reminder_channel(patient=app_patient) == "push"
    reminder = queue_reminder(app_patient, django_capture_on_commit_callbacks, monkeypatch)

    assert push.push_reminder_send(reminder_id=reminder.pk) == PushReminder.State.PUSHED

    [(headers, body)] = service.received
    assert headers["content-encoding"] == "aes128gcm"
    # VAPID (RFC 8292): signed with the server's key, which the browser subscribed with.
    assert headers["authorization"].startswith("vapid t=") and f"k={vapid_public_key()}" in headers["authorization"]
    private, auth = browser_keys
    clear = http_ece.decrypt(body, private_key=private, auth_secret=auth, version="aes128gcm")
    payload = json.loads(clear)
    # No health data: the clinic's name and a link into the app, nothing else.
    assert payload == {"title": f"A message from {app_patient.clinic.name}", "url": "/app/check-in/"}
    assert not OutgoingMessage.objects.exists()
    subscription.refresh_from_db()
    assert subscription.last_pushed_at is not None
    # Sent again (a retried task): nothing more.
    assert push.push_reminder_send(reminder_id=reminder.pk) == PushReminder.State.PUSHED
    assert len(service.received) == 1


def test_a_gone_subscription_is_deleted_and_the_reminder_goes_by_sms_once(
    app_patient, push_service, browser_keys, django_capture_on_commit_callbacks, monkeypatch
):
    service = push_service(410)
    subscribe(app_patient, service.url, browser_keys)
    reminder = queue_reminder(app_patient, django_capture_on_commit_callbacks, monkeypatch)

    assert push.push_reminder_send(reminder_id=reminder.pk) == PushReminder.State.SMS

    assert len(service.received) == 1
    assert not PushSubscription.objects.exists()
    [sms] = OutgoingMessage.objects.all()
    assert sms.patient_id == app_patient.pk and sms.kind == MessageKind.REMINDER
    assert sms.body == "Your check-in is due: https://vigil.example/app/"
    # A retried task, a second worker, the fallback written again: still one SMS.
    assert push.push_reminder_send(reminder_id=reminder.pk) == PushReminder.State.SMS
    PushReminder.objects.filter(pk=reminder.pk).update(state=PushReminder.State.SENDING)
    push.push_reminder_send(reminder_id=reminder.pk)
    assert OutgoingMessage.objects.count() == 1
    # With no subscription left, the next reminder is an SMS from the start.
    assert push.reminder_channel(patient=app_patient) == "sms"


def test_a_push_service_that_cannot_be_reached_falls_back_to_sms(
    app_patient, push_service, browser_keys, django_capture_on_commit_callbacks, monkeypatch
):
    service = push_service(201)
    subscribe(app_patient, service.url, browser_keys)
    service.server.shutdown()
    service.server.server_close()
    reminder = queue_reminder(app_patient, django_capture_on_commit_callbacks, monkeypatch)
    assert push.push_reminder_send(reminder_id=reminder.pk) == PushReminder.State.SMS
    assert OutgoingMessage.objects.count() == 1
    assert PushSubscription.objects.count() == 1  # unreachable is not gone


def test_a_reminder_due_in_quiet_hours_waits_for_their_end(
    app_patient, push_service, browser_keys, django_capture_on_commit_callbacks, monkeypatch
):
    """H10: a push is held by the patient's quiet hours as an SMS is."""
    local = timezone.localtime(timezone.now(), timezone=__import__("zoneinfo").ZoneInfo(app_patient.timezone))
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    Patient.objects.filter(pk=app_patient.pk).update(quiet_hours_start=start, quiet_hours_end=end)
    app_patient.refresh_from_db()
    subscribe(app_patient, push_service(201).url, browser_keys)
    reminder = queue_reminder(app_patient, django_capture_on_commit_callbacks, monkeypatch)
    eta = reminder.eta  # type: ignore[attr-defined]
    assert eta.astimezone(local.tzinfo).time().replace(second=0) == time(end.hour, end.minute)
    assert eta > timezone.now() + timedelta(hours=1)


def test_sms_stays_the_channel_for_a_patient_who_has_not_used_the_app_for_a_while(app_patient, browser_keys):
    subscribe(app_patient, "https://push.example.org/a", browser_keys)
    assert push.reminder_channel(patient=app_patient) == "push"
    later = timezone.now() + timedelta(days=15)
    assert push.reminder_channel(patient=app_patient, now=later) == "sms"


# --- the subscriptions API -------------------------------------------------------------


def test_the_api_stores_a_subscription_once_by_endpoint_and_deletes_it(app_patient, nurse, browser_keys):
    client = app_sign_in(Client(), app_patient, nurse)
    private, auth = browser_keys
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    body = {"endpoint": "https://push.example.org/send/abc", "keys": {"p256dh": b64(public), "auth": b64(auth)}}
    assert client.get("/api/v1/push-subscriptions/").json() == {"public_key": vapid_public_key()}
    for _ in range(2):
        response = client.post("/api/v1/push-subscriptions/", body, content_type="application/json")
        assert response.status_code == 201, response.content
    [row] = PushSubscription.objects.all()
    assert row.patient_id == app_patient.pk and row.auth == b64(auth)
    gone = client.delete("/api/v1/push-subscriptions/", {"endpoint": body["endpoint"]}, content_type="application/json")
    assert gone.status_code == 204 and not PushSubscription.objects.exists()
    client.post("/api/v1/push-subscriptions/", body, content_type="application/json")
    # As the schema documents it: the endpoint in the query string.
    gone = client.delete(f"/api/v1/push-subscriptions/?{urlencode({'endpoint': body['endpoint']})}")
    assert gone.status_code == 204 and not PushSubscription.objects.exists()
    assert client.delete("/api/v1/push-subscriptions/").status_code == 400


def test_the_api_names_the_bad_field_and_refuses_staff(app_patient, nurse, nurse_client):
    client = app_sign_in(Client(), app_patient, nurse)
    bad_keys = {"endpoint": "https://push.example.org/x", "keys": {"p256dh": "short", "auth": b64(os.urandom(16))}}
    response = client.post("/api/v1/push-subscriptions/", bad_keys, content_type="application/json")
    assert response.status_code == 400 and list(response.json()) == ["keys"]
    plain = {"endpoint": "http://push.example.org/x", "keys": {}}
    response = client.post("/api/v1/push-subscriptions/", plain, content_type="application/json")
    assert response.status_code == 400 and list(response.json()) == ["endpoint"]
    assert nurse_client.get("/api/v1/push-subscriptions/").status_code == 403
    assert not PushSubscription.objects.exists()


# --- the due check-in's invitation (followup.sms.conversations) -------------------------


def test_an_app_patient_with_a_subscription_is_invited_by_push_not_sms(
    app_patient, make_due_check_in, browser_keys, django_capture_on_commit_callbacks, monkeypatch
):
    from followup.sms.conversations import conversation_start

    subscribe(app_patient, "https://push.example.org/b", browser_keys)
    due = make_due_check_in(app_patient, channel="app")
    monkeypatch.setattr(push_reminder_task, "apply_async", lambda **kwargs: None)
    with django_capture_on_commit_callbacks(execute=True):
        assert conversation_start(scheduled_check_in=due) is None
        conversation_start(scheduled_check_in=due)  # a repeated tick
    [reminder] = PushReminder.objects.all()
    assert reminder.link == "/app/check-in/" and "/app/check-in/" in reminder.sms_body
    assert not OutgoingMessage.objects.exists()


def test_an_app_patient_without_a_subscription_gets_the_apps_link_by_sms(app_patient, make_due_check_in):
    from followup.sms.conversations import conversation_start

    due = make_due_check_in(app_patient, channel="app")
    sms = conversation_start(scheduled_check_in=due)
    assert sms is not None and f"{settings.PUBLIC_BASE_URL}/app/check-in/" in sms.body
    from followup.links import checkin_link_url

    assert checkin_link_url(scheduled_check_in_id=due.pk) not in sms.body and not PushReminder.objects.exists()


def test_a_patient_who_has_not_signed_in_to_the_app_lately_gets_the_one_time_form(
    app_patient, make_due_check_in, browser_keys
):
    from followup.links import checkin_link_url
    from followup.sms.conversations import conversation_start

    subscribe(app_patient, "https://push.example.org/c", browser_keys)
    type(app_patient.user).objects.filter(pk=app_patient.user_id).update(
        last_login=timezone.now() - timedelta(days=settings.PUSH_APP_ACTIVE_DAYS + 1)
    )
    app_patient.refresh_from_db()
    due = make_due_check_in(app_patient, channel="app")
    sms = conversation_start(scheduled_check_in=due)
    assert sms is not None and checkin_link_url(scheduled_check_in_id=due.pk) in sms.body
    assert not PushReminder.objects.exists()
