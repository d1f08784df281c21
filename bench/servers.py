"""The servers a bench run starts as subprocesses, configured as Vigil runs in production:
PostgreSQL (psycopg pool) and Redis (channel layer, broker, cache) from the environment.

Two ways of serving are started side by side, so that each round can measure both:

* ``daphne``: one daphne process serving HTTP and websockets (what `make run` and the
  docker-compose file do);
* ``split``: gunicorn (WSGI, sync workers) for HTTP and a daphne process for ``/ws/``
  behind nginx (Debian's package), the reverse proxy a production host puts in front.

plus a Celery worker (the outbox relay and SMS), so the check-in path's after-commit
work runs as it does in production. Every process serves ``bench.anchor.asgi`` or
``config.wsgi`` with VIGIL_BENCH_ANCHOR=1: Vigil's own app plus the anchor routes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env.update(
        {
            "VIGIL_BENCH_ANCHOR": "1",
            "LOG_LEVEL": "WARNING",
            "SMS_BACKEND": "notifications.backends.console.ConsoleBackend",
            # The inbound webhook's signature is computed over this URL (bench signs it).
            "PUBLIC_BASE_URL": "http://bench.invalid",
            "TWILIO_AUTH_TOKEN": "bench-auth-token",
            "TWILIO_FROM_NUMBER": "+15550100000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("TWILIO_ACCOUNT_SID", None)  # never the real Twilio from a bench
    return env


@dataclass
class Process:
    name: str
    command: list[str]
    popen: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the peak resident set size of a live process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def tree_peak_rss_mb(pid: int) -> tuple[float, float]:
    """(largest single process, sum) of the peak RSS of a process and its children."""
    values = [v for v in [peak_rss_mb(pid), *[peak_rss_mb(child) for child in _children(pid)]] if v is not None]
    return (max(values) if values else 0.0, sum(values))


@dataclass
class Stack:
    env: dict[str, str]
    workers: int
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="vigil-bench-")))
    processes: dict[str, Process] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def start(self) -> None:
        self.ports = {name: free_port() for name in ("daphne", "gunicorn", "daphne_ws", "nginx")}
        asgi = "bench.anchor.asgi:application"
        gunicorn = ["--workers", str(self.workers), "--worker-class", "sync", "--log-level", "warning"]
        commands = {
            "worker": [PYTHON, "-m", "celery", "-A", "config", "worker", "--concurrency=1", "--loglevel=WARNING"],
            "daphne": [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.ports["daphne"]), asgi],
            "gunicorn": [
                PYTHON,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "-b",
                f"127.0.0.1:{self.ports['gunicorn']}",
                *gunicorn,
            ],
            "daphne_ws": [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.ports["daphne_ws"]), asgi],
        }
        for name, command in commands.items():
            self._spawn(name, command)
        self._nginx_start()
        for name in ("daphne", "gunicorn", "daphne_ws", "nginx"):
            self._wait_http(name)

    def _spawn(self, name: str, command: list[str]) -> None:
        log = self.workdir / f"{name}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT)
        self.processes[name] = Process(name, command, popen, log)

    def _nginx_start(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise SystemExit("nginx is not installed: `make bench` installs Debian's nginx-light (apt-get).")
        conf = self.workdir / "nginx.conf"
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.workdir / sub).mkdir(exist_ok=True)
        conf.write_text(
            NGINX_CONF.format(
                workdir=self.workdir,
                port=self.ports["nginx"],
                gunicorn=self.ports["gunicorn"],
                daphne_ws=self.ports["daphne_ws"],
                user="root" if os.geteuid() == 0 else "nobody",
            )
        )
        self._spawn("nginx", [nginx, "-p", str(self.workdir), "-c", str(conf), "-g", "daemon off;"])

    def _wait_http(self, name: str, timeout: float = 60.0) -> None:
        url = f"http://127.0.0.1:{self.ports[name]}/healthz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name].popen
            if process is not None and process.poll() is not None:
                raise SystemExit(f"{name} exited: see {self.processes[name].log}\n{self.tail(name)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    response.read()
                    return
            except urllib.error.HTTPError:
                return  # it answers (503 while a check fails is still an answer)
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{name} did not answer on {url}\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 30) -> str:
        log = self.processes[name].log
        if log is None or not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def base_url(self, mode: str) -> str:
        port = {"daphne": "daphne", "split": "nginx", "gunicorn-direct": "gunicorn"}[mode]
        return f"http://127.0.0.1:{self.ports[port]}"

    def memory(self) -> dict[str, tuple[float, float]]:
        """Peak RSS per role: (largest process, sum over the role's processes)."""
        result = {}
        for name in ("daphne", "gunicorn", "daphne_ws", "worker"):
            process = self.processes.get(name)
            if process is not None and process.popen is not None and process.popen.poll() is None:
                result[name] = tree_peak_rss_mb(process.pid)
        return result

    def stop(self) -> None:
        for process in self.processes.values():
            if process.popen is not None and process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            if process.popen is None:
                continue
            try:
                process.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=5)


NGINX_CONF = """
user {user};
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream wsgi {{ server 127.0.0.1:{gunicorn}; }}
    upstream websockets {{ server 127.0.0.1:{daphne_ws}; }}
    server {{
        listen 127.0.0.1:{port};
        location /ws/ {{
            proxy_pass http://websockets;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 3600s;
        }}
        location / {{
            proxy_pass http://wsgi;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""
