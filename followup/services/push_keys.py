"""The server's VAPID key pair for Web Push (RFC 8292).

Production sets ``VAPID_PRIVATE_KEY`` (the PEM, or the raw key in base64url, as
``vapid --gen`` writes it); the embedded default generates one into the data folder
the first time it is needed and keeps it, as the launcher does for SECRET_KEY, so the
browsers' subscriptions survive restarts. A new key would orphan every subscription."""

from __future__ import annotations

import base64
import functools
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from py_vapid import Vapid02


def _key_file() -> Path:
    return Path(settings.DATA_DIR) / "vapid_private.pem"


def _generated_pem() -> str:
    path = _key_file()
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.write_bytes(pem)
        path.chmod(0o600)
    return path.read_text()


@functools.cache
def vapid_key() -> Vapid02:
    configured = getattr(settings, "VAPID_PRIVATE_KEY", "")
    text = configured or _generated_pem()
    if "BEGIN" in text:
        return Vapid02.from_pem(text.encode())
    return Vapid02.from_string(private_key=text)


def vapid_public_key() -> str:
    """The application server key a browser subscribes with (uncompressed point, base64url)."""
    raw = vapid_key().public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
