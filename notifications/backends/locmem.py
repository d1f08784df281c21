"""In-memory backend for tests: keeps every accepted message in ``outbox``.

Like ``django.core.mail.outbox``: tests assert on ``locmem.outbox`` and empty it
between tests (``locmem.reset()``). To exercise retry and failure paths, script the
next sends to fail::

    LocmemBackend.fail_next(SmsDeliveryError("Twilio is down", permanent=False))

Each scripted error is raised by one ``send`` call, in order, and that message is
not added to the outbox (the provider did not take it).
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from typing import ClassVar

from notifications.backends.base import (
    BaseSmsBackend,
    SendResult,
    SmsDeliveryError,
    SmsMessage,
)

__all__ = ["LocmemBackend", "outbox", "reset"]

# Module-level, like django.core.mail.outbox, so a test sees what any backend
# instance (created deep inside a service or task) sent.
outbox: list[SmsMessage] = []
# Sids handed out, parallel to outbox, so tests can match status callbacks.
sent_sids: list[str] = []

_lock = threading.Lock()


class LocmemBackend(BaseSmsBackend):
    """Keeps messages in :data:`outbox`; can be told to fail the next sends."""

    # Errors to raise on the next sends, shared by all instances (tests script the
    # class; the code under test builds its own instance).
    _failures: ClassVar[deque[SmsDeliveryError]] = deque()

    @classmethod
    def fail_next(cls, *errors: SmsDeliveryError) -> None:
        """Make the next ``len(errors)`` sends raise these errors, in order."""
        with _lock:
            cls._failures.extend(errors)

    @classmethod
    def pending_failures(cls) -> int:
        with _lock:
            return len(cls._failures)

    def send(self, message: SmsMessage) -> SendResult:
        with _lock:
            if self._failures:
                raise self._failures.popleft()
            sid = f"LOCMEM-{uuid.uuid4().hex}"
            outbox.append(message)
            sent_sids.append(sid)
        return SendResult(sid=sid, status="queued")


def reset() -> None:
    """Empty the outbox and drop scripted failures (call between tests)."""
    with _lock:
        outbox.clear()
        sent_sids.clear()
        LocmemBackend._failures.clear()
