"""The live alert feed at /ws/alerts/ (API.md, "Real time").

A doorway: it checks who is connecting and from where, joins the clinic's group and
hands out stored events in `seq` order. What it sends comes from the database or from a
fan-out of a row already committed (notifications.events), never from anywhere else.

Who may connect
- Staff of a clinic only, never with a long-lived credential in the URL (proxies log
  URLs): a staff page by its session cookie (signed in with both factors while
  two-factor sign-in is on, and not idle past the clinic's time); an API client by
  `?ticket=` from `POST /api/v1/ws-tickets/` (backend.ws_tickets: single use, 30 s,
  bound to the user and to the Origin of that POST). `?token=` is refused, as are a
  patient, an unknown, used or expired ticket, and no credentials at all: all in the
  handshake (daphne answers HTTP 403).
- Origin: a browser always sends one, and a foreign one is refused — that is what stops
  another site's page from opening the feed with a signed-in surgeon's cookie. The
  allowed origins are ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS. A request without an
  Origin header comes from a program, not a browser (browsers cannot omit it), so it
  cannot be carrying someone's cookie by accident: it is accepted with a ticket made
  without an Origin, and refused with a session cookie alone.

What it sends
- `?since=<seq>`: first every stored event of the clinic after that seq, in order, then
  live ones. The consumer joins the group before reading the database, and each live
  event at or below the position already handed out is dropped, so the seam has no gap
  and no repeat. Without `since` the feed starts now.
- A live event right after the position is sent as it came; any other (a gap: another
  clinic's events, a message the channel layer dropped, a fan-out overtaken by a later
  commit) makes the consumer read the database up to it (notifications.event_feed), so
  the database decides the order. A timer does the same every SWEEP_SECONDS, so an
  event whose fan-out was lost still arrives. The same timer re-checks the
  credentials: a revoked token (the one the ticket was made with), a signed-out or
  idle session or a deactivated account closes the feed (code 4401).
- Slow clients: frames wait in a bounded queue for the client. Replays wait for room;
  live events do not: a client so far behind that MAX_BACKLOG frames are waiting is
  closed (code 4008) and its dashboard reconnects with `?since=`. (daphne buffers
  writes itself and does not push back, so there the channel layer's per-channel
  capacity is what bounds a consumer that falls behind; what overflows is recovered
  from the database.)
- Client frames: `{"type": "ping"}` is answered `{"seq": null, "type": "pong", "data":
  {}}` (lets a page notice a dead connection); anything else gets an error frame
  `{"seq": null, "type": "error", "data": {"detail": ...}}` and the connection stays.
"""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db.models import Max
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from knox.models import AuthToken

from backend.audit import audit_record
from backend.models import AuditAction, User
from backend.session_guard import session_idle_expired
from backend.two_factor import two_factor_required
from backend.ws_tickets import ws_ticket_consume
from notifications.event_feed import FeedCursor, feed_position_now
from notifications.events import clinic_group
from notifications.models import Event

logger = logging.getLogger(__name__)

# Close codes (4000-4999 are the application's own).
CLOSE_BAD_REQUEST = 4400
CLOSE_TOO_SLOW = 4008
CLOSE_CREDENTIALS_GONE = 4401


def allowed_origin_patterns() -> list[str]:
    """ALLOWED_HOSTS (host names, any scheme) and CSRF_TRUSTED_ORIGINS (scheme://host),
    in the pattern language of channels' OriginValidator ("*." becomes ".")."""
    patterns = list(settings.ALLOWED_HOSTS)
    patterns += [origin.replace("://*.", "://.") for origin in settings.CSRF_TRUSTED_ORIGINS]
    return patterns


def origin_status(scope: dict[str, Any]) -> str:
    """'allowed', 'missing' (no Origin header: not a browser) or 'foreign'."""
    values = [value for name, value in scope.get("headers", []) if name == b"origin"]
    if not values:
        return "missing"
    try:
        parsed = urlparse(values[0].decode("latin1"))
    except (UnicodeDecodeError, ValueError):
        return "foreign"
    validator = OriginValidator(None, allowed_origin_patterns())
    return "allowed" if validator.validate_origin(parsed) else "foreign"


