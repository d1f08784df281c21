"""The load client of `make bench`: asyncio + aiohttp, one process, many connections.

* ``ingest``: N concurrent clients POST check-ins for a fixed time (after a warm-up
  that is not counted); requests/s counts 201 answers only.
* ``event_latency``: D dashboards connected to a websocket feed; check-ins are POSTed
  at a fixed rate (a few connections at a time) and the time from the start of each
  POST to the arrival of its ``check_in.received`` event is taken on every dashboard.
* ``webhook``: N concurrent clients POST signed inbound SMS to the Twilio webhook.

The client shares the machine with the servers, equally for the anchor and Vigil.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 0.99)


Body = Callable[[int, int], tuple[dict[str, str], Any]]


async def _closed_loop(
    *, url: str, clients: int, warmup: float, seconds: float, request_for: Body, ok: int, form: bool = False
) -> LoadResult:
    result = LoadResult()
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    counter = itertools.count()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + seconds

        async def client(index: int) -> None:
            while True:
                now = time.perf_counter()
                if now >= stop_at:
                    return
                headers, body = request_for(index, next(counter))
                began = time.perf_counter()
                try:
                    kwargs = {"data": body} if form else {"json": body}
                    async with session.post(url, headers=headers, **kwargs) as response:
                        text = await response.read()
                        code = response.status
                except (TimeoutError, aiohttp.ClientError) as error:
                    code, text = 0, repr(error).encode()
                ended = time.perf_counter()
                # Counted by completion time: what finished inside the measured window.
                if ended < measure_from or ended > stop_at:
                    continue
                result.statuses[code] = result.statuses.get(code, 0) + 1
                if code == ok:
                    result.requests += 1
                    result.latencies_ms.append((ended - began) * 1000)
                else:
                    result.errors += 1
                    if not result.first_error:
                        result.first_error = f"{code}: {text[:300]!r}"

        await asyncio.gather(*(client(i) for i in range(clients)))
        result.seconds = seconds
    return result


def ingest(*, url: str, tokens: list[str], clients: int, warmup: float, seconds: float) -> LoadResult:
    """Client i submits for patients i, i + clients, ... so no two clients ever wait on
    the same patient's row lock (one check-in per patient at a time)."""
    from bench.seeding import bench_answers

    per_client = [tokens[i::clients] or tokens for i in range(clients)]
    turns = [0] * clients

    def request_for(index: int, serial: int) -> tuple[dict[str, str], Any]:
        mine = per_client[index]
        token = mine[turns[index] % len(mine)]
        turns[index] += 1
        body = {"answers": bench_answers(serial), "scheduled_check_in": None}
        return {"Authorization": f"Token {token}"}, body

    return asyncio.run(
        _closed_loop(url=url, clients=clients, warmup=warmup, seconds=seconds, request_for=request_for, ok=201)
    )


def webhook(
    *,
    url: str,
    public_url: str,
    auth_token: str,
    phones: list[str],
    to: str,
    clients: int,
    warmup: float,
    seconds: float,
) -> LoadResult:
    """Inbound SMS as Twilio sends them: form-encoded, signed over the public URL,
    each with a new MessageSid. The text is free text (no conversation open)."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(auth_token)

    def request_for(index: int, serial: int) -> tuple[dict[str, str], Any]:
        params = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": "AC" + "0" * 32,
            "From": phones[serial % len(phones)],
            "To": to,
            "Body": "Hello, a question about my wound dressing",
            "NumMedia": "0",
        }
        signature = validator.compute_signature(public_url, params)
        return {"X-Twilio-Signature": signature}, params

    return asyncio.run(
        _closed_loop(
            url=url, clients=clients, warmup=warmup, seconds=seconds, request_for=request_for, ok=200, form=True
        )
    )


@dataclass
class LatencyResult:
    check_ins: int = 0
    dashboards: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    missing: int = 0
    errors: int = 0
    first_error: str = ""

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 0.99)


async def _feed_url(session: aiohttp.ClientSession, ws_url: str, token: str) -> str:
    """Vigil's feed takes no token in its URL: a single-use ticket bought with the token
    (POST /api/v1/ws-tickets/, at set-up, outside the timed part). The anchor's bare
    feed (bench/anchor/) still reads ``?token=``."""
    if "/ws/alerts/" not in ws_url:
        return f"{ws_url}?token={token}"
    base = ws_url.replace("ws://", "http://", 1).replace("wss://", "https://", 1).split("/ws/alerts/")[0]
    async with session.post(f"{base}/api/v1/ws-tickets/", headers={"Authorization": f"Token {token}"}) as response:
        response.raise_for_status()
        ticket = (await response.json())["ticket"]
    return f"{ws_url}?ticket={ticket}"


async def _event_latency(
    *,
    post_url: str,
    ws_url: str,
    patient_tokens: list[str],
    staff_tokens: list[str],
    check_ins: int,
    concurrency: int,
    rate: float,
) -> LatencyResult:
    from bench.seeding import bench_answers

    result = LatencyResult(dashboards=len(staff_tokens))
    arrivals: dict[int, list[float]] = {}
    sent_at: dict[int, float] = {}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = []
        for token in staff_tokens:
            sockets.append(await session.ws_connect(await _feed_url(session, ws_url, token), heartbeat=None))

        async def listen(ws: aiohttp.ClientWebSocketResponse) -> None:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                arrived = time.perf_counter()
                frame = json.loads(message.data)
                if frame.get("type") == "check_in.received":
                    arrivals.setdefault(int(frame["data"]["id"]), []).append(arrived)

        listeners = [asyncio.ensure_future(listen(ws)) for ws in sockets]
        await asyncio.sleep(0.5)  # every consumer has joined its group
        counter = itertools.count()
        started = time.perf_counter()

        async def poster(index: int) -> None:
            mine = patient_tokens[index::concurrency] or patient_tokens
            turn = 0
            while True:
                serial = next(counter)
                if serial >= check_ins:
                    return
                # Open loop at a fixed rate, the same for the anchor and Vigil: this
                # measures the latency of an event, not how fast a backlog drains.
                delay = started + serial / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                token = mine[turn % len(mine)]
                turn += 1
                began = time.perf_counter()
                async with session.post(
                    post_url,
                    json={"answers": bench_answers(serial), "scheduled_check_in": None},
                    headers={"Authorization": f"Token {token}"},
                ) as response:
                    body = await response.read()
                    if response.status != 201:
                        result.errors += 1
                        if not result.first_error:
                            result.first_error = f"{response.status}: {body[:300]!r}"
                        continue
                    sent_at[int(json.loads(body)["id"])] = began

        await asyncio.gather(*(poster(i) for i in range(concurrency)))
        # Stragglers: wait until every event reached every dashboard, or 5 s.
        deadline = time.perf_counter() + 5
        while time.perf_counter() < deadline:
            if all(len(arrivals.get(pk, ())) >= len(sockets) for pk in sent_at):
                break
            await asyncio.sleep(0.05)
        for ws in sockets:
            await ws.close()
        for task in listeners:
            task.cancel()
    result.check_ins = len(sent_at)
    for pk, began in sent_at.items():
        times = arrivals.get(pk, [])
        result.missing += max(0, len(staff_tokens) - len(times))
        result.latencies_ms += [(arrived - began) * 1000 for arrived in times]
    return result


def event_latency(**kwargs: Any) -> LatencyResult:
    return asyncio.run(_event_latency(**kwargs))
