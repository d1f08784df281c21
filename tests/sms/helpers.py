"""Folded into the kit (tests/factories.py). Kept only until tests/sms/test_recall_sms.py
(a change in progress) imports ``last_outbound`` from tests.factories: delete then."""

from __future__ import annotations

from tests.factories import PUBLIC_BASE_URL, SMS_PATH, STATUS_PATH, Webhooks, last_outbound, outbound

__all__ = ["PUBLIC_BASE_URL", "SMS_PATH", "STATUS_PATH", "Webhooks", "last_outbound", "outbound"]
