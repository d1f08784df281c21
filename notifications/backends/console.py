"""Console backend: prints each SMS instead of sending it (development, demos).

The embedded default when no Twilio credentials are set. It prints the number and
the body on purpose: it is for a developer's terminal, never for production logs.
"""

from __future__ import annotations

import sys
import threading
import uuid
from typing import TextIO

from notifications.backends.base import BaseSmsBackend, SendResult, SmsMessage

__all__ = ["ConsoleBackend"]


class ConsoleBackend(BaseSmsBackend):
    """Writes a readable block per message to ``stream`` (default: ``sys.stdout``)."""

    def __init__(self, *, stream: TextIO | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        # Resolve sys.stdout at construction, not import, so pytest's capture works.
        self.stream = stream if stream is not None else sys.stdout
        # One lock per backend, like Django's console email backend: blocks written
        # by threads sharing this backend never interleave.
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> SendResult:
        sid = f"CONSOLE-{uuid.uuid4().hex}"
        lines = [
            f"SMS {sid}",
            f"To: {message.to}",
            f"Idempotency-Key: {message.idempotency_key}",
        ]
        if message.status_callback:
            lines.append(f"Status-Callback: {message.status_callback}")
        block = "\n".join([*lines, "", message.body, "-" * 79, ""])
        with self._lock:
            self.stream.write(block)
            self.stream.flush()
        return SendResult(sid=sid, status="queued")
