"""SMS backends: the real twilio client against the fake Twilio server, locmem, console.

Runs with plain pytest (no Django settings): backends take explicit keywords.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from notifications import backends as backends_module
from notifications.backends import get_sms_backend, locmem
from notifications.backends import twilio as twilio_module
from notifications.backends.base import (
    BaseSmsBackend,
    SendResult,
    SmsDeliveryError,
    SmsMessage,
)
from notifications.backends.console import ConsoleBackend
from notifications.backends.locmem import LocmemBackend
from notifications.backends.twilio import TwilioBackend
from notifications.twilio_errors import describe_twilio_error
from tests.fake_twilio import FakeTwilio

PATIENT = "+905301234567"
SENDER = "+15005550006"
BODY = "Temperature today? Reply with a number, e.g. 37,2"


def sms(to: str = PATIENT, key: str = "outbox-1", **kwargs: str) -> SmsMessage:
    return SmsMessage(to=to, body=BODY, idempotency_key=key, **kwargs)


# ``running_fake`` and ``fake`` (the fake Twilio server) are the kit's: tests/conftest.py.


def twilio_backend(fake: FakeTwilio, **overrides: object) -> TwilioBackend:
    options: dict[str, object] = {
        "account_sid": fake.account_sid,
        "auth_token": fake.auth_token,
        "from_number": SENDER,
        "messaging_service_sid": "",
        "api_base_url": fake.base_url,
        "timeout": 2.0,
    }
    options.update(overrides)
    return TwilioBackend(**options)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def empty_locmem_outbox() -> Iterator[None]:
    locmem.reset()
    yield
    locmem.reset()


# --- Twilio backend against the fake server ---------------------------------------------


class TestTwilioBackend:
    def test_it_returns_the_sid_twilio_assigned(self, fake: FakeTwilio) -> None:
        result = twilio_backend(fake).send(sms(status_callback="https://vigil.test/cb/"))

        [accepted] = fake.messages
        assert result == SendResult(sid=accepted["sid"], status="queued")
        assert result.sid.startswith("SM")
        assert accepted["to"] == PATIENT
        assert accepted["from"] == SENDER
        assert accepted["body"] == BODY
        assert accepted["status_callback"] == "https://vigil.test/cb/"

    def test_it_sends_through_a_messaging_service_without_a_from_number(self, fake: FakeTwilio) -> None:
        service = "MG" + "0" * 32
        backend = twilio_backend(fake, from_number="", messaging_service_sid=service)

        result = backend.send(sms())

        [accepted] = fake.messages
        assert accepted["messaging_service_sid"] == service
        assert accepted["from"] is None
        assert result.status == "accepted"  # what Twilio answers for a service send

    def test_it_raises_a_transient_error_on_a_server_error_without_retrying(self, fake: FakeTwilio) -> None:
        fake.fail_next(status=500)

        with pytest.raises(SmsDeliveryError) as caught:
            twilio_backend(fake).send(sms())

        assert caught.value.permanent is False
        assert caught.value.code == 20500
        assert caught.value.status == 500
        assert fake.received_count == 1  # the client itself retried nothing
        assert fake.messages == []

    def test_it_raises_a_transient_error_with_retry_after_when_rate_limited(self, fake: FakeTwilio) -> None:
        fake.fail_next(status=429, code=20429, retry_after=2)

        with pytest.raises(SmsDeliveryError) as caught:
            twilio_backend(fake).send(sms())

        assert caught.value.permanent is False
        assert caught.value.code == 20429
        assert caught.value.retry_after == 2.0

    def test_it_raises_a_permanent_error_for_an_invalid_number(self, fake: FakeTwilio) -> None:
        fake.mark_invalid("+15005550001")

        with pytest.raises(SmsDeliveryError) as caught:
            twilio_backend(fake).send(sms(to="+15005550001"))

        assert caught.value.permanent is True
        assert caught.value.code == 21211
        assert caught.value.status == 400
        assert fake.messages == []

    def test_it_raises_a_permanent_error_for_a_number_not_in_e164(self, fake: FakeTwilio) -> None:
        with pytest.raises(SmsDeliveryError) as caught:
            twilio_backend(fake).send(sms(to="05301234567"))

        assert (caught.value.code, caught.value.permanent) == (21211, True)

    def test_it_raises_a_permanent_error_for_an_unsubscribed_recipient(self, fake: FakeTwilio) -> None:
        fake.mark_unsubscribed(PATIENT)

        with pytest.raises(SmsDeliveryError) as caught:
            twilio_backend(fake).send(sms())

        assert caught.value.permanent is True
        assert caught.value.code == 21610
        assert "STOP" in caught.value.message

    def test_it_raises_a_transient_error_that_may_have_been_sent_on_a_timeout(self, fake: FakeTwilio) -> None:
        fake.fail_next(timeout=0.6)

        with pytest.raises(SmsDeliveryError) as caught:
            twilio_backend(fake, timeout=0.2).send(sms())

        assert caught.value.permanent is False
        assert caught.value.code is None
        assert caught.value.maybe_sent is True
        # Twilio (and the fake) may still take the message after we gave up: that is
        # why maybe_sent warns the outbox that a retry can text the patient twice.
        fake.wait_idle()
        assert len(fake.messages) == 1

    def test_it_raises_a_transient_error_that_was_not_sent_when_twilio_is_unreachable(
        self,
    ) -> None:
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        backend = TwilioBackend(
            account_sid="AC" + "1" * 32,
            auth_token="token",
            from_number=SENDER,
            messaging_service_sid="",
            api_base_url=f"http://127.0.0.1:{port}",
        )

        with pytest.raises(SmsDeliveryError) as caught:
            backend.send(sms())

        assert caught.value.permanent is False
        assert caught.value.maybe_sent is False

    def test_it_raises_when_the_credentials_are_wrong(self, fake: FakeTwilio) -> None:
        with pytest.raises(SmsDeliveryError) as caught:
            twilio_backend(fake, auth_token="wrong").send(sms())

        assert caught.value.code == 20003
        assert caught.value.status == 401
        assert "credentials" in caught.value.message
        assert fake.messages == []

    def test_it_treats_a_gateway_error_page_as_transient(self, fake: FakeTwilio) -> None:
        fake.fail_next(status=502, body="<html><h1>502 Bad Gateway</h1></html>")

        with pytest.raises(SmsDeliveryError) as caught:
            twilio_backend(fake).send(sms())

        assert caught.value.permanent is False
        assert caught.value.code is None  # the client's stand-in code (502) is dropped
        assert caught.value.status == 502

    def test_it_keeps_numbers_and_bodies_out_of_errors_and_logs(
        self, fake: FakeTwilio, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        backend = twilio_backend(fake)
        result = backend.send(sms(key="outbox-ok"))
        fake.mark_invalid(PATIENT)

        with pytest.raises(SmsDeliveryError) as caught:
            backend.send(sms(key="outbox-bad"))

        error = caught.value
        # Twilio's own exception quotes the number; it must not ride along as a cause.
        assert error.__cause__ is None and error.__suppress_context__ is True
        for text in (str(error), repr(error), caplog.text):
            assert PATIENT not in text
            assert PATIENT[1:] not in text
            assert BODY not in text
        assert result.sid in caplog.text
        assert "outbox-ok" in caplog.text and "outbox-bad" in caplog.text
        assert "code=21211" in caplog.text
        assert PATIENT not in repr(sms())

    def test_it_shares_one_connection_for_a_batch(self, fake: FakeTwilio) -> None:
        with twilio_backend(fake) as backend:
            for number in range(3):
                backend.send(sms(key=f"outbox-{number}"))

        assert len(fake.messages) == 3
        assert fake.connection_count == 1

    def test_it_refuses_to_start_without_credentials_or_a_sender(self, fake: FakeTwilio) -> None:
        with pytest.raises(ImproperlyConfigured):
            twilio_backend(fake, auth_token="")
        with pytest.raises(ImproperlyConfigured):
            twilio_backend(fake, from_number="", messaging_service_sid="")

    def test_it_reads_missing_options_from_django_settings(
        self, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(
            twilio_module,
            "settings",
            SimpleNamespace(
                configured=True,
                TWILIO_ACCOUNT_SID=fake.account_sid,
                TWILIO_AUTH_TOKEN=fake.auth_token,
                TWILIO_FROM_NUMBER=SENDER,
                TWILIO_MESSAGING_SERVICE_SID="",
                TWILIO_API_BASE_URL=fake.base_url,
            ),
        )

        backend = TwilioBackend()
        backend.send(sms())

        assert backend.timeout == 10.0
        assert [m["to"] for m in fake.messages] == [PATIENT]


@pytest.mark.parametrize(
    ("code", "http_status", "permanent"),
    [
        (21211, 400, True),
        (21610, 400, True),
        (21614, 400, True),
        (21408, 400, True),
        (30003, None, True),
        (30005, None, True),
        (30006, None, True),
        (20429, 429, False),
        (None, 429, False),
        (20500, 500, False),
        (None, 503, False),
        (99999, 400, True),
        (None, None, False),
    ],
)
def test_it_judges_twilio_errors_permanent_or_transient(
    code: int | None, http_status: int | None, permanent: bool
) -> None:
    verdict = describe_twilio_error(code, http_status)

    assert verdict.permanent is permanent
    assert verdict.message
    if code is not None:
        assert str(code) in verdict.message


# --- locmem ---------------------------------------------------------------------------


class TestLocmemBackend:
    def test_it_keeps_sent_messages_in_the_outbox(self) -> None:
        first = LocmemBackend().send(sms(key="a"))
        second = LocmemBackend().send(sms(key="b"))

        assert [m.idempotency_key for m in locmem.outbox] == ["a", "b"]
        assert first.sid.startswith("LOCMEM-") and first.sid != second.sid
        assert locmem.sent_sids == [first.sid, second.sid]

    def test_it_raises_scripted_failures_in_order_then_sends(self) -> None:
        transient = SmsDeliveryError("Twilio had a server error", code=20500)
        permanent = SmsDeliveryError("Unsubscribed", code=21610, permanent=True)
        LocmemBackend.fail_next(transient, permanent)
        backend = LocmemBackend()

        with pytest.raises(SmsDeliveryError) as first:
            backend.send(sms(key="a"))
        with pytest.raises(SmsDeliveryError) as second:
            backend.send(sms(key="a"))
        backend.send(sms(key="a"))

        assert (first.value.permanent, second.value.permanent) == (False, True)
        assert second.value.code == 21610
        assert [m.idempotency_key for m in locmem.outbox] == ["a"]
        assert LocmemBackend.pending_failures() == 0

    def test_it_forgets_messages_and_scripts_on_reset(self) -> None:
        LocmemBackend().send(sms())
        LocmemBackend.fail_next(SmsDeliveryError("x"))

        locmem.reset()

        assert locmem.outbox == []
        LocmemBackend().send(sms())
        assert len(locmem.outbox) == 1


# --- console --------------------------------------------------------------------------


class TestConsoleBackend:
    def test_it_writes_the_message_to_the_injected_stream(self) -> None:
        stream = io.StringIO()

        result = ConsoleBackend(stream=stream).send(sms(key="outbox-7"))

        written = stream.getvalue()
        assert result.sid.startswith("CONSOLE-")
        assert result.sid in written
        assert PATIENT in written and BODY in written and "outbox-7" in written

    def test_it_writes_whole_blocks_from_concurrent_threads(self) -> None:
        stream = io.StringIO()
        backend = ConsoleBackend(stream=stream)
        threads = [threading.Thread(target=backend.send, args=(sms(key=f"k{n}"),)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        blocks = [b for b in stream.getvalue().split("-" * 79 + "\n") if b]
        assert len(blocks) == 20
        for block in blocks:
            assert block.startswith("SMS CONSOLE-") and block.rstrip().endswith(BODY)


# --- get_sms_backend ---------------------------------------------------------------------


class TestGetSmsBackend:
    def test_it_builds_the_backend_at_a_dotted_path_with_keywords(self) -> None:
        stream = io.StringIO()

        backend = get_sms_backend("notifications.backends.console.ConsoleBackend", stream=stream)

        assert isinstance(backend, ConsoleBackend)
        assert backend.stream is stream

    def test_it_reads_settings_sms_backend_when_called(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(
            backends_module,
            "settings",
            SimpleNamespace(SMS_BACKEND="notifications.backends.locmem.LocmemBackend"),
        )

        assert isinstance(get_sms_backend(), LocmemBackend)

    def test_it_refuses_a_missing_setting(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(backends_module, "settings", SimpleNamespace())

        with pytest.raises(ImproperlyConfigured):
            get_sms_backend()

    def test_it_refuses_a_class_that_is_not_an_sms_backend(self) -> None:
        with pytest.raises(ImproperlyConfigured):
            get_sms_backend("io.StringIO")

    def test_it_requires_send_from_subclasses(self) -> None:
        with pytest.raises(NotImplementedError):
            BaseSmsBackend().send(sms())
