"""The base every SMS backend stands on, modelled on Django's email backends.

To add a backend, subclass :class:`BaseSmsBackend`, implement :meth:`send`, and
override :meth:`open` / :meth:`close` if it holds a connection. Point
``settings.SMS_BACKEND`` at the class by its dotted path.

A backend sends one message per :meth:`send` call and never retries: the outbox
decides, from :class:`SmsDeliveryError`, whether and when to try again.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Self

__all__ = ["BaseSmsBackend", "SendResult", "SmsDeliveryError", "SmsMessage"]


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """One outgoing SMS.

    ``to`` is in E.164 (``+905301234567``). ``idempotency_key`` names the outbox row
    the message came from; it is what logs and errors mention instead of the number
    or the body (both are PHI). ``status_callback`` is the URL Twilio reports
    delivery status to; ``from_number`` / ``messaging_service_sid`` who sends it.
    """

    to: str
    body: str
    idempotency_key: str
    status_callback: str | None = None
    # The sender chosen when the message was queued (a clinic's sending identity):
    # a number in E.164, or a Twilio Messaging Service SID. Both empty: the backend's
    # own configuration (the installation's number).
    from_number: str = ""
    messaging_service_sid: str = ""

    def __repr__(self) -> str:
        # Keep the number and the body out of reprs: they end up in tracebacks and
        # task-queue logs.
        return f"SmsMessage(idempotency_key={self.idempotency_key!r})"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider said when it took the message: its id and first status."""

    sid: str
    status: str


class SmsDeliveryError(Exception):
    """The provider did not take the message.

    - ``message``: readable, free of PHI (no number, no body), fit to store on the
      message row and show to staff.
    - ``code``: the provider's error code (Twilio's, e.g. 21211), if it gave one.
    - ``permanent``: retrying the same message cannot help (invalid number, patient
      unsubscribed, our configuration); otherwise it is worth another try later.
    - ``retry_after``: seconds the provider asked us to wait (HTTP 429 Retry-After).
    - ``status``: the HTTP status of the provider's reply, if there was one.
    - ``maybe_sent``: the request may have reached the provider before the failure
      (a read timeout, a dropped connection), so a retry may text the patient twice.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        permanent: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status
        self.maybe_sent = maybe_sent

    def __repr__(self) -> str:
        return (
            f"SmsDeliveryError({self.message!r}, code={self.code!r}, "
            f"permanent={self.permanent!r}, retry_after={self.retry_after!r})"
        )


class BaseSmsBackend:
    """Base class for SMS backends.

    Subclasses must implement :meth:`send`. Used as a context manager, a backend is
    opened once for a batch, so the batch shares one connection::

        with get_sms_backend() as backend:
            for message in messages:
                backend.send(message)

    Outside a ``with`` block, :meth:`send` opens and closes a connection itself
    when the backend needs one. Instances are not shared between threads.
    """

    def __init__(self, **kwargs: object) -> None:
        # Accept and ignore unknown keyword arguments, like Django's email backends,
        # so get_sms_backend() can pass options a particular backend doesn't use.
        pass

    def open(self) -> bool:
        """Open a connection if the backend uses one; return True if it opened a new one."""
        return False

    def close(self) -> None:
        """Close the connection opened by :meth:`open`, if any."""

    def __enter__(self) -> Self:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, message: SmsMessage) -> SendResult:
        """Hand one message to the provider; raise :class:`SmsDeliveryError` if it refuses."""
        raise NotImplementedError("subclasses of BaseSmsBackend must override send()")