def _origin_header(scope: dict[str, Any]) -> str:
    values = [value for name, value in scope.get("headers", []) if name == b"origin"]
    return values[0].decode("latin1") if values else ""


def staff_from_ticket(ticket: str, origin: str) -> tuple[User, dict[str, Any]] | None:
    """The staff user a ticket was made for (it is used up here), with the credential
    it was made with, re-checked by the sweep."""
    holder = ws_ticket_consume(ticket=ticket, origin=origin)
    if holder is None:
        return None
    user = User.objects.select_related("clinic").filter(pk=holder.user_id).first()
    if user is None or not user.is_clinic_staff:
        return None
    return user, {"token_digest": holder.token_digest, "session_key": holder.session_key or None}


def staff_from_session(scope: dict[str, Any]) -> User | None:
    """The session's staff user, if the session passed both factors (when required)
    and is not idle past the clinic's time."""
    user = scope.get("user")
    session = scope.get("session")
    if user is None or not user.is_authenticated or session is None or not user.is_clinic_staff:
        return None
    if two_factor_required(user) and not _session_verified(session, user):
        return None
    if session_idle_expired(session, user):
        return None
    return user  # type: ignore[no-any-return]


def _session_verified(session: Any, user: User) -> bool:
    device_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(device_id) if device_id else None
    return device is not None and device.user_id == user.pk and device.confirmed


def credentials_still_valid(*, user_id: int, clinic_id: int, token_digest: str, session_key: str | None) -> bool:
    """Re-checked every SWEEP_SECONDS: a revoked or expired token, a signed-out or idle
    session, a deactivated account or a move to another clinic ends the feed (H12)."""
    user = User.objects.select_related("clinic").filter(pk=user_id).first()
    if user is None or not user.is_clinic_staff or user.clinic_id != clinic_id:
        return False
    if token_digest:
        return AuthToken.objects.filter(digest=token_digest, user_id=user_id, expiry__gt=timezone.now()).exists()
    if not session_key:
        return False
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return str(session.get(SESSION_KEY)) == str(user_id) and not session_idle_expired(session, user)


def _feed_open(*, user: User, since: int | None) -> FeedCursor:
    """The reader for a new connection; the subscription is audited (what it then
    carries is the clinic's alert queue, which the alert rows reconstruct)."""
    if since is None:
        position = feed_position_now()
    else:
        # A since beyond the newest event comes from a client that saw another
        # database (a restore): it gets everything from now on rather than nothing.
        newest = Event.objects.aggregate(newest=Max("seq"))["newest"] or 0
        position = min(since, newest)
    audit_record(
        actor=user,
        action=AuditAction.READ,
        object_type="alert_feed",
        objects=[("" if since is None else since, None)],
        clinic_id=user.clinic_id,
    )
    return FeedCursor(clinic_id=user.clinic_id, position=position)  # type: ignore[arg-type]


