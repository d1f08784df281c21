"""The fake Twilio server answers as Twilio does, so the real client can be tested on it."""

from __future__ import annotations

import email.utils
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from notifications.backends.twilio import RebasedTwilioHttpClient
from tests.fake_twilio import FakeTwilio

PATIENT = "+905301234567"
SENDER = "+15005550006"


# ``running_fake`` and ``fake`` (the fake Twilio server) are the kit's: tests/conftest.py.


def messages_url(fake: FakeTwilio, account: str | None = None) -> str:
    return f"{fake.base_url}/2010-04-01/Accounts/{account or fake.account_sid}/Messages.json"


def post_message(fake: FakeTwilio, auth: tuple[str, str] | None = None, **form: str) -> requests.Response:
    form.setdefault("To", PATIENT)
    form.setdefault("From", SENDER)
    form.setdefault("Body", "Hello")
    return requests.post(
        messages_url(fake),
        data=form,
        auth=auth or (fake.account_sid, fake.auth_token),
        timeout=5,
    )


def twilio_client(fake: FakeTwilio, timeout: float = 5.0) -> Client:
    http_client = RebasedTwilioHttpClient(base_url=fake.base_url, timeout=timeout)
    return Client(fake.account_sid, fake.auth_token, http_client=http_client)


class Receiver:
    """A tiny HTTP server standing in for our webhook: records what Twilio posts."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                receiver.requests.append(
                    {
                        "path": self.path,
                        "params": {k: v[0] for k, v in form.items()},
                        "headers": dict(self.headers),
                    }
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/twilio/status/"
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_it_answers_a_message_create_with_twilios_message_resource(
    fake: FakeTwilio,
) -> None:
    response = post_message(fake, Body="Hello", StatusCallback="https://vigil.test/cb/")

    assert response.status_code == 201
    resource = response.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", resource["sid"])
    assert resource["account_sid"] == fake.account_sid
    assert (resource["to"], resource["from"], resource["body"]) == (
        PATIENT,
        SENDER,
        "Hello",
    )
    assert resource["status"] == "queued"
    assert resource["direction"] == "outbound-api"
    assert resource["num_segments"] == "1"
    assert resource["api_version"] == "2010-04-01"
    assert email.utils.parsedate_to_datetime(resource["date_created"]).tzinfo is not None
    assert resource["uri"] == (f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{resource['sid']}.json")
    assert fake.messages == [
        {
            "sid": resource["sid"],
            "to": PATIENT,
            "from": SENDER,
            "body": "Hello",
            "status_callback": "https://vigil.test/cb/",
            "messaging_service_sid": None,
            "status": "queued",
            "num_segments": "1",
            "date_created": resource["date_created"],
        }
    ]


def test_it_parses_into_the_real_clients_message_instance(fake: FakeTwilio) -> None:
    message = twilio_client(fake).messages.create(to=PATIENT, from_=SENDER, body="Hi")

    assert message.sid == fake.messages[0]["sid"]
    assert message.status == "queued"
    assert message.date_created is not None
    fetched = twilio_client(fake).messages(message.sid).fetch()
    assert (fetched.sid, fetched.to, fetched.body) == (message.sid, PATIENT, "Hi")


def test_it_rejects_wrong_credentials_with_twilios_20003(fake: FakeTwilio) -> None:
    response = post_message(fake, auth=(fake.account_sid, "wrong-token"))

    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert fake.messages == []
    assert fake.received_count == 1


def test_it_answers_404_for_another_accounts_messages(fake: FakeTwilio) -> None:
    response = requests.post(
        messages_url(fake, account="AC" + "f" * 32),
        data={"To": PATIENT, "From": SENDER, "Body": "x"},
        auth=(fake.account_sid, fake.auth_token),
        timeout=5,
    )

    assert (response.status_code, response.json()["code"]) == (404, 20404)


@pytest.mark.parametrize("number", ["5301234567", "+0123456", "+90 530 123 45 67", "+1555abc"])
def test_it_answers_21211_for_a_number_not_in_e164(fake: FakeTwilio, number: str) -> None:
    response = post_message(fake, To=number)

    assert response.status_code == 400
    assert response.json() == {
        "code": 21211,
        "message": f"The 'To' number {number} is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }


def test_it_answers_21211_for_a_number_marked_invalid(fake: FakeTwilio) -> None:
    fake.mark_invalid(PATIENT)

    assert post_message(fake).json()["code"] == 21211


def test_it_answers_21610_for_an_unsubscribed_number_until_it_resubscribes(
    fake: FakeTwilio,
) -> None:
    fake.mark_unsubscribed(PATIENT)
    refused = post_message(fake)
    fake.mark_subscribed(PATIENT)
    accepted = post_message(fake)

    assert (refused.status_code, refused.json()["code"]) == (400, 21610)
    assert accepted.status_code == 201
    assert len(fake.messages) == 1


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"To": ""}, 21604),
        ({"From": ""}, 21603),
        ({"Body": ""}, 21602),
        ({"Body": "x" * 1601}, 21617),
    ],
)
def test_it_refuses_incomplete_messages_like_twilio(fake: FakeTwilio, form: dict[str, str], code: int) -> None:
    response = post_message(fake, **form)

    assert (response.status_code, response.json()["code"]) == (400, code)


def test_it_answers_a_scripted_429_with_retry_after(fake: FakeTwilio) -> None:
    fake.fail_next(status=429, code=20429, retry_after=1)

    response = post_message(fake)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json()["code"] == 20429


def test_it_plays_scripted_failures_in_order_then_answers_normally(
    fake: FakeTwilio,
) -> None:
    fake.fail_next(status=500, times=2)
    fake.fail_next(status=503)

    statuses = [post_message(fake).status_code for _ in range(4)]

    assert statuses == [500, 500, 503, 201]
    assert fake.received_count == 4
    assert len(fake.messages) == 1


def test_it_sleeps_before_answering_a_scripted_timeout(fake: FakeTwilio) -> None:
    fake.fail_next(timeout=0.3)

    started = time.monotonic()
    response = post_message(fake)

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 201


def test_it_counts_segments_like_twilio(fake: FakeTwilio) -> None:
    bodies = {
        "g" * 160: "1",
        "g" * 161: "2",
        "€" * 80: "1",  # extension characters cost two septets
        "ş" * 70: "1",  # Turkish letters force UCS-2: 70 per single segment
        "ş" * 71: "2",
    }

    for body, segments in bodies.items():
        assert post_message(fake, Body=body).json()["num_segments"] == segments


def test_it_records_exactly_the_messages_accepted_from_concurrent_clients(
    fake: FakeTwilio,
) -> None:
    fake.mark_unsubscribed("+15005550009")
    numbers = [f"+9053012345{n:02d}" for n in range(16)] + ["+15005550009"] * 4
    client = twilio_client(fake)
    errors: list[int | None] = []

    def send(number: str) -> None:
        try:
            client.messages.create(to=number, from_=SENDER, body=f"to {number}")
        except TwilioRestException as exc:
            errors.append(exc.code)

    threads = [threading.Thread(target=send, args=(number,)) for number in numbers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(m["to"] for m in fake.messages) == sorted(numbers[:16])
    assert len({m["sid"] for m in fake.messages}) == 16
    assert errors == [21610] * 4
    assert fake.received_count == 20


def test_it_posts_signed_status_callbacks_to_the_messages_callback_url(
    fake: FakeTwilio,
) -> None:
    with Receiver() as receiver:
        sid = post_message(fake, StatusCallback=receiver.url).json()["sid"]

        delivered = fake.send_status_callback(sid, "delivered")
        undelivered = fake.send_status_callback(sid, "undelivered", error_code=30005)

    assert (delivered, undelivered) == (200, 200)
    first, second = receiver.requests
    assert first["path"] == "/webhooks/twilio/status/"
    assert first["params"]["MessageSid"] == sid
    assert first["params"]["MessageStatus"] == "delivered"
    assert "ErrorCode" not in first["params"]
    assert second["params"]["ErrorCode"] == "30005"
    validator = RequestValidator(fake.auth_token)
    for request in receiver.requests:
        assert validator.validate(receiver.url, request["params"], request["headers"]["X-Twilio-Signature"])
    assert fake.messages[0]["status"] == "undelivered"


def test_it_signs_inbound_sms_forms_for_our_webhook(fake: FakeTwilio) -> None:
    url = "https://vigil.test/webhooks/twilio/sms/"
    params = fake.inbound_sms_params(PATIENT, "38,6 C", to=SENDER)

    headers = fake.signed_inbound(url, params)

    assert params["From"] == PATIENT and params["To"] == SENDER and params["Body"] == "38,6 C"
    assert re.fullmatch(r"SM[0-9a-f]{32}", params["MessageSid"])
    assert RequestValidator(fake.auth_token).validate(url, params, headers["X-Twilio-Signature"])
    assert not RequestValidator("another-token").validate(url, params, headers["X-Twilio-Signature"])
    tampered = {**params, "Body": "36,6 C"}
    assert not RequestValidator(fake.auth_token).validate(url, tampered, headers["X-Twilio-Signature"])


def test_it_drops_a_sleeping_request_when_stopped() -> None:
    fake = FakeTwilio().start()
    fake.fail_next(timeout=30)
    with pytest.raises(requests.Timeout):
        requests.post(
            messages_url(fake),
            data={"To": PATIENT, "From": SENDER, "Body": "x"},
            auth=(fake.account_sid, fake.auth_token),
            timeout=0.2,
        )

    started = time.monotonic()
    fake.stop()

    assert time.monotonic() - started < 2
    assert fake.messages == []
    assert fake.received_count == 1
