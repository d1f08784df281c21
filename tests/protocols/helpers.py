"""Folded into the kit (tests/factories.py). Kept only until tests/sms/test_recall_sms.py
(a change in progress) imports ``write_protocol`` from tests.factories: delete then."""

from __future__ import annotations

from tests.factories import DEFAULT_PROTOCOL_DIR as DEFAULT_DIR
from tests.factories import question, write_protocol

__all__ = ["DEFAULT_DIR", "question", "write_protocol"]
