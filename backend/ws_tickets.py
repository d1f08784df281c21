"""Single-use tickets for the websocket: no long-lived credential in a URL.

An API client cannot send headers with a browser-style websocket handshake, and a
token in the query string ends up in proxy access logs. So it first trades its token
for a ticket (``POST /api/v1/ws-tickets/``) and connects with ``?ticket=``: random (256
bits), valid ``WS_TICKET_TTL`` (30 s), bound to the user and to the Origin header of
the POST (none for a program: then the handshake must have none either), and consumed
by the handshake that presents it (Redis GETDEL: two handshakes racing with one ticket
cannot both get it).

Only a digest of the ticket is the Redis key. The entry also names the credential the
ticket was made with (the token's digest, or the session key), so the open feed can
end when that credential does. The expiry is kept in the entry as well as on the
key, so the 30 s hold with a clock a test moves.

Without Redis there is no ticket: making one raises ``TicketStoreUnavailable`` (the API
answers 503 naming the cause, with Retry-After: the feed itself needs Redis, the
channel layer, so a ticket could not be used anyway), and a ticket presented then is
refused (it cannot be checked, so nobody is let in on it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from backend.models import User
from backend.sliding_window import _client

logger = logging.getLogger(__name__)


class TicketStoreUnavailable(Exception):
    """Redis, where tickets live (and through which the feed runs), does not answer."""


@dataclass(frozen=True)
class Ticket:
    ticket: str
    expires_at: datetime


@dataclass(frozen=True)
class TicketHolder:
    """Who a consumed ticket lets in, and the credential it was made with."""

    user_id: int
    token_digest: str
    session_key: str


def _key(ticket: str) -> str:
    digest = hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{settings.CACHES['default']['KEY_PREFIX']}:ws-ticket:{digest}"


def ws_ticket_create(*, user: User, origin: str, token_digest: str = "", session_key: str = "") -> Ticket:
    ticket = secrets.token_urlsafe(32)
    expires_at = timezone.now() + settings.WS_TICKET_TTL
    entry = {
        "user": user.pk,
        "origin": origin,
        "expires": expires_at.timestamp(),
        "token": token_digest,
        "session": session_key,
    }
    ttl_ms = int(settings.WS_TICKET_TTL.total_seconds() * 1000)
    try:
        _client().set(_key(ticket), json.dumps(entry), px=ttl_ms)
    except (RedisError, OSError) as error:
        raise TicketStoreUnavailable(type(error).__name__) from error
    return Ticket(ticket=ticket, expires_at=expires_at)


def ws_ticket_consume(*, ticket: str, origin: str) -> TicketHolder | None:
    """The holder of a live ticket presented from the Origin it was made for; the
    ticket is used up whatever the answer (a wrong Origin does not leave it for a
    second try)."""
    if not ticket or len(ticket) > 100:
        return None
    try:
        raw = _client().getdel(_key(ticket))
    except (RedisError, OSError) as error:
        logger.warning("websocket ticket refused: Redis unavailable (%s)", type(error).__name__)
        return None
    if raw is None:
        return None
    entry = json.loads(raw)
    if entry["expires"] < timezone.now().timestamp() or entry["origin"] != origin:
        return None
    return TicketHolder(user_id=int(entry["user"]), token_digest=entry["token"], session_key=entry["session"])
