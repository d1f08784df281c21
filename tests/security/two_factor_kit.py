"""Helpers of the staff sign-in tests: an authenticator's current code (computed as the
app on a phone would, from the device's secret and the clock), a confirmed
authenticator with its recovery codes, and signing in through the pages."""

from __future__ import annotations

from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.models import User
from backend.two_factor import recovery_codes_create
from tests.factories import PASSWORD


def code_of(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """What the app shows now (or ``steps_ahead`` 30-second steps later)."""
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead)
    return f"{value:0{device.digits}d}"


def authenticator_create(user: User) -> tuple[TOTPDevice, list[str]]:
    """A confirmed authenticator and ten recovery codes, as the enrolment leaves them."""
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    return device, recovery_codes_create(user)


def sign_in(client: Client, user: User, code: str, *, password: str = PASSWORD) -> None:
    """Both steps of the sign-in pages; asserts that they end signed in."""
    first = client.post("/login/", {"username": user.username, "password": password})
    assert first.status_code == 302 and first["Location"] == "/login/code/", first
    second = client.post("/login/code/", {"code": code})
    assert second.status_code == 302 and "/login" not in second["Location"], second.content
    assert client.session.get("_auth_user_id") == str(user.pk)
