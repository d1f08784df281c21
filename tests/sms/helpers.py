"""Helpers of the SMS suite: posting to our webhooks as Twilio does, reading the outbox."""

from __future__ import annotations

import urllib.parse
from typing import Any

from django.test import Client

from backend.models import Patient
from notifications.models import OutgoingMessage
from tests.fake_twilio import FakeTwilio

SMS_PATH = "/webhooks/twilio/sms/"
STATUS_PATH = "/webhooks/twilio/status/"
PUBLIC_BASE_URL = "https://vigil.example.org"


class Webhooks:
    """Posts to our webhooks as Twilio does: form-encoded, signed."""

    def __init__(self, client: Client, fake: FakeTwilio) -> None:
        self.client = client
        self.fake = fake

    def post(self, path: str, params: dict[str, str], *, signature: str | None = None, query: str = "") -> Any:
        full = f"{path}?{query}" if query else path
        if signature is None:
            signature = self.fake.sign(PUBLIC_BASE_URL + full, params)
        headers = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
        return self.client.post(
            full, urllib.parse.urlencode(params), content_type="application/x-www-form-urlencoded", **headers
        )

    def sms(self, from_: str, body: str, *, message_sid: str | None = None) -> Any:
        params = self.fake.inbound_sms_params(from_, body, message_sid=message_sid)
        response = self.post(SMS_PATH, params)
        assert response.status_code == 200, response.status_code
        return response

    def status(self, *, sid: str, status: str, outbox_id: int | None = None, error_code: int | None = None) -> Any:
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.fake.account_sid,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return self.post(STATUS_PATH, params, query=f"m={outbox_id}" if outbox_id is not None else "")


def outbound(patient: Patient) -> list[OutgoingMessage]:
    return list(OutgoingMessage.objects.filter(patient=patient).order_by("id"))


def last_outbound(patient: Patient) -> OutgoingMessage:
    message = OutgoingMessage.objects.filter(patient=patient).order_by("-id").first()
    assert message is not None
    return message
