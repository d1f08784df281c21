"""The delivery tests run with the kit's SMS settings (tests/conftest.py ``sms_settings``):
webhooks signed with the fake Twilio's token, sends to the in-memory backend."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _sms_settings(sms_settings: None) -> None:
    pass
