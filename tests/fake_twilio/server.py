"""A fake Twilio REST API on 127.0.0.1, for running the real ``twilio`` client in tests.

Start it, point the Twilio backend's ``api_base_url`` at ``fake.base_url`` and give it
``fake.account_sid`` / ``fake.auth_token``::

    with FakeTwilio() as fake:
        backend = TwilioBackend(account_sid=fake.account_sid, auth_token=fake.auth_token,
                                from_number="+15005550006", api_base_url=fake.base_url)
        backend.send(SmsMessage(to="+905301234567", body="Hi", idempotency_key="k1"))
        assert fake.messages[0]["to"] == "+905301234567"

It answers ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``,
``GET .../Messages/{Sid}.json`` and ``GET .../Messages.json`` (the list, newest first,
filtered by ``To`` and ``From``) as Twilio does: HTTP basic auth (401 with code 20003
otherwise), 201 with the message resource, 400 with Twilio's error body for an
invalid number (21211) or an unsubscribed one (21610), and whatever failure a test
scripts with :meth:`FakeTwilio.fail_next`. It can also play Twilio calling us:
signed status callbacks and signed inbound SMS forms
(``twilio.request_validator.RequestValidator``).
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hmac
import json
import math
import re
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from twilio.request_validator import RequestValidator

__all__ = ["FakeTwilio"]

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_BODY_CHARS = 1600
# What Twilio's error bodies say for the failures a test usually scripts.
DEFAULT_ERRORS: dict[int, tuple[int, str]] = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}
_MESSAGES = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages\.json$")
_MESSAGE = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")
# GSM 03.38: characters of the basic set cost one septet, of the extension table two.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = set("^{}\\[~]|€\f")


def _segments(body: str) -> int:
    """How many SMS segments Twilio would bill ``body`` as (GSM-7 or UCS-2)."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in body):
        length = sum(2 if ch in _GSM_EXTENSION else 1 for ch in body)
        single, multi = 160, 153
    else:
        length = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    if length <= single:
        return 1
    return math.ceil(length / multi)


def _rfc2822(moment: datetime) -> str:
    return email.utils.format_datetime(moment)  # "Thu, 24 Aug 2023 05:01:45 +0000"


