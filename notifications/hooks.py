"""Where delivery calls back into the clinical side, by names in settings.

``notifications`` imports nothing from ``followup`` (the dependency goes one way), yet
three things delivery learns need clinical judgement: an inbound SMS arrived (what does
it mean?), an inbound SMS could not be handled (who must read it?) and a message cannot
reach its patient (who must phone them?). Each is a dotted path in settings, resolved
once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


@cache
def _hook(setting: str) -> Callable[..., Any]:
    hook: Callable[..., Any] = import_string(getattr(settings, setting))
    return hook


def inbound_route(**kwargs: Any) -> str:
    """``VIGIL_SMS_INBOUND_ROUTER(inbound=, sender=, body=)``: how the message was handled."""
    handled_as: str = _hook("VIGIL_SMS_INBOUND_ROUTER")(**kwargs)
    return handled_as


def inbound_unhandled(**kwargs: Any) -> bool:
    """``VIGIL_SMS_INBOUND_FAILED_HANDLER(inbound=)``: a message whose handling failed
    every try is put before staff (H16); whether anyone was told."""
    told: bool = _hook("VIGIL_SMS_INBOUND_FAILED_HANDLER")(**kwargs)
    return told


def message_undeliverable(**kwargs: Any) -> None:
    """``VIGIL_SMS_UNDELIVERABLE_HANDLER(message=, code=, reason=)``: tell staff (H11)."""
    _hook("VIGIL_SMS_UNDELIVERABLE_HANDLER")(**kwargs)
