"""Calls into the channel layer from synchronous code, on one event loop per process.

`async_to_sync` called where no event loop runs (gunicorn's sync workers, Celery
workers) starts a thread and a new event loop for every call, and channels_redis keeps
its Redis connections per event loop: every dashboard event paid a thread, a loop and a
fresh Redis connection that was closed again. That was about a seventh of a check-in's
time (issue 17's profile). Here the loop, and with it the layer's connection pool, lives
as long as the process.

Only the Redis layer is carried this way. Any other layer (the in-memory one some
benches use) keeps `async_to_sync`, whose loop is the caller's when there is one, so
its queues stay on the loop that reads them."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer

T = TypeVar("T")

# Generous: a Redis that does not answer within this is down, and the caller (an
# on-commit fan-out) treats that as the outage it is; dashboards catch up with ?since=.
CALL_TIMEOUT_SECONDS = 10.0

_lock = threading.Lock()
# (pid, loop): a forked child (a gunicorn or Celery worker) must not use its parent's
# loop, whose thread did not survive the fork.
_process_loop: tuple[int, asyncio.AbstractEventLoop] | None = None


def _loop() -> asyncio.AbstractEventLoop:
    global _process_loop
    with _lock:
        if _process_loop is None or _process_loop[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-layer-loop", daemon=True).start()
            _process_loop = (os.getpid(), loop)
        return _process_loop[1]


def layer_call(call: Callable[[BaseChannelLayer], Awaitable[T]]) -> T:
    """Run ``call(layer)`` to completion from synchronous code and return its result."""
    layer = get_channel_layer()
    if not isinstance(layer, RedisChannelLayer):
        return async_to_sync(_awaited)(call, layer)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # the same refusal as async_to_sync's: blocking here would stall that loop
        raise RuntimeError("layer_call is for synchronous code: await the layer directly")
    future = asyncio.run_coroutine_threadsafe(_awaited(call, layer), _loop())
    return future.result(timeout=CALL_TIMEOUT_SECONDS)


async def _awaited(call: Callable[[Any], Awaitable[T]], layer: Any) -> T:
    return await call(layer)
