"""Bad input gets a clear error and changes nothing (DESIGN: principles; API.md: 413).

- A body over MAX_REQUEST_BYTES is refused with 413 before anything reads it.
- Malformed JSON, a form body where JSON is expected, a broken Content-Length, and
  the wrong JSON shape each get a 4xx that says what is wrong; nothing is stored,
  and the next good request on the same client goes through.
- On the websocket, binary frames, non-JSON text and unknown messages get an error
  frame and the connection stays open (a ping still gets its pong).
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings

from backend.services import patient_user_get_or_create
from followup.models import CheckIn
from tests.answers import red_answers
from tests.security.conftest import api_client_for
from tests.ws_tickets import ws_ticket


@pytest.fixture
def patient_client(population):
    return api_client_for(patient_user_get_or_create(population.own.patient))


def _stored() -> int:
    return CheckIn.objects.count()


def test_a_body_over_the_limit_is_refused_with_413_and_a_reason(patient_client):
    before = _stored()
    big = json.dumps({"answers": {"note": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)}})
    response = patient_client.generic("POST", "/api/v1/check-ins/", big, content_type="application/json")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert _stored() == before


def test_a_body_over_the_limit_is_refused_on_the_webhooks_too(client):
    big = "Body=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    response = client.generic("POST", "/webhooks/twilio/sms/", big, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413


def test_malformed_json_is_a_clear_400_and_stores_nothing(patient_client):
    before = _stored()
    response = patient_client.generic(
        "POST", "/api/v1/check-ins/", '{"answers": {"temperature_c": 38.5,', content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert _stored() == before
    good = patient_client.post("/api/v1/check-ins/", {"answers": red_answers()}, format="json")
    assert good.status_code == 201


@pytest.mark.parametrize("body", ["[]", '"answers"', "null", "1e999", '{"answers": NaN}'])
def test_json_of_the_wrong_shape_is_a_400(patient_client, body):
    before = _stored()
    response = patient_client.generic("POST", "/api/v1/check-ins/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert _stored() == before


def test_a_form_body_on_a_json_endpoint_is_415(patient_client):
    response = patient_client.generic(
        "POST", "/api/v1/check-ins/", "answers=1", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["detail"]


def test_a_broken_content_length_is_a_400(patient_client):
    response = patient_client.generic(
        "POST", "/api/v1/check-ins/", "{}", content_type="application/json", CONTENT_LENGTH="abc"
    )
    assert response.status_code == 400


def test_a_malformed_signed_looking_webhook_form_is_refused_without_a_server_error(client, settings):
    settings.TWILIO_AUTH_TOKEN = "token"
    response = client.generic(
        "POST",
        "/webhooks/twilio/sms/",
        b"\xff\xfe=%%%&&&=",
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE="garbage",
    )
    assert response.status_code == 403


async def _frames(ticket: str) -> list[dict]:
    from config.asgi import application

    communicator = WebsocketCommunicator(application, f"/ws/alerts/?ticket={ticket}")
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    replies = []
    await communicator.send_to(bytes_data=b"\x00\x01binary")
    replies.append(json.loads(await communicator.receive_from(timeout=5)))
    await communicator.send_to(text_data="{not json")
    replies.append(json.loads(await communicator.receive_from(timeout=5)))
    await communicator.send_to(text_data=json.dumps({"type": "subscribe", "clinic": 999}))
    replies.append(json.loads(await communicator.receive_from(timeout=5)))
    await communicator.send_to(text_data="x" * 100_000)
    replies.append(json.loads(await communicator.receive_from(timeout=5)))
    await communicator.send_to(text_data=json.dumps({"type": "ping"}))
    replies.append(json.loads(await communicator.receive_from(timeout=5)))
    await communicator.disconnect()
    return replies


@pytest.mark.django_db(transaction=True)
def test_malformed_websocket_frames_get_an_error_frame_and_the_connection_stays(population):
    replies = async_to_sync(_frames)(ws_ticket(population.staff["nurse"], origin=None))
    assert [reply["type"] for reply in replies] == ["error", "error", "error", "error", "pong"]
    assert all(reply["seq"] is None for reply in replies)
    assert all(reply["data"].get("detail") for reply in replies[:4])