class AlertFeedConsumer(AsyncWebsocketConsumer):
    MAX_BACKLOG = 1000
    REPLAY_BATCH = 500
    SWEEP_SECONDS = 15.0
    # Back-off while a hole may still be filled by a transaction in flight.
    PENDING_RETRY_SECONDS = (0.01, 0.02, 0.05, 0.1, 0.2)

    cursor: FeedCursor | None = None

    async def connect(self) -> None:
        self.cursor = None
        self._lock = asyncio.Lock()
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=self.MAX_BACKLOG)
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._group: str | None = None

        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        ticket = (query.get("ticket") or [""])[0]
        origin = origin_status(self.scope)
        # A long-lived credential in a URL is refused even when it is valid.
        if "token" in query or origin == "foreign" or (origin == "missing" and not ticket):
            await self.close()
            return
        if ticket:
            found = await database_sync_to_async(staff_from_ticket)(ticket, _origin_header(self.scope))
            user, credential = found if found is not None else (None, {})
        else:
            user = await database_sync_to_async(staff_from_session)(self.scope)
            session = self.scope.get("session")
            credential = {"token_digest": "", "session_key": None if session is None else session.session_key}
        if user is None:
            await self.close()
            return
        self._credentials = {"user_id": user.pk, "clinic_id": user.clinic_id, **credential}

        since_text = (query.get("since") or [None])[0]
        since: int | None = None
        if since_text is not None:
            if not (since_text.isascii() and since_text.isdigit()) or len(since_text) > 18:
                await self.accept()
                await self.send(text_data=_frame("error", {"detail": "since must be a non-negative integer seq."}))
                await self.close(code=CLOSE_BAD_REQUEST)
                return
            since = int(since_text)

        # Join first, then read: a live event raised meanwhile waits in the channel
        # layer and is dropped or sent after the replay by its seq.
        self._group = clinic_group(user.clinic_id)  # type: ignore[arg-type]
        await self.channel_layer.group_add(self._group, self.channel_name)
        self.cursor = await database_sync_to_async(_feed_open)(user=user, since=since)
        await self.accept()
        self._tasks.append(asyncio.ensure_future(self._write_loop()))
        self._tasks.append(asyncio.ensure_future(self._sweep_loop()))
        if since is not None:
            await self._catch_up(wait_for_room=True)

    async def disconnect(self, code: int) -> None:
        self._closing = True
        for task in getattr(self, "_tasks", []):
            task.cancel()
        if getattr(self, "_group", None):
            await self.channel_layer.group_discard(self._group, self.channel_name)

    # --- client frames ---------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self._reply("error", {"detail": "Send JSON text frames."})
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self._reply("error", {"detail": "Not JSON."})
            return
        if isinstance(message, dict) and message.get("type") == "ping":
            await self._reply("pong", {})
            return
        await self._reply("error", {"detail": 'The only message a client sends is {"type": "ping"}.'})

    async def _reply(self, type_: str, data: dict[str, Any]) -> None:
        if self.cursor is not None:
            await self._outbox.put(_frame(type_, data))

    # --- events --------------------------------------------------------------------------

    async def vigil_event(self, message: dict[str, Any]) -> None:
        """A committed event fanned out to the clinic's group."""
        if self.cursor is None or self._closing:
            return
        event = message["event"]
        async with self._lock:
            seq = int(event["seq"])
            if seq <= self.cursor.position:
                return  # already handed out (replay, database read) or older than the feed
            if seq == self.cursor.position + 1:
                self.cursor.position = seq
                self._send_live(json.dumps(event))
                return
        await self._catch_up(wait_for_room=False)

    def _send_live(self, text: str) -> None:
        try:
            self._outbox.put_nowait(text)
        except asyncio.QueueFull:
            if not self._closing:
                self._closing = True
                logger.info("alert feed: closing a client %s frames behind", self.MAX_BACKLOG)
                self._shutting = asyncio.ensure_future(self._shut(code=CLOSE_TOO_SLOW))

    async def _shut(self, *, code: int) -> None:
        """Close from our side: stop the writer and the timer (other than the caller)
        at once, rather than when the server reports the disconnect."""
        self._closing = True
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        await self.close(code=code)

    async def _catch_up(self, *, wait_for_room: bool) -> None:
        """Hand out what the database holds after the position, in order."""
        retries = iter(self.PENDING_RETRY_SECONDS)
        async with self._lock:
            assert self.cursor is not None
            while not self._closing:
                batch = await database_sync_to_async(self.cursor.read, thread_sensitive=False)(limit=self.REPLAY_BATCH)
                for event in batch.events:
                    text = json.dumps(event)
                    if wait_for_room:
                        await self._outbox.put(text)
                    else:
                        self._send_live(text)
                if batch.more:
                    continue
                if not batch.pending:
                    return
                # Something after a hole is committed; the hole may still be filled.
                await asyncio.sleep(next(retries, self.PENDING_RETRY_SECONDS[-1]))

    async def _write_loop(self) -> None:
        while True:
            text = await self._outbox.get()
            await self.send(text_data=text)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.SWEEP_SECONDS)
            valid = await database_sync_to_async(credentials_still_valid, thread_sensitive=False)(**self._credentials)
            if not valid:
                await self._shut(code=CLOSE_CREDENTIALS_GONE)
                return
            await self._catch_up(wait_for_room=False)


def _frame(type_: str, data: dict[str, Any]) -> str:
    """A frame that is not an event keeps the same three keys, with no seq."""
    return json.dumps({"seq": None, "type": type_, "data": data})
