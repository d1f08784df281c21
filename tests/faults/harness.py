"""The fault harness: Vigil's real processes against services a test can break.

- ``RedisServer``: a dedicated ``redis-server`` on its own port (never the machine's
  Redis), which a test stops, kills, restarts, pauses (SIGSTOP) and resumes (SIGCONT).
- ``TcpProxy``: a small asyncio TCP proxy in front of PostgreSQL. The web, worker and
  beat processes reach the database only through it, so a test can drop every
  connection, refuse new ones for a while (PostgreSQL restarting) or pause traffic.
- ``VigilProcess``: daphne (web), ``celery worker`` and ``celery beat`` as
  subprocesses, each in its own process group so SIGKILL takes its children too.
- ``DashboardClient``: a real websocket client (the ``websockets`` library) in a
  thread of its own that behaves like the dashboard page: it reconnects with
  ``?since=<last seq>`` when the server drops it, and it can stop reading (a slow
  consumer).
- ``Stack``: all of the above plus the fake Twilio server, with the environment the
  processes share, and helpers to wait for things with a bound on every wait.

Every loop here has a deadline; a harness that hangs is worse than a failing test.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

BASE_DIR = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.25, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; TimeoutError after
    ``timeout`` seconds (exceptions from the predicate count as "not yet")."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as error:  # not ready yet
            last_error = error
        else:
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(
        f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last_error!r})" if last_error else "")
    )


def log(message: str) -> None:
    """Progress lines in the test output (pytest -s shows them live; -q on failure)."""
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Redis ----------------------------------------------------------------------------


class RedisServer:
    """A redis-server of our own on ``port`` (no persistence: a restart loses
    everything, as a crashed broker without AOF would)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--daemonize",
                "no",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.ping, timeout=15, what=f"redis-server on port {self.port}")
        self.paused = False

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Kill it (SIGKILL: no goodbye to clients, nothing kept)."""
        if self.process is None:
            return
        if self.paused:
            self.resume()
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


# --- a pausable TCP proxy (PostgreSQL) -------------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; an asyncio loop in a daemon thread.

    - ``drop_all()``: close every open connection at once (a server restart).
    - ``refuse(True)``: new connections are accepted and closed at once, as when the
      server is not up yet; ``refuse(False)`` heals.
    - ``pause(True)``: stop moving bytes (a network stall); ``pause(False)`` heals.
    """

    def __init__(self, target_host: str, target_port: int, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"tcp-proxy-{self.port}", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing: asyncio.Event | None = None
        self.refusing = False
        self.accepted = 0
        self.refused = 0
        self.dropped = 0

    def start(self) -> TcpProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            self.refused += 1
            client_writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(asyncio.open_connection(*self.target), 10)
        except (OSError, TimeoutError):
            client_writer.close()
            return
        self.accepted += 1
        self._writers.update({client_writer, upstream_writer})

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            assert self._flowing is not None
            try:
                while data := await reader.read(65536):
                    await self._flowing.wait()
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError, asyncio.CancelledError):
                pass
            finally:
                writer.close()
                self._writers.discard(writer)

        await asyncio.gather(pump(client_reader, upstream_writer), pump(upstream_reader, client_writer))

    def _call(self, function: Callable[[], Any]) -> Any:
        async def run() -> Any:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def drop_all(self) -> int:
        def drop() -> int:
            writers = list(self._writers)
            for writer in writers:
                transport = writer.transport
                transport.abort()
            self._writers.clear()
            return len(writers) // 2

        count: int = self._call(drop)
        self.dropped += count
        return count

    def refuse(self, on: bool) -> None:
        self.refusing = on

    def pause(self, on: bool) -> None:
        def toggle() -> None:
            assert self._flowing is not None
            if on:
                self._flowing.clear()
            else:
                self._flowing.set()

        self._call(toggle)

    @property
    def open_connections(self) -> int:
        return len(self._writers) // 2

    def stop(self) -> None:
        def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()

        with contextlib.suppress(Exception):
            self._call(close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


# --- Vigil's processes -------------------------------------------------------------------


class VigilProcess:
    """One of web / worker / beat, logging to a file in the run's folder."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        log_file.write(f"\n===== start {self.starts + 1} at {time.strftime('%H:%M:%S')} =====\n".encode())
        log_file.flush()
        self.process = subprocess.Popen(
            self.argv, cwd=BASE_DIR, env=self.env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the whole process group (a celery worker's pool children too)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 15) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


# --- websocket clients -----------------------------------------------------------------------


@dataclass
class DashboardClient:
    """A dashboard's websocket: every event it got, in order, reconnecting with
    ``?since=`` like the page does. ``reading = False`` makes it a slow consumer:
    it stops reading the socket (its small receive queue fills and TCP pushes back)."""

    url: str
    token: str
    name: str = "client"
    max_queue: int = 16
    events: list[dict[str, Any]] = field(default_factory=list)
    connects: int = 0
    closes: list[int | None] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reading: bool = True

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._read_gate = threading.Event()
        self._read_gate.set()
        self._thread = threading.Thread(target=self._run, name=f"ws-{self.name}", daemon=True)
        self._connected = threading.Event()

    # -- control --
    def start(self, *, wait: float = 20) -> DashboardClient:
        self._thread.start()
        if not self._connected.wait(wait):
            raise TimeoutError(f"websocket {self.name} did not connect: {self.errors[-3:]}")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._read_gate.set()
        self._thread.join(timeout=10)

    def stop_reading(self) -> None:
        self.reading = False
        self._read_gate.clear()

    def resume_reading(self) -> None:
        self.reading = True
        self._read_gate.set()

    # -- what it saw --
    @property
    def last_seq(self) -> int | None:
        return self.events[-1]["seq"] if self.events else None

    @property
    def seqs(self) -> list[int]:
        return [event["seq"] for event in self.events]

    @property
    def duplicates(self) -> int:
        return len(self.seqs) - len(set(self.seqs))

    @property
    def out_of_order(self) -> int:
        seqs = self.seqs
        return sum(1 for a, b in itertools.pairwise(seqs) if b <= a)

    def alert_ids(self, type_: str = "alert.created") -> set[int]:
        return {event["data"]["id"] for event in self.events if event["type"] == type_}

    # -- the thread --
    def _connect_url(self) -> str:
        # No token in a URL: each (re)connection buys a single-use ticket with it.
        base = self.url.replace("ws://", "http://", 1).split("/ws/alerts/")[0]
        answer = requests.post(
            f"{base}/api/v1/ws-tickets/", headers={"Authorization": f"Token {self.token}"}, timeout=10
        )
        answer.raise_for_status()
        query = {"ticket": answer.json()["ticket"]}
        if self.last_seq is not None or self.connects:
            query["since"] = str(self.last_seq if self.last_seq is not None else self._since0)
        return f"{self.url}?{urllib.parse.urlencode(query)}"

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        import websockets

        # The first connection starts "now"; a reconnect before any event resumes
        # from the newest seq the server had then (learned from the first event).
        self._since0 = 0
        backoff = 0.5
        while not self._stop.is_set():
            try:
                async with websockets.connect(
                    self._connect_url(), max_queue=self.max_queue, open_timeout=10, close_timeout=2, ping_interval=None
                ) as ws:
                    self.connects += 1
                    self._connected.set()
                    backoff = 0.5
                    while not self._stop.is_set():
                        if not self._read_gate.is_set():
                            await asyncio.get_running_loop().run_in_executor(None, self._read_gate.wait, 0.5)
                            continue
                        try:
                            text = await asyncio.wait_for(ws.recv(), timeout=0.5)
                        except TimeoutError:
                            continue
                        message = json.loads(text)
                        if message.get("seq") is None:
                            continue  # pong / error frames
                        self.events.append(message)
                    return
            except Exception as error:  # the page reconnects whatever happened
                code = getattr(getattr(error, "rcvd", None), "code", None)
                self.closes.append(code)
                self.errors.append(f"{type(error).__name__}: {error}"[:200])
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, 4.0)


# --- the database of the run ---------------------------------------------------------------


def database_recreate() -> str:
    """Drop and re-create the suite's own database (settings: <name>_faults) and
    migrate it; returns its name."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    name = db["NAME"]
    admin = psycopg.connect(
        host=db.get("HOST") or "127.0.0.1",
        port=int(db.get("PORT") or 5432),
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.faults.settings"}
    log(f"migrating {name}")
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=BASE_DIR, env=env, check=True, timeout=300
    )
    return name


# --- the stack ---------------------------------------------------------------------------------


@dataclass
class ServiceUrls:
    database_direct: str  # the test process's own connection (bypasses the proxy)
    database_proxied: str  # what web, worker and beat use


def _database_urls(proxy_port: int) -> ServiceUrls:
    from django.conf import settings

    db = settings.DATABASES["default"]
    user = urllib.parse.quote(db.get("USER") or "postgres")
    password = db.get("PASSWORD") or ""
    auth = f"{user}:{urllib.parse.quote(password)}@" if password else f"{user}@"
    name = db["NAME"]
    direct = f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"
    proxied = f"postgres://{auth}127.0.0.1:{proxy_port}/{name}"
    return ServiceUrls(database_direct=direct, database_proxied=proxied)


class Stack:
    """Web, worker(s) and beat(s) on a dedicated Redis, PostgreSQL behind the proxy and
    the fake Twilio server. One per test session; tests break a part and heal it."""

    def __init__(self, fake_twilio: Any) -> None:
        from django.conf import settings

        self.workdir = Path(tempfile.mkdtemp(prefix="vigil-faults-"))
        self.fake = fake_twilio
        self.redis = RedisServer(self.workdir / "redis")
        db = settings.DATABASES["default"]
        self.proxy = TcpProxy(db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432))
        self.web_port = free_port()
        self.urls = _database_urls(self.proxy.port)
        self.processes: dict[str, VigilProcess] = {}
        # The clinics the run created (tests.faults.world), for the PHI-in-logs check.
        self.worlds: list[Any] = []

    # -- environment shared by every process --
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.faults.settings",
                "DATABASE_URL": self.urls.database_proxied,
                "REDIS_URL": self.redis.url,
                "CELERY_BROKER_URL": self.redis.url,
                "CHANNEL_LAYER_PREFIX": "vigil-faults",
                "CACHE_KEY_PREFIX": "vigil-faults",
                "SECRET_KEY": os.environ.get("SECRET_KEY") or "faults-only-secret",
                "VIGIL_DATA_DIR": str(self.workdir / "data"),
                "PUBLIC_BASE_URL": self.base_url,
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "TWILIO_ACCOUNT_SID": self.fake.account_sid,
                "TWILIO_AUTH_TOKEN": self.fake.auth_token,
                "TWILIO_FROM_NUMBER": self.fake.phone_number,
                "TWILIO_API_BASE_URL": self.fake.base_url,
                "SMS_BACKEND": "notifications.backends.twilio.TwilioBackend",
                "SMS_RATE_PER_SECOND": os.environ.get("VIGIL_FAULTS_SMS_RATE", "50"),
                "DATABASE_POOL_MAX": "6",
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.web_port}/ws/alerts/"

    # -- lifecycle --
    def start(self) -> None:
        log(f"workdir {self.workdir}")
        self.redis.start()
        self.proxy.start()
        env = self.env()
        self.processes = {
            "web": VigilProcess(
                "web",
                [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.web_port), "config.asgi:application"],
                env,
                self.workdir,
            ),
            "worker": self._worker_process("worker", env),
            "beat": self._beat_process("beat", env),
        }
        for process in self.processes.values():
            process.start()
        self.wait_web()
        self.wait_worker()
        log(f"stack up: web :{self.web_port}, redis :{self.redis.port}, postgres proxy :{self.proxy.port}")

    def _worker_process(self, name: str, env: dict[str, str]) -> VigilProcess:
        return VigilProcess(
            name,
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{name}-{os.getpid()}@%h",
            ],
            env,
            self.workdir,
        )

    def _beat_process(self, name: str, env: dict[str, str]) -> VigilProcess:
        return VigilProcess(
            name,
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel=INFO",
                "--pidfile",
                str(self.workdir / f"{name}.pid"),
                "-s",
                str(self.workdir / f"{name}-schedule"),
            ],
            env,
            self.workdir,
        )

    def add_beat(self, name: str) -> VigilProcess:
        process = self._beat_process(name, self.env())
        self.processes[name] = process
        process.start()
        return process

    def remove(self, name: str) -> None:
        process = self.processes.pop(name)
        process.stop()

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
        self.proxy.stop()
        self.redis.stop()

    def healthz(self) -> requests.Response:
        return requests.get(f"{self.base_url}/healthz", timeout=5)

    def wait_web(self, timeout: float = 90) -> None:
        def up() -> bool:
            if not self.processes["web"].alive:
                raise RuntimeError("web died:\n" + self.processes["web"].tail())
            return self.healthz().status_code == 200

        wait_for(up, timeout=timeout, interval=0.5, what="web /healthz 200")

    def wait_worker(self, timeout: float = 90) -> None:
        path = self.processes["worker"].log_path

        def ready() -> bool:
            if not self.processes["worker"].alive:
                raise RuntimeError("worker died:\n" + self.processes["worker"].tail())
            text = path.read_text(errors="replace")
            return text.rsplit("===== start", 1)[-1].count(" ready.") > 0

        wait_for(ready, timeout=timeout, interval=0.5, what="celery worker ready")

    def ensure_healthy(self) -> None:
        """Heal whatever a test left broken; restart only a process that died."""
        if self.redis.paused:
            self.redis.resume()
        if not self.redis.running:
            self.redis.start()
        self.proxy.refuse(False)
        self.proxy.pause(False)
        for name in [n for n in self.processes if n.startswith("beat") and n != "beat"]:
            self.remove(name)
        for process in self.processes.values():
            if not process.alive:
                log(f"restarting {process.name} (it had stopped)")
                process.start()
        self.wait_web()
        self.wait_worker()

    def tails(self) -> str:
        return "\n".join(f"--- {name} ---\n{process.tail(60)}" for name, process in self.processes.items())

    # -- HTTP --
    def post_check_in(
        self, *, token: str, answers: dict[str, Any], key: str, timeout: float = 30
    ) -> tuple[int, dict[str, Any] | str]:
        """POST a check-in as a patient app would (with an Idempotency-Key); returns
        (status, body) or (0, error text) when no answer came at all."""
        try:
            response = requests.post(
                f"{self.base_url}/api/v1/check-ins/",
                json={"answers": answers, "scheduled_check_in": None},
                headers={"Authorization": f"Token {token}", "Idempotency-Key": key},
                timeout=timeout,
            )
        except requests.RequestException as error:
            return 0, f"{type(error).__name__}"
        try:
            body: dict[str, Any] | str = response.json()
        except ValueError:
            body = response.text[:200]
        return response.status_code, body
