"""Send rate per sending number, shared by every worker process (Redis).

A long-code number sends about one SMS a second; past that Twilio queues and then
refuses (error 21611, 30001), and carriers filter bursts. Each worker reserves a slot
on the number's schedule before it sends, with the generic cell rate algorithm
(GCRA): one Redis key per number holds the "theoretical arrival time" of the next
free slot, and a Lua script moves it forward atomically, so N workers on M machines
together keep to the rate. Redis' own clock is used, so the workers' clocks need not
agree.

A worker that would have to wait longer than ``max_wait`` gets no slot: it puts the
message back for later instead of sleeping while holding it.

With a Messaging Service and no single sending number, Twilio spreads messages over
the service's numbers and queues them itself: no limit is applied here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import redis
from django.conf import settings

# KEYS[1]: the number's key. ARGV: interval (µs), burst tolerance (µs), max wait (µs).
# Returns the wait in µs for a reserved slot (0: send now), or -wait when the slot is
# further away than max wait (nothing reserved).
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if wait > max_wait then return -wait end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return wait
"""

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _key(number: str) -> str:
    # The cache's prefix: one installation (or test run) never shares another's slots.
    return f"{settings.CACHES['default']['KEY_PREFIX']}:sms-rate:{number}"


def _client() -> redis.Redis:
    url = settings.REDIS_URL
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url)
            _clients[url] = client
        return client


@dataclass(frozen=True)
class Reservation:
    """``granted``: send after sleeping ``wait`` seconds. Otherwise try again in ``wait``."""

    granted: bool
    wait: float


def sending_number(*, from_number: str = "", messaging_service_sid: str = "") -> str | None:
    """The number a message's rate applies to, or None when there is no per-number
    limit. A message names its sender (its clinic's identity); one that names none goes
    from the installation's ``TWILIO_FROM_NUMBER``."""
    if settings.SMS_RATE_PER_SECOND <= 0:
        return None
    if not from_number and not messaging_service_sid:
        from_number = settings.TWILIO_FROM_NUMBER
    # Only a Messaging Service (its own pool and queue), or no Twilio sender at all
    # (console and test backends): nothing to pace.
    return from_number or None


def sms_slot_reserve(*, number: str, max_wait: float) -> Reservation:
    """Reserve the next send slot of ``number`` if it is at most ``max_wait`` away."""
    rate = float(settings.SMS_RATE_PER_SECOND)
    interval_us = int(1_000_000 / rate)
    # Burst of one: a long code sends steadily, never a volley.
    tolerance_us = 0
    result = int(_client().eval(_GCRA, 1, _key(number), interval_us, tolerance_us, int(max_wait * 1_000_000)))
    if result < 0:
        return Reservation(granted=False, wait=-result / 1_000_000)
    return Reservation(granted=True, wait=result / 1_000_000)


def sms_rate_reset(*, number: str) -> None:
    """Forget a number's schedule (tests and benchmarks start from an idle number)."""
    _client().delete(_key(number))
