"""SMS backends, chosen by ``settings.SMS_BACKEND`` like Django's email backends.

- ``notifications.backends.twilio.TwilioBackend``: Twilio's REST API (production).
- ``notifications.backends.console.ConsoleBackend``: prints (development default).
- ``notifications.backends.locmem.LocmemBackend``: keeps an in-memory outbox (tests).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from notifications.backends.base import (
    BaseSmsBackend,
    SendResult,
    SmsDeliveryError,
    SmsMessage,
)

__all__ = [
    "BaseSmsBackend",
    "SendResult",
    "SmsDeliveryError",
    "SmsMessage",
    "get_sms_backend",
]


def get_sms_backend(path: str | None = None, **kwargs: Any) -> BaseSmsBackend:
    """Build the SMS backend at dotted ``path`` (default: ``settings.SMS_BACKEND``).

    Like ``django.core.mail.get_connection``: settings are read here, when called,
    never at import, and ``kwargs`` go to the backend's constructor.
    """
    if path is None:
        path = getattr(settings, "SMS_BACKEND", None)
        if not path:
            # No silent fallback: a clinic that thinks it texts patients while the
            # console swallows the messages is worse than a crash at start.
            raise ImproperlyConfigured("SMS_BACKEND is not set")
    backend_class = import_string(path)
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseSmsBackend)):
        raise ImproperlyConfigured(f"{path} is not a BaseSmsBackend subclass")
    backend: BaseSmsBackend = backend_class(**kwargs)
    return backend
