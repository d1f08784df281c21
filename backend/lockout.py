"""Lock-out of staff sign-in after repeated failures, per account and per address.

A failed password and a failed second-factor code both count. ``LOCKOUT_ACCOUNT_FAILURES``
failures of one account (or ``LOCKOUT_ADDRESS_FAILURES`` from one address) within
``LOCKOUT_WINDOW`` lock it until the oldest of them leaves the window; the clinic admin
can lift an account's lock at once (``lockout_clear``). A full sign-in clears the
account's count (not the address's: one good account must not launder the guesses made
from that address against others).

Each subject keeps a sorted set of its failures in Redis (the project's, with the
cache's key prefix, like ``backend.sliding_window``), scored with Django's clock rather
than Redis' so that a test can move time with time-machine. The prune-and-count runs
as one Lua step, so parallel guesses on many workers all see every failure counted
before them. Chosen over DRF's throttles, which limit requests whatever their outcome:
here only failures count, and a lock is lifted by a person, not only by time.

Subjects are digests, never the typed text: a password typed into the username field
must not end up in Redis.

Without Redis (down, or not answering within the client's 1 s timeout) the lock-out
still holds: the failures are counted from the audit trail instead, which has a row
for every attempt already (``backend.sign_in``), in the same window and with the same
limits (H1: an outage turns no request into a 500, and it must not open the door to a
guesser either). An account's failures count from its last full sign-in, admin unlock
or two-factor reset, as a cleared Redis log would; an address's are its failed rows.
A failure in an outage is counted in the audit trail only (no double counting when
Redis is back: its log simply lacks the outage's failures). A clear that happened in
an outage (a sign-in, an unlock) still holds once Redis is back: an account's Redis
failures count only from its last clearing audit row.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from backend.lockout_fallback import account_cleared_at, audit_failures
from backend.sliding_window import _client

logger = logging.getLogger(__name__)

# KEYS: the failure log. ARGV: now (ms), window (ms), new member or "" to only count,
# count from (ms, inclusive: in doubt a failure counts; "-inf" for all). Returns the number of failures in the
# window after "count from" (after adding the new one), and the oldest one's time.
_COUNT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
end
local from = ARGV[4]
local count = redis.call('ZCOUNT', KEYS[1], from, '+inf')
local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
local oldest_ms = 0
if oldest[2] then oldest_ms = tonumber(oldest[2]) end
return {count, oldest_ms}
"""


def _digest(text: str) -> str:
    return hashlib.sha256(text.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]


def account_subject(username: str) -> str:
    """The account's lock key: its username as the user typed it, normalised."""
    return f"account:{_digest(username)}"


def address_subject(address: str | None) -> str:
    return f"address:{_digest(address or 'unknown')}"


def _key(subject: str) -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:sign-in-failures:{subject}"


def _now_ms() -> int:
    return int(timezone.now().timestamp() * 1000)


def _window_ms() -> int:
    return int(settings.LOCKOUT_WINDOW.total_seconds() * 1000)


def _limit(subject: str) -> int:
    if subject.startswith("address:"):
        return int(settings.LOCKOUT_ADDRESS_FAILURES)
    return int(settings.LOCKOUT_ACCOUNT_FAILURES)


@dataclass(frozen=True)
class Lock:
    """Why sign-in is refused now: which subject and for how many more seconds."""

    subject: str
    retry_after: int


def _run(subject: str, member: str, *, username: str, address: str | None) -> tuple[int, int]:
    """(failures in the window, the oldest one's time in ms), from Redis, or from the
    audit trail when Redis does not answer (then ``member`` counts as one more: its
    audit row is written just after)."""
    by_account = subject.startswith("account:")
    try:
        count, oldest_ms = _client().eval(
            _COUNT, 1, _key(subject), _now_ms(), _window_ms(), member, _count_from(username) if by_account else "-inf"
        )
    except (RedisError, OSError) as error:
        logger.warning(
            "sign-in lock-out: Redis unavailable (%s), counting failures from the audit trail", type(error).__name__
        )
        count, oldest = audit_failures(
            username=username if by_account else None,
            address=None if by_account else address,
            since=timezone.now() - settings.LOCKOUT_WINDOW,
        )
        if member:
            count += 1
        now_ms = _now_ms()
        return count, int(oldest.timestamp() * 1000) if oldest is not None else now_ms
    return int(count), int(oldest_ms)


def _count_from(username: str) -> str:
    """An account's failures count from its last full sign-in, unlock or reset, as the
    audit trail has it: that clear may have happened while Redis was away, and the
    failures Redis kept from before it must not lock the account again once it is back."""
    cleared = account_cleared_at(username=username)
    return str(int(cleared.timestamp() * 1000)) if cleared is not None else "-inf"


def _subjects(username: str, address: str | None) -> tuple[str, str]:
    return account_subject(username), address_subject(address)


def _lock_of(subject: str, count: int, oldest_ms: int) -> Lock | None:
    if count < _limit(subject):
        return None
    retry_ms = oldest_ms + _window_ms() - _now_ms()
    return Lock(subject=subject, retry_after=max(1, -(-retry_ms // 1000)))


def lockout_check(*, username: str, address: str | None) -> Lock | None:
    """The lock in force on this account or address, if any (checked before the
    password is even looked at, so a locked account tells a guesser nothing)."""
    for subject in _subjects(username, address):
        lock = _lock_of(subject, *_run(subject, "", username=username, address=address))
        if lock is not None:
            return lock
    return None


def lockout_failure_record(*, username: str, address: str | None) -> Lock | None:
    """Count one failed password or code; returns the lock this failure set, if any."""
    lock: Lock | None = None
    for subject in _subjects(username, address):
        lock = lock or _lock_of(subject, *_run(subject, secrets.token_hex(8), username=username, address=address))
    return lock


def lockout_clear(*, username: str) -> None:
    """A full sign-in, or the clinic admin unlocking the account. Without Redis the
    audit row of the sign-in (or unlock) is what clears the count (see above)."""
    try:
        _client().delete(_key(account_subject(username)))
    except (RedisError, OSError) as error:
        logger.warning("sign-in lock-out: Redis unavailable (%s), clear left to the audit trail", type(error).__name__)


def lockout_is_locked(*, username: str) -> bool:
    """For the admin's page: is this account locked now?"""
    subject = account_subject(username)
    return _lock_of(subject, *_run(subject, "", username=username, address=None)) is not None
