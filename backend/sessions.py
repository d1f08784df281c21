"""A staff member's own sessions and API tokens: listed, and ended one by one.

Browser sessions live in Django's session store, which cannot be searched by user, so
a sign-in records its session here (``SignedInSession``); ending one deletes the
stored session itself, which signs that browser out at its next request (and closes
its dashboard feed at the next credential check). API tokens are knox's rows; each is
named by the start of its digest (a hash: nothing that could sign anyone in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.http import HttpRequest
from django.utils import timezone
from knox.models import AuthToken

from backend.audit import AuditContext, audit_record, client_address
from backend.models import AuditAction, SignedInSession, User

TOKEN_ID_LENGTH = 16
# How often a request refreshes ``last_seen_at`` (a write per request would be waste).
SEEN_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenRow:
    id: str
    created_at: datetime
    expires_at: datetime | None
    current: bool


def signed_in_session_record(*, request: HttpRequest, user: User) -> None:
    """Called by the sign-in once the session key is final."""
    key = request.session.session_key
    if not key:
        request.session.save()
        key = request.session.session_key
    SignedInSession.objects.update_or_create(
        session_key=key,
        defaults={
            "user": user,
            "last_seen_at": timezone.now(),
            "ip_address": client_address(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200],
        },
    )


def signed_in_session_seen(*, session_key: str | None) -> None:
    """A request of this session (the idle guard calls it at most every SEEN_EVERY)."""
    if session_key:
        SignedInSession.objects.filter(session_key=session_key).update(last_seen_at=timezone.now())


def signed_in_session_list(*, user: User) -> list[SignedInSession]:
    """The user's sessions that still exist (an expired or signed-out one is gone from
    the session store; its row is dropped here)."""
    rows = list(SignedInSession.objects.filter(user=user))
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db":
        alive = set(
            Session.objects.filter(
                session_key__in=[row.session_key for row in rows], expire_date__gt=timezone.now()
            ).values_list("session_key", flat=True)
        )
        gone = [row.pk for row in rows if row.session_key not in alive]
        SignedInSession.objects.filter(pk__in=gone).delete()
        rows = [row for row in rows if row.session_key in alive]
    return rows


def signed_in_session_end(*, user: User, session_id: int, audit: AuditContext | None) -> bool:
    """End one of the user's own sessions; False if it is not theirs (or gone)."""
    row = SignedInSession.objects.filter(user=user, pk=session_id).first()
    if row is None:
        return False
    import_module(settings.SESSION_ENGINE).SessionStore(row.session_key).delete()
    row.delete()
    audit_record(
        actor=user,
        action=AuditAction.DELETE,
        object_type="session",
        objects=[(session_id, None)],
        clinic_id=user.clinic_id,
        audit=audit,
    )
    return True


def token_id(token: AuthToken) -> str:
    return str(token.digest[:TOKEN_ID_LENGTH])


def token_list(*, user: User, current: AuthToken | None) -> list[TokenRow]:
    now = timezone.now()
    tokens = AuthToken.objects.filter(user=user).order_by("-created")
    current_digest = getattr(current, "digest", None)
    return [
        TokenRow(
            id=token_id(token),
            created_at=token.created,
            expires_at=token.expiry,
            current=token.digest == current_digest,
        )
        for token in tokens
        if token.expiry is None or token.expiry > now
    ]


def token_end(*, user: User, token_id_: str, audit: AuditContext | None) -> bool:
    """Revoke one of the user's own tokens (its cache entry goes with it: the
    post_delete receiver of ``backend.token_auth``)."""
    if len(token_id_) != TOKEN_ID_LENGTH:
        return False
    token = AuthToken.objects.filter(user=user, digest__startswith=token_id_).first()
    if token is None:
        return False
    token.delete()
    audit_record(
        actor=user,
        action=AuditAction.DELETE,
        object_type="api_token",
        objects=[(token_id_, None)],
        clinic_id=user.clinic_id,
        audit=audit,
    )
    return True
