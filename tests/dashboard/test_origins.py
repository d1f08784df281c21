"""Which Origin the alert feed accepts: the site's own hosts and trusted origins, no
other site (a browser always sends one; a program may send none)."""

from __future__ import annotations

import pytest

from notifications.consumers import origin_status


def scope_with(origin: bytes | None) -> dict:
    return {"headers": [(b"origin", origin)] if origin is not None else []}


@pytest.mark.parametrize(
    ("origin", "verdict"),
    [
        (b"http://localhost:8000", "allowed"),
        (b"http://127.0.0.1:54321", "allowed"),
        (b"https://vigil.example.org", "allowed"),
        (b"https://ward.clinic.example.net", "allowed"),
        (b"https://clinic.example.net.evil.test", "foreign"),
        (b"https://evil.example.com", "foreign"),
        (b"null", "foreign"),
        (None, "missing"),
    ],
)
def test_it_accepts_the_sites_own_origins_only(settings, origin, verdict):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://vigil.example.org", "https://*.clinic.example.net"]
    assert origin_status(scope_with(origin)) == verdict
