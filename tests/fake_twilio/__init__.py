"""A fake Twilio REST API server for tests: see :mod:`tests.fake_twilio.server`."""

from tests.fake_twilio.server import FakeTwilio

__all__ = ["FakeTwilio"]