def _new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class _Script:
    status: int | None
    code: int | None
    message: str | None
    retry_after: float | None
    timeout: float | None
    body: str | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeTwilio


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Keep-alive, so a backend's batch really shares one connection.
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; without TCP_NODELAY, Nagle's algorithm
    # holds the body until the client's delayed ACK (40 ms on Linux) on a kept-alive
    # connection, and every reply would take 40 ms longer than Twilio's.
    disable_nagle_algorithm = True
    server_version = "FakeTwilio/1.0"
    # Idle keep-alive connections are dropped after this, so handler threads end.
    timeout = 10

    def setup(self) -> None:
        super().setup()
        self.server.fake._connection_opened()

    def log_message(self, format: str, *args: Any) -> None:
        # Silent: request lines are noise in test output, and bodies are PHI.
        pass

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def reply(
        self,
        status: int,
        payload: dict[str, Any] | None = None,
        *,
        raw: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if raw is not None:
            data, content_type = raw.encode(), "text/html; charset=utf-8"
        else:
            data, content_type = (
                json.dumps(payload).encode(),
                "application/json; charset=utf-8",
            )
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Twilio-Request-Id", _new_sid("RQ"))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout) before we answered: Twilio keeps the
            # message anyway, and so do we.
            self.close_connection = True

    def reply_error(
        self,
        status: int,
        code: int | None,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        payload: dict[str, Any] = {"message": message, "status": status}
        if code is not None:
            payload["code"] = code
            payload["more_info"] = f"https://www.twilio.com/docs/errors/{code}"
        payload.update(extra)
        self.reply(status, payload, headers=headers)


class FakeTwilio:
    """Fake Twilio REST API server (thread-safe; one per test or per session)."""

    #: A sender number of the fake account (Twilio's "valid From" magic test number).
    phone_number = "+15005550006"

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        host: str = "127.0.0.1",
    ) -> None:
        self.account_sid = account_sid or _new_sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.host = host
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._stopping = threading.Event()
        self._messages: list[dict[str, Any]] = []
        self._received_count = 0
        self._connection_count = 0
        self._scripts: deque[_Script] = deque()
        self._unsubscribed: set[str] = set()
        self._invalid: set[str] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FakeTwilio is already running")
        self._stopping.clear()
        server = _Server((self.host, 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-twilio-{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        # Wake handlers sleeping in a scripted timeout; they drop their request.
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeTwilio is not running; call start()")
        port = self._server.server_address[1]
        return f"http://{self.host}:{port}"

    # --- scripting --------------------------------------------------------------

    def fail_next(
        self,
        status: int | None = None,
        *,
        code: int | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        timeout: float | None = None,
        body: str | None = None,
        times: int = 1,
    ) -> None:
        """Script the next ``times`` Messages requests (queued after earlier scripts).

        - ``status``: answer with this HTTP status and Twilio's error body (``code``
          and ``message`` default to Twilio's for 429, 500 and 503); ``retry_after``
          adds a Retry-After header; ``body`` sends that text instead of JSON (a
          proxy's HTML error page).
        - ``timeout``: sleep that many seconds before answering. Without ``status``
          the request is then handled normally, so the message is recorded although
          a client with a shorter timeout never saw the reply, as with real Twilio.
        """
        if status is None and timeout is None:
            raise ValueError("fail_next needs a status, a timeout or both")
        if status is not None and status < 400:
            raise ValueError("fail_next scripts failures: status must be 4xx or 5xx")
        default_code, default_message = DEFAULT_ERRORS.get(status or 0, (None, None))
        if default_message is None and status is not None:
            try:
                default_message = HTTPStatus(status).phrase
            except ValueError:
                default_message = "Error"
        script = _Script(
            status=status,
            code=code if code is not None else default_code,
            message=message or default_message,
            retry_after=retry_after,
            timeout=timeout,
            body=body,
        )
        with self._lock:
            self._scripts.extend([script] * times)

    def mark_unsubscribed(self, number: str) -> None:
        """The patient texted STOP to the carrier: Twilio now refuses with 21610."""
        with self._lock:
            self._unsubscribed.add(number)

    def mark_subscribed(self, number: str) -> None:
        """The patient texted START: messages to them go through again."""
        with self._lock:
            self._unsubscribed.discard(number)

    def mark_invalid(self, number: str) -> None:
        """Twilio refuses this number with 21211 (numbers not in E.164 always are)."""
        with self._lock:
            self._invalid.add(number)

    def reset(self) -> None:
        """Forget messages, counts, scripts and marked numbers (between tests)."""
        with self._lock:
            self._messages.clear()
            self._received_count = 0
            self._connection_count = 0
            self._scripts.clear()
            self._unsubscribed.clear()
            self._invalid.clear()

    # --- what happened ------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Copies of the messages accepted (201), oldest first.

        Keys: sid, to, from, body, status_callback, messaging_service_sid, status,
        num_segments, date_created.
        """
        with self._lock:
            return [dict(message) for message in self._messages]

    @property
    def received_count(self) -> int:
        """Messages requests received, whatever the answer (accepted or refused)."""
        with self._lock:
            return self._received_count

    @property
    def connection_count(self) -> int:
        """TCP connections accepted (a backend's batch reuses one, keep-alive)."""
        with self._lock:
            return self._connection_count

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until no request is being handled (e.g. one sleeping in a timeout)."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout):
                raise TimeoutError("FakeTwilio still handling a request")

    # --- Twilio calling us: status callbacks and inbound SMS ------------------------

    def sign(self, url: str, params: dict[str, str]) -> str:
        """X-Twilio-Signature for a form POST of ``params`` to ``url``."""
        signature: str = RequestValidator(self.auth_token).compute_signature(url, params)
        return signature

    def signed_inbound(self, url: str, params: dict[str, str]) -> dict[str, str]:
        """Headers that make ``params`` posted to ``url`` pass Twilio signature checks."""
        return {"X-Twilio-Signature": self.sign(url, params)}

    def inbound_sms_params(
        self,
        from_: str,
        body: str,
        *,
        to: str | None = None,
        message_sid: str | None = None,
        messaging_service_sid: str | None = None,
    ) -> dict[str, str]:
        """The form Twilio posts to the SMS webhook when a patient texts ``to``; a
        number in a Messaging Service's pool adds the service's ``MessagingServiceSid``."""
        sid = message_sid or _new_sid("SM")
        params = {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "To": to or self.phone_number,
            "NumSegments": str(_segments(body)),
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": API_VERSION,
        }
        if messaging_service_sid:
            params["MessagingServiceSid"] = messaging_service_sid
        return params

    def messages_sent_by(self, sender: str) -> list[dict[str, Any]]:
        """The accepted messages whose ``From`` or ``MessagingServiceSid`` is ``sender``."""
        return [m for m in self.messages if sender in (m["from"], m["messaging_service_sid"])]

    def status_callback_params(self, sid: str, status: str, *, error_code: int | None = None) -> dict[str, str]:
        """The form Twilio posts to a message's StatusCallback, and records ``status``."""
        with self._lock:
            message = next((m for m in self._messages if m["sid"] == sid), None)
            if message is None:
                raise KeyError(f"no accepted message {sid}")
            message["status"] = status
            params = {
                "SmsSid": sid,
                "SmsStatus": status,
                "MessageStatus": status,
                "To": message["to"],
                "MessageSid": sid,
                "AccountSid": self.account_sid,
                "From": message["from"] or self.phone_number,
                "ApiVersion": API_VERSION,
            }
            if message["messaging_service_sid"]:
                params["MessagingServiceSid"] = message["messaging_service_sid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    def send_status_callback(
        self,
        sid: str,
        status: str,
        url: str | None = None,
        *,
        error_code: int | None = None,
        timeout: float = 5.0,
    ) -> int:
        """POST a signed status callback for message ``sid``; return the HTTP status.

        ``url`` defaults to the StatusCallback given when the message was created.
        """
        if url is None:
            url = next((m["status_callback"] for m in self.messages if m["sid"] == sid), None)
            if not url:
                raise ValueError(f"message {sid} has no StatusCallback; pass url")
        params = self.status_callback_params(sid, status, error_code=error_code)
        request = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(params).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "TwilioProxy/1.1",
                **self.signed_inbound(url, params),
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    # --- request handling (server threads) --------------------------------------------

    def _connection_opened(self) -> None:
        with self._lock:
            self._connection_count += 1

    def _handle(self, handler: _Handler, method: str) -> None:
        with self._lock:
            self._in_flight += 1
        try:
            self._route(handler, method)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _route(self, handler: _Handler, method: str) -> None:
        path = urllib.parse.urlsplit(handler.path).path
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length).decode() if length else ""
        if method == "POST" and (match := _MESSAGES.match(path)):
            self._create_message(handler, match["account"], raw_body)
            return
        if method == "GET" and (match := _MESSAGE.match(path)):
            if self._authorized(handler, match["account"]):
                self._fetch_message(handler, match["sid"])
            return
        if method == "GET" and (match := _MESSAGES.match(path)):
            if self._authorized(handler, match["account"]):
                self._list_messages(handler, urllib.parse.urlsplit(handler.path).query)
            return
        handler.reply_error(404, 20404, f"The requested resource {path} was not found")

    def _authorized(self, handler: _Handler, account: str) -> bool:
        header = handler.headers.get("Authorization", "")
        username = password = ""
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            username, _, password = decoded.partition(":")
        good = hmac.compare_digest(username, self.account_sid) and hmac.compare_digest(password, self.auth_token)
        if not good:
            handler.reply_error(
                401,
                20003,
                "Authenticate",
                headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
                detail="Your AccountSid or AuthToken was incorrect.",
            )
            return False
        if account != self.account_sid:
            handler.reply_error(404, 20404, f"The requested resource {handler.path} was not found")
            return False
        return True

    def _create_message(self, handler: _Handler, account: str, raw_body: str) -> None:
        with self._lock:
            self._received_count += 1
            script = self._scripts.popleft() if self._scripts else None
        if script is not None and script.timeout and self._stopping.wait(script.timeout):
            handler.close_connection = True  # woken by stop(): drop the request
            return
        if script is not None and script.status is not None:
            headers = {}
            if script.retry_after is not None:
                headers["Retry-After"] = f"{script.retry_after:g}"
            if script.body is not None:
                handler.reply(script.status, raw=script.body, headers=headers)
            else:
                handler.reply_error(script.status, script.code, script.message or "", headers=headers)
            return
        if not self._authorized(handler, account):
            return

        form = urllib.parse.parse_qs(raw_body, keep_blank_values=True)

        def field(name: str) -> str | None:
            values = form.get(name)
            return values[-1] if values else None

        to, from_, body = field("To"), field("From"), field("Body")
        service = field("MessagingServiceSid")
        if not to:
            handler.reply_error(400, 21604, "A 'To' phone number is required.")
            return
        if not from_ and not service:
            handler.reply_error(400, 21603, "A 'From' phone number is required.")
            return
        if not body:
            handler.reply_error(400, 21602, "Message body is required.")
            return
        if len(body) > MAX_BODY_CHARS:
            handler.reply_error(
                400,
                21617,
                "The concatenated message body exceeds the 1600 character limit.",
            )
            return
        with self._lock:
            invalid = to in self._invalid or not E164.match(to)
            unsubscribed = to in self._unsubscribed
        if invalid:
            handler.reply_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
            return
        if unsubscribed:
            handler.reply_error(400, 21610, "Attempt to send to unsubscribed recipient")
            return

        sid = _new_sid("SM")
        now = _rfc2822(datetime.now(UTC))
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        resource = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # Through a Messaging Service Twilio first answers "accepted" (it picks
            # the sender later); from a number, "queued".
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
            "to": to,
            "uri": uri,
        }
        with self._lock:
            if self._stopping.is_set():
                handler.close_connection = True
                return
            self._messages.append(
                {
                    "sid": sid,
                    "to": to,
                    "from": from_,
                    "body": body,
                    "status_callback": field("StatusCallback"),
                    "messaging_service_sid": service,
                    "status": resource["status"],
                    "num_segments": resource["num_segments"],
                    "date_created": now,
                }
            )
        handler.reply(201, resource)

    def _fetch_message(self, handler: _Handler, sid: str) -> None:
        with self._lock:
            message = next((dict(m) for m in self._messages if m["sid"] == sid), None)
        if message is None:
            handler.reply_error(404, 20404, f"The requested resource {handler.path} was not found")
            return
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        handler.reply(
            200,
            {
                "account_sid": self.account_sid,
                "api_version": API_VERSION,
                "body": message["body"],
                "date_created": message["date_created"],
                "date_updated": message["date_created"],
                "direction": "outbound-api",
                "from": message["from"],
                "messaging_service_sid": message["messaging_service_sid"],
                "num_media": "0",
                "num_segments": message["num_segments"],
                "sid": sid,
                "status": message["status"],
                "to": message["to"],
                "uri": uri,
            },
        )

    def _list_messages(self, handler: _Handler, query: str) -> None:
        """The Messages list: newest first, filtered by To / From, one page."""
        params = urllib.parse.parse_qs(query)
        to, from_ = (params.get("To") or [None])[0], (params.get("From") or [None])[0]
        page_size = int((params.get("PageSize") or ["50"])[0])
        with self._lock:
            found = [
                dict(m)
                for m in reversed(self._messages)
                if (to is None or m["to"] == to) and (from_ is None or m["from"] == from_)
            ][:page_size]
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"
        handler.reply(
            200,
            {
                "messages": [
                    {
                        "account_sid": self.account_sid,
                        "api_version": API_VERSION,
                        "body": m["body"],
                        "date_created": m["date_created"],
                        "date_updated": m["date_created"],
                        "date_sent": None,
                        "direction": "outbound-api",
                        "from": m["from"],
                        "messaging_service_sid": m["messaging_service_sid"],
                        "num_media": "0",
                        "num_segments": m["num_segments"],
                        "sid": m["sid"],
                        "status": m["status"],
                        "to": m["to"],
                        "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{m['sid']}.json",
                    }
                    for m in found
                ],
                "end": max(0, len(found) - 1),
                "first_page_uri": f"{uri}?PageSize={page_size}&Page=0",
                "next_page_uri": None,
                "page": 0,
                "page_size": page_size,
                "previous_page_uri": None,
                "start": 0,
                "uri": f"{uri}?{query}",
            },
        )
