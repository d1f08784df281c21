"""Twilio backend: sends each SMS with the official client (``twilio`` 9.x).

Configuration comes from keyword arguments, or, for any left out, from Django
settings when they are configured: ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``,
``TWILIO_FROM_NUMBER`` and/or ``TWILIO_MESSAGING_SERVICE_SID`` (one is required: the
sender of a message that names none; a clinic's sending identity, carried on the
message, replaces both),
``TWILIO_API_BASE_URL`` (default ``https://api.twilio.com``; the test suite points
it at the fake Twilio server) and ``TWILIO_TIMEOUT`` (seconds, default 10).

The client retries nothing: ``TwilioHttpClient`` mounts a requests adapter with
urllib3's default of zero retries. Retrying is the outbox's decision, made from the
:class:`SmsDeliveryError` raised here.

Logs carry the message sid, the Twilio code and the idempotency key, never the
number or the body. The same goes for error messages, and Twilio's own exception
(whose text quotes the number, e.g. "The 'To' number +1... is not valid") is not
chained onto ours.
"""

from __future__ import annotations

import email.utils
import logging
import math
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from notifications.backends.base import (
    BaseSmsBackend,
    SendResult,
    SmsDeliveryError,
    SmsMessage,
)
from notifications.twilio_errors import describe_twilio_error

__all__ = ["RebasedTwilioHttpClient", "TwilioBackend"]

logger = logging.getLogger(__name__)

TWILIO_API_BASE_URL = "https://api.twilio.com"
DEFAULT_TIMEOUT = 10.0


