"""Issue 19, must-show 4: a nurse replies to a patient from the patient's thread.

The reply goes through the outbox and the real twilio client to the fake Twilio
server exactly once (a retried POST with the same Idempotency-Key writes nothing
new), is in the patient's append-only thread, reaches a connected dashboard live
over /ws/alerts/ (the real ASGI application, Redis as the channel layer), is in the
audit log with its author, and closes the patient's open message item on the
worklist. Another clinic's nurse gets a 404 and nothing is sent (H12); a patient who
texted STOP is refused with the reason (H11)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from backend.models import AuditRecord, Patient, User
from config.asgi import application
from followup.models import QuickReply, WorklistItem
from followup.services.quick_replies import quick_replies_seed
from followup.services.staff_replies import REPLY_MAX_LENGTH
from notifications.delivery import outbox_deliver
from notifications.models import MessageStatus, OutgoingMessage
from tests.conftest import token_client
from tests.dashboard.conftest import ORIGIN, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

REPLY = "We will call you today at 15:00. Please keep your phone with you."


def _path(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.pk}/messages/"


def _deliver_queued() -> int:
    """What the worker does with each queued outbox row (run here, in the test)."""
    queued = list(OutgoingMessage.objects.filter(status=MessageStatus.QUEUED).values_list("pk", flat=True))
    for message_id in queued:
        outbox_deliver(message_id=message_id)
    return len(queued)


def _message_item(patient: Patient) -> WorklistItem:
    return WorklistItem.objects.create(
        patient=patient, clinic=patient.clinic, kind=WorklistItem.Kind.PATIENT_MESSAGE, detail="Patient wrote."
    )


async def _frames(comm: WebsocketCommunicator, *, quiet: float = 0.5) -> list[dict[str, Any]]:
    frames = []
    while not await comm.receive_nothing(timeout=quiet, interval=0.01):
        frames.append(json.loads(await comm.receive_from(timeout=1)))
    return frames


async def test_a_nurses_reply_reaches_twilio_once_shows_live_in_the_thread_and_is_audited(
    twilio_backend: Any, nurse: User, patient: Patient
) -> None:
    """H12 (audited), H17 (append-only thread, the item closed by the reply)."""
    item = await database_sync_to_async(_message_item)(patient)
    client = await database_sync_to_async(token_client)(nurse)
    # As the dashboard's patient page connects: its session cookie, from its own origin.
    cookie = await database_sync_to_async(session_cookie)(nurse)
    comm = WebsocketCommunicator(
        application, "/ws/alerts/", headers=[(b"origin", ORIGIN), (b"cookie", f"sessionid={cookie}".encode())]
    )
    assert (await comm.connect())[0]

    def post() -> Any:
        return client.post(_path(patient), {"body": REPLY}, format="json", HTTP_IDEMPOTENCY_KEY="reply-1")

    first = await database_sync_to_async(post)()
    assert first.status_code == 201, first.content
    assert first.json()["direction"] == "outbound"
    assert first.json()["body"] == REPLY

    # Live: one message.created event for this patient, ids only (the page reads the
    # body through the audited messages API).
    [frame] = [frame for frame in await _frames(comm) if frame["type"] == "message.created"]
    assert frame["data"] == {"id": first.json()["id"], "patient": patient.pk, "direction": "outbound"}

    # The client lost the reply and retries: the first response, nothing new.
    again = await database_sync_to_async(post)()
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert [frame for frame in await _frames(comm, quiet=0.3) if frame["type"] == "message.created"] == []
    await comm.disconnect()

    # The worker delivers the outbox; a second pass finds nothing left to send.
    assert await database_sync_to_async(_deliver_queued)() == 1
    assert await database_sync_to_async(_deliver_queued)() == 0
    to_patient = [message["body"] for message in twilio_backend.messages if message["to"] == str(patient.phone)]
    assert to_patient == [REPLY]

    # The thread, as the dashboard's script reads it after the event.
    listed = await database_sync_to_async(
        lambda: client.get(_path(patient), {"since_id": first.json()["id"] - 1}).json()
    )()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [(row["id"], row["body"], row["status"]) for row in rows] == [(first.json()["id"], REPLY, "sent")]

    def audited() -> list[tuple[str, str, int | None]]:
        return list(
            AuditRecord.objects.filter(actor_user_id=nurse.pk, action__in=["create", "update"]).values_list(
                "object_type", "object_id", "patient_id"
            )
        )

    records = await database_sync_to_async(audited)()
    assert ("sms_message", str(first.json()["id"]), patient.pk) in records
    assert ("worklist_item", str(item.pk), patient.pk) in records
    await database_sync_to_async(item.refresh_from_db)()
    assert (item.status, item.done_by_id) == (WorklistItem.Status.DONE, nurse.pk)


def test_another_clinics_nurse_gets_404_and_nothing_is_sent(
    twilio_backend: Any, other_nurse_client: Any, patient: Patient
) -> None:
    """H12: another clinic's patient does not exist for this nurse."""
    response = other_nurse_client.post(_path(patient), {"body": REPLY}, format="json")
    assert response.status_code == 404
    assert not OutgoingMessage.objects.filter(patient=patient).exists()
    assert _deliver_queued() == 0
    assert twilio_backend.messages == []


@pytest.mark.parametrize("body", ["", "   ", "x" * (REPLY_MAX_LENGTH + 1)])
def test_an_empty_or_too_long_reply_is_a_400_naming_body(nurse_client: Any, patient: Patient, body: str) -> None:
    response = nurse_client.post(_path(patient), {"body": body}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["body"]
    assert not OutgoingMessage.objects.filter(patient=patient).exists()


def test_a_reply_to_a_patient_who_sent_stop_is_a_409_with_the_reason(nurse_client: Any, patient: Patient) -> None:
    """H11: STOP is honoured for staff replies too; the nurse is told to call."""
    Patient.objects.filter(pk=patient.pk).update(sms_opted_out_at="2026-01-01T00:00:00Z")
    item = _message_item(patient)
    response = nurse_client.post(_path(patient), {"body": REPLY}, format="json")
    assert response.status_code == 409
    assert response.json()["reason"] == "opted_out"
    assert not OutgoingMessage.objects.filter(patient=patient).exists()
    item.refresh_from_db()
    assert item.status == WorklistItem.Status.OPEN


def test_the_patient_page_offers_the_clinics_quick_replies_in_the_patients_language_and_its_form_sends(
    nurse: User, patient: Patient
) -> None:
    Patient.objects.filter(pk=patient.pk).update(language="tr")
    QuickReply.objects.filter(clinic=patient.clinic).delete()
    quick_replies_seed(clinic_id=patient.clinic_id)
    QuickReply.objects.create(clinic=patient.clinic, language="tr", text="Yarın sabah arayın.", position=5)
    client = Client()
    client.force_login(nurse)
    page = client.get(f"/dashboard/patients/{patient.pk}/").content.decode()
    assert 'id="reply"' in page
    assert "Bugün sizi arayacağız." in page and "Yarın sabah arayın." in page
    assert "We will call you today." not in page  # the English one is not offered to a Turkish patient

    response = client.post(f"/dashboard/patients/{patient.pk}/reply/", {"body": "Bugün sizi arayacağız."})
    assert response.status_code == 302
    [message] = OutgoingMessage.objects.filter(patient=patient)
    assert message.body == "Bugün sizi arayacağız."
    assert "Bugün sizi arayacağız." in client.get(response["Location"]).content.decode()