class RebasedTwilioHttpClient(TwilioHttpClient):
    """``TwilioHttpClient`` that sends Twilio API requests to another base URL.

    The generated resource classes build absolute URLs on ``https://api.twilio.com``
    (``Domain.base_url``), and twilio 9.13's ``Client`` takes no option to change it
    (assigning ``client.api.base_url`` works too, but only for that one domain object
    of that one client). This client swaps the scheme and host of every
    ``api[.edge.region].twilio.com`` URL for ``base_url`` just before the request goes
    out, keeping the path and query, so
    ``Client(http_client=RebasedTwilioHttpClient(base_url=fake.base_url))`` talks to
    the fake server with every other part of the client (auth, form encoding, error
    parsing) untouched.

    It also remembers, per thread, the last response, because ``TwilioRestException``
    does not carry the response headers and a 429's ``Retry-After`` is needed.
    """

    def __init__(self, *, base_url: str = TWILIO_API_BASE_URL, timeout: float | None = None):
        # max_retries=None keeps urllib3's default, Retry(0, read=False): one attempt.
        super().__init__(pool_connections=True, timeout=timeout, max_retries=None)
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ImproperlyConfigured(f"TWILIO_API_BASE_URL is not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._rebase = self.base_url != TWILIO_API_BASE_URL
        self._local = threading.local()

    @property
    def last_response(self) -> Response | None:
        """The last response this thread received, or None if the request failed."""
        response: Response | None = getattr(self._local, "response", None)
        return response

    def rebase(self, url: str) -> str:
        if not self._rebase:
            return url
        parts = urlsplit(url)
        host = parts.hostname or ""
        # api.twilio.com, or api.<edge>.<region>.twilio.com when TWILIO_EDGE /
        # TWILIO_REGION are set in the environment (the client reads them itself).
        if not (host.startswith("api.") and host.endswith(".twilio.com")):
            return url
        return self.base_url + urlunsplit(("", "", parts.path, parts.query, ""))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        self._local.response = None
        response = super().request(method, self.rebase(url), *args, **kwargs)
        self._local.response = response
        return response

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def _setting(name: str, value: Any, default: Any = None) -> Any:
    """The explicit keyword if given, else the Django setting if settings are configured."""
    if value is not None:
        return value
    if settings.configured:
        return getattr(settings, name, default)
    return default


def _never_connected(exc: requests.RequestException) -> bool:
    """True if the request cannot have reached the server (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _retry_after_seconds(value: str | None) -> float | None:
    """Parse Retry-After: delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class TwilioBackend(BaseSmsBackend):
    """Sends SMS through Twilio's Messages API.

    One ``Client`` and one HTTP session per :meth:`open`; a ``with`` block reuses the
    connection for a batch. Not shared between threads: build one per task.
    """

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base_url: str | None = None,
        timeout: float | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.account_sid: str = _setting("TWILIO_ACCOUNT_SID", account_sid) or ""
        self.auth_token: str = _setting("TWILIO_AUTH_TOKEN", auth_token) or ""
        self.from_number: str = _setting("TWILIO_FROM_NUMBER", from_number) or ""
        self.messaging_service_sid: str = _setting("TWILIO_MESSAGING_SERVICE_SID", messaging_service_sid) or ""
        self.api_base_url: str = _setting("TWILIO_API_BASE_URL", api_base_url) or TWILIO_API_BASE_URL
        self.timeout = float(_setting("TWILIO_TIMEOUT", timeout, DEFAULT_TIMEOUT))
        if not self.account_sid or not self.auth_token:
            raise ImproperlyConfigured("TwilioBackend needs an account SID and an auth token")
        if not self.from_number and not self.messaging_service_sid:
            raise ImproperlyConfigured("TwilioBackend needs a from number or a messaging service SID")
        if not self.timeout > 0:
            raise ImproperlyConfigured("TwilioBackend timeout must be positive")
        self._http_client: RebasedTwilioHttpClient | None = None
        self._client: Client | None = None

    def open(self) -> bool:
        if self._client is not None:
            return False
        self._http_client = RebasedTwilioHttpClient(base_url=self.api_base_url, timeout=self.timeout)
        self._client = Client(self.account_sid, self.auth_token, http_client=self._http_client)
        return True

    def close(self) -> None:
        if self._http_client is not None:
            self._http_client.close()
        self._http_client = None
        self._client = None

    def send(self, message: SmsMessage) -> SendResult:
        opened_here = self.open()
        try:
            return self._send(message)
        finally:
            if opened_here:
                self.close()

    def _send(self, message: SmsMessage) -> SendResult:
        assert self._client is not None and self._http_client is not None
        params: dict[str, Any] = {"to": message.to, "body": message.body}
        # The message's own sender (its clinic's identity) if it has one, else ours.
        # With both set, Twilio sends from the number and applies the service's
        # features; with only the service, it picks a sender from its pool.
        if message.from_number or message.messaging_service_sid:
            from_number, service = message.from_number, message.messaging_service_sid
        else:
            from_number, service = self.from_number, self.messaging_service_sid
        if from_number:
            params["from_"] = from_number
        if service:
            params["messaging_service_sid"] = service
        if message.status_callback:
            params["status_callback"] = message.status_callback

        try:
            resource = self._client.messages.create(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            error = self._error_from_reply(exc.status, exc.code)
            self._log_failure(message, error)
            # Not chained: Twilio's exception text quotes the recipient's number.
            raise error from None
        except requests.RequestException as exc:
            error = self._error_from_network(exc)
            self._log_failure(message, error)
            raise error from exc  # requests' text names only the URL, never the body

        result = SendResult(sid=str(resource.sid), status=str(resource.status))
        logger.info(
            "sms accepted sid=%s status=%s key=%s",
            result.sid,
            result.status,
            message.idempotency_key,
        )
        return result

    def _error_from_network(self, exc: requests.RequestException) -> SmsDeliveryError:
        if isinstance(exc, requests.Timeout):
            message = f"No reply from Twilio within {self.timeout:g} s"
        else:
            message = f"Could not reach Twilio ({type(exc).__name__})"
        # A read timeout or a dropped connection may come after Twilio queued the
        # message: a retry can then text the patient twice. A refused or timed-out
        # connect never reached Twilio.
        return SmsDeliveryError(message, permanent=False, maybe_sent=not _never_connected(exc))

    def _error_from_reply(self, status: int | None, code: int | None) -> SmsDeliveryError:
        # When Twilio's reply is not JSON (a proxy's HTML 502), the client puts the
        # HTTP status in `code`; that is not a Twilio code.
        if code is not None and code < 1000:
            code = None
        verdict = describe_twilio_error(code, status)
        retry_after = None
        if status == 429 or code == 20429:
            response = self._http_client.last_response if self._http_client else None
            if response is not None:
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
        return SmsDeliveryError(
            verdict.message,
            code=code,
            permanent=verdict.permanent,
            retry_after=retry_after,
            status=status,
        )

    @staticmethod
    def _log_failure(message: SmsMessage, error: SmsDeliveryError) -> None:
        logger.warning(
            "sms refused code=%s status=%s permanent=%s retry_after=%s key=%s",
            error.code,
            error.status,
            error.permanent,
            error.retry_after,
            message.idempotency_key,
        )
