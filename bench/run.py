"""`make bench`: every benchmark in bench/ against PostgreSQL and Redis, one table.

Run: ``.venv/bin/python bench/run.py [--rounds 3] [--seconds 6] [--clients 16]``
with DATABASE_URL and REDIS_URL set (`make bench` defaults them to the local services
postgres://postgres@127.0.0.1:5432/vigil_bench and redis://127.0.0.1:6379/9).

The database is dropped and created anew (its name must contain "bench") and the Redis
database is flushed: each run starts from the same state. Then:

1. servers start as subprocesses (bench/servers.py): daphne alone; gunicorn + daphne
   for /ws/ behind nginx; a Celery worker;
2. rounds interleave the anchor (bench/anchor/) and Vigil, ``--rounds`` times, on both
   ways of serving: check-in ingest with 16 clients, POST → websocket event with 50
   dashboards, the inbound SMS webhook; the proxy's cost is the anchor through nginx
   against the anchor straight on gunicorn;
3. the other benches run as scripts: rules engine, beat tick, dashboard first load,
   EXPLAIN of the hot queries; the issue benches written elsewhere
   (checkin_service, websocket_latency, sms_throughput) run when they exist;
4. one table: figure, median, p99, anchor, ratio, target, met/missed, and the machine.

Throughputs are medians over rounds; latencies are p50/p99 over every sample of every
round. Ratios compare figures measured in the same run. Prints; never fails on a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from bench.servers import Stack, server_env  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/vigil_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
MODES = ("daphne", "split")
MODE_LABEL = {"daphne": "daphne alone", "split": "gunicorn+daphne/nginx", "gunicorn-direct": "gunicorn direct"}
# The benches of the other issues, run when they exist, at sizes that keep `make bench`
# bounded (each script run alone takes its full default sizes).
ISSUE_BENCHES = {
    "checkin_service.py": ["--check-ins", "100", "--rounds", "3", "--seconds", "0.3"],
    "websocket_latency.py": ["--check-ins", "300", "--events", "100"],
    "sms_throughput.py": ["--requests", "100"],
    "history_growth.py": ["--check-ins", "30"],
}


# --- the machine ----------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory}, Linux {platform.release()}, Python {platform.python_version()}; "
        f"load average {load1:.2f} at the start"
    )


# --- database and Redis -------------------------------------------------------------------------


def reset_services(database_url: str, redis_url: str) -> None:
    import psycopg
    import redis

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"Refusing to drop database {name!r}: the bench database's name must contain 'bench'.")
    admin = parsed._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(redis_url).flushdb()


def django_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SECRET_KEY", "bench-only-secret-key")
    env.setdefault("VIGIL_DATA_DIR", str(Path(tempfile.gettempdir()) / "vigil-bench"))
    env["DATABASE_URL"] = database_url
    env["REDIS_URL"] = redis_url
    env.pop("CELERY_BROKER_URL", None)
    return server_env(env)


# --- figures ------------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    median: str
    p99: str = ""
    anchor: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None or value != value:  # NaN
        return "-"
    return f"{value:,.{digits}f}"


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "MISSED")


def print_table(rows: list[Row]) -> str:
    header = Row("figure", "median", "p99", "anchor", "ratio", "target", "met/missed")
    table = [header, *rows]
    widths = [max(len(getattr(row, name)) for row in table) for name in header.__dataclass_fields__]
    lines = []
    for index, row in enumerate(table):
        cells = [
            getattr(row, name).ljust(width) for name, width in zip(header.__dataclass_fields__, widths, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


# --- the HTTP rounds -------------------------------------------------------------------------------


def _ingest(args: argparse.Namespace, url: str, fixture: Any, seconds: float, warmup: float) -> load.LoadResult:
    return load.ingest(url=url, tokens=fixture.patient_tokens, clients=args.clients, warmup=warmup, seconds=seconds)


def _report(kind: str, mode: str, who: str, result: Any) -> None:
    print(
        f"  {kind:8s} {MODE_LABEL[mode]:22s} {who:6s} {result.rps:7.1f} req/s  p50 {result.p50:7.1f} ms"
        f"  p99 {result.p99:7.1f} ms  errors {result.errors} {result.first_error}",
        flush=True,
    )


def _inbound_drained(*, deadline: float = 600.0) -> None:
    """Wait until the worker has handled every SMS the webhook phase stored (the webhook
    only stores them since issue 17): a backlog left running would take the CPU from the
    next phase's figures. Prints how long the drain took."""
    from django.db import connections

    from notifications.models import InboundMessage

    start = time.monotonic()
    unhandled = InboundMessage.objects.filter(processed_at__isnull=True, handling_failed_at__isnull=True)
    left = unhandled.count()
    while left and time.monotonic() - start < deadline:
        time.sleep(0.5)
        left = unhandled.count()
    connections.close_all()
    waited = time.monotonic() - start
    print(f"  inbound  worker drained the webhook's messages in {waited:.1f} s ({left} left)", flush=True)


def run_rounds(args: argparse.Namespace, stack: Stack, fixture: Any, webhook_exists: bool) -> dict[str, Any]:
    """Warm every process up, then ``--rounds`` interleaved ingest rounds on both ways
    of serving; then, on the serving the ingest figures chose, ``--rounds`` interleaved
    rounds of POST -> websocket event with the dashboards connected."""
    figures: dict[str, Any] = {}

    def keep(key: str, value: Any) -> None:
        figures.setdefault(key, []).append(value)

    endpoints = (("anchor", "/bench/anchor/check-ins/"), ("vigil", "/api/v1/check-ins/"))
    # Warm-up, not counted: every gunicorn worker and daphne process imports the URL
    # modules, loads the protocol and opens its pool on its first requests.
    print("warm-up", flush=True)
    for mode in (*MODES, "gunicorn-direct"):
        for _who, path in endpoints:
            _ingest(args, stack.base_url(mode) + path, fixture, seconds=args.warmup * 2, warmup=0)
    for round_no in range(1, args.rounds + 1):
        print(f"ingest round {round_no}/{args.rounds}", flush=True)
        for mode in MODES:
            base = stack.base_url(mode)
            for who, path in endpoints:
                result = _ingest(args, base + path, fixture, seconds=args.seconds, warmup=args.warmup)
                keep(f"ingest:{mode}:{who}", result)
                _report("ingest", mode, who, result)
            if webhook_exists:
                result = load.webhook(
                    url=base + "/webhooks/twilio/sms/",
                    public_url="http://bench.invalid/webhooks/twilio/sms/",
                    auth_token="bench-auth-token",  # noqa: S106 - the bench servers' fake token
                    phones=fixture.patient_phones,
                    to="+15550100000",
                    clients=args.clients,
                    warmup=args.warmup,
                    seconds=args.seconds / 2,
                )
                keep(f"webhook:{mode}:vigil", result)
                keep(f"webhook:{mode}:anchor", figures[f"ingest:{mode}:anchor"][-1])
                _report("webhook", mode, "vigil", result)
                _inbound_drained()
        # The proxy's cost: the anchor straight on gunicorn, against the anchor through nginx.
        direct = _ingest(
            args, stack.base_url("gunicorn-direct") + endpoints[0][1], fixture, seconds=args.seconds, warmup=args.warmup
        )
        keep("ingest:gunicorn-direct:anchor", direct)
        _report("ingest", "gunicorn-direct", "anchor", direct)

    chosen = max(MODES, key=lambda mode: statistics.median(r.rps for r in figures[f"ingest:{mode}:vigil"]))
    figures["chosen"] = chosen
    figures["ws_rate"] = args.ws_rate
    base = stack.base_url(chosen)
    ws_base = base.replace("http://", "ws://")
    per_round = max(1, -(-args.ws_check_ins // args.rounds))
    dashboards = fixture.staff_tokens[: args.dashboards]
    for round_no in range(1, args.rounds + 1):
        print(f"event round {round_no}/{args.rounds} on {MODE_LABEL[chosen]}", flush=True)
        for who, post, feed in (
            ("anchor", "/bench/anchor/check-ins/", "/ws/bench-anchor/"),
            ("vigil", "/api/v1/check-ins/", "/ws/alerts/"),
        ):
            latency = load.event_latency(
                post_url=base + post,
                ws_url=ws_base + feed,
                patient_tokens=fixture.patient_tokens,
                staff_tokens=dashboards,
                check_ins=per_round,
                concurrency=args.ws_concurrency,
                rate=args.ws_rate,
            )
            keep(f"event:{chosen}:{who}", latency)
            print(
                f"  event    {MODE_LABEL[chosen]:22s} {who:6s} {latency.check_ins} check-ins x {latency.dashboards} "
                f"dashboards  p50 {latency.p50:7.1f} ms  p99 {latency.p99:7.1f} ms  missing {latency.missing}"
                f"  errors {latency.errors} {latency.first_error}",
                flush=True,
            )
    return figures


def pooled(results: list[Any]) -> list[float]:
    return [value for result in results for value in result.latencies_ms]


def http_rows(figures: dict[str, Any]) -> tuple[list[Row], str]:
    rows: list[Row] = []
    rps = {
        key: statistics.median(r.rps for r in results) for key, results in figures.items() if key.startswith("ingest")
    }
    chosen = max(MODES, key=lambda mode: rps[f"ingest:{mode}:vigil"])
    for mode in MODES:
        anchor_rps, vigil_rps = rps[f"ingest:{mode}:anchor"], rps[f"ingest:{mode}:vigil"]
        anchor_lat, vigil_lat = pooled(figures[f"ingest:{mode}:anchor"]), pooled(figures[f"ingest:{mode}:vigil"])
        ratio = vigil_rps / anchor_rps if anchor_rps else float("nan")
        mark = " (chosen)" if mode == chosen else ""
        rows.append(
            Row(
                f"1 check-in ingest req/s, 16 clients, {MODE_LABEL[mode]}{mark}",
                fmt(vigil_rps, 1),
                "",
                fmt(anchor_rps, 1),
                fmt(ratio, 2),
                ">= 0.6 x anchor",
                verdict(ratio >= 0.6),
            )
        )
        p99_ratio = load.percentile(vigil_lat, 0.99) / load.percentile(anchor_lat, 0.99)
        rows.append(
            Row(
                f"1 check-in ingest latency ms, {MODE_LABEL[mode]}",
                fmt(statistics.median(vigil_lat), 1),
                fmt(load.percentile(vigil_lat, 0.99), 1),
                f"p99 {fmt(load.percentile(anchor_lat, 0.99), 1)}",
                fmt(p99_ratio, 2),
                "p99 <= 2 x anchor",
                verdict(p99_ratio <= 2),
            )
        )
    direct = figures["ingest:gunicorn-direct:anchor"]
    direct_rps = statistics.median(r.rps for r in direct)
    proxied_rps = rps["ingest:split:anchor"]
    rows.append(
        Row(
            "  proxy cost: anchor req/s through nginx vs gunicorn direct",
            fmt(proxied_rps, 1),
            fmt(load.percentile(pooled(figures["ingest:split:anchor"]), 0.99), 1),
            f"direct {fmt(direct_rps, 1)} (p99 {fmt(load.percentile(pooled(direct), 0.99), 1)})",
            fmt(proxied_rps / direct_rps if direct_rps else float("nan"), 2),
            "(informative)",
        )
    )
    for mode in [chosen]:
        anchor_lat, vigil_lat = pooled(figures[f"event:{mode}:anchor"]), pooled(figures[f"event:{mode}:vigil"])
        check_ins = sum(r.check_ins for r in figures[f"event:{mode}:vigil"])
        missing = sum(r.missing for r in figures[f"event:{mode}:vigil"])
        ratio = load.percentile(vigil_lat, 0.99) / load.percentile(anchor_lat, 0.99)
        rows.append(
            Row(
                f"2 POST -> ws event ms, {check_ins} check-ins at {figures['ws_rate']:g}/s x "
                f"{figures[f'event:{mode}:vigil'][0].dashboards} dashboards, {MODE_LABEL[mode]}"
                + (f", {missing} events missing" if missing else ""),
                fmt(statistics.median(vigil_lat) if vigil_lat else None, 1),
                fmt(load.percentile(vigil_lat, 0.99), 1),
                f"p50 {fmt(statistics.median(anchor_lat) if anchor_lat else None, 1)} "
                f"p99 {fmt(load.percentile(anchor_lat, 0.99), 1)}",
                fmt(ratio, 2),
                "p99 <= 1.5 x anchor",
                verdict(ratio <= 1.5 and not missing),
            )
        )
    for mode in MODES:
        if f"webhook:{mode}:vigil" not in figures:
            continue
        anchor_lat, vigil_lat = pooled(figures[f"webhook:{mode}:anchor"]), pooled(figures[f"webhook:{mode}:vigil"])
        ratio = load.percentile(vigil_lat, 0.99) / load.percentile(anchor_lat, 0.99)
        rows.append(
            Row(
                f"5 inbound SMS webhook ms, 16 clients, {MODE_LABEL[mode]}",
                fmt(statistics.median(vigil_lat) if vigil_lat else None, 1),
                fmt(load.percentile(vigil_lat, 0.99), 1),
                f"p99 {fmt(load.percentile(anchor_lat, 0.99), 1)}",
                fmt(ratio, 2),
                "p99 <= 2 x anchor",
                verdict(ratio <= 2),
            )
        )
    return rows, chosen


# --- the other benches -----------------------------------------------------------------------------


def run_script(env: dict[str, str], script: str, *args: str, timeout: float = 300) -> tuple[str, dict[str, Any] | None]:
    """Run a bench script; return its output and the JSON it printed after 'BENCH_JSON '."""
    try:
        completed = subprocess.run(
            [sys.executable, str(ROOT / "bench" / script), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = completed.stdout + completed.stderr
        if completed.returncode:
            output += f"\n(exit status {completed.returncode})"
    except subprocess.TimeoutExpired as expired:
        partial = expired.stdout or b""
        text = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
        output = f"{text}\n(stopped after {timeout:.0f} s)"
    data = None
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON ") :])
    return output, data


def rules_rows(output: str) -> list[Row]:
    rates = {}
    for line in output.splitlines():
        for name in ("baseline (read the answers)", "evaluate+trace", "evaluate_labs", "evaluate"):
            if line.startswith(name + " "):
                rates[name] = float(line[len(name) :].split("/s")[0].replace(",", ""))
                break
    if "evaluate" not in rates:
        return [Row("3 rules engine evaluations/s per core", "not available", target=">= 20,000", verdict="")]
    return [
        Row(
            "3 rules engine evaluations/s per core (30 check-ins + labs of history)",
            fmt(rates["evaluate"]),
            "",
            f"read-only loop {fmt(rates.get('baseline (read the answers)'))}",
            fmt(rates["evaluate"] / rates["baseline (read the answers)"], 3)
            if rates.get("baseline (read the answers)")
            else "",
            ">= 20,000/s",
            verdict(rates["evaluate"] >= 20_000),
        )
    ]


def history_growth_rows(data: dict[str, Any]) -> list[Row]:
    """bench/history_growth.py: one patient's check-in at 10 and 10,000 past check-ins."""
    small, large = data["sizes"][0], data["sizes"][-1]
    return [
        Row(
            f"2 check-in with {large['check_ins']:,} vs {small['check_ins']:,} past check-ins: time / statements",
            f"{fmt(large['checkin_submit_ms'], 1)} ms / {'+'.join(map(str, large['statements']))} q",
            "",
            f"{fmt(small['checkin_submit_ms'], 1)} ms / {'+'.join(map(str, small['statements']))} q",
            f"{fmt(data['ratio'], 2)} (whole-history read: {fmt(data['baseline_ratio'], 1)})",
            "<= 1.2, same statements",
            verdict(data["ratio"] <= 1.2 and data["same_statements"]),
        )
    ]


def profile_vigil(args: argparse.Namespace, stack: Stack, fixture: Any, mode: str, missed: list[str]) -> str:
    """One more Vigil ingest round on the chosen serving, sampled by py-spy across the
    serving processes, folded into the functions that hold the time: printed with every
    run (issue 17), so a change's before and after are both on record."""
    from bench import profile

    pid = stack.processes["gunicorn" if mode == "split" else "daphne"].pid
    raw = stack.workdir / "profile.txt"
    seconds = max(4.0, args.seconds)

    def during() -> Any:
        return load.ingest(
            url=stack.base_url(mode) + "/api/v1/check-ins/",
            tokens=fixture.patient_tokens,
            clients=args.clients,
            warmup=0.5,
            seconds=seconds,
        )

    result, problem = profile.record(pid=pid, seconds=seconds + 0.5, out=raw, during=during)
    head = f"Profile (py-spy, {MODE_LABEL[mode]}, Vigil check-in ingest at {result.rps:.1f} req/s)"
    head += "; targets missed:" + "".join(f"\n  - {figure}" for figure in missed) if missed else "; every target met"
    return head + "\n" + (problem or profile.summary(raw)) + f"\n(raw stacks: {raw})"


def main() -> None:
    parser = argparse.ArgumentParser(description="Vigil's benchmarks in one table (see the module docstring).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds of one ingest round")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--dashboards", type=int, default=50)
    parser.add_argument("--ws-check-ins", type=int, default=1002, help="check-ins per endpoint over all rounds")
    parser.add_argument("--ws-concurrency", type=int, default=4)
    parser.add_argument("--ws-rate", type=float, default=12.0, help="check-ins/s while measuring POST -> event")
    parser.add_argument("--patients", type=int, default=160)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn workers")
    parser.add_argument("--beat-sizes", default="10000,100000")
    parser.add_argument(
        "--skip", default="", help="comma-separated: http, profile, rules, beat, dashboard, explain, issue"
    )
    args = parser.parse_args()
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}

    started = time.monotonic()
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    env = django_env(database_url, redis_url)
    os.environ.update(env)
    the_machine = machine()
    print("machine:", the_machine, flush=True)
    print(f"database {urlparse(database_url).path.lstrip('/')} (recreated), redis {redis_url} (flushed)", flush=True)
    reset_services(database_url, redis_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)

    from bench.seeding import django_setup, http_fixture

    django_setup()
    from django.db import connections
    from django.urls import Resolver404, resolve

    def exists(path: str) -> bool:
        try:
            resolve(path)
        except Resolver404:
            return False
        return True

    webhook_exists = exists("/webhooks/twilio/sms/")
    fixture = http_fixture(patients=args.patients, history=30, dashboards=args.dashboards)
    connections.close_all()
    print(f"seeded: {args.patients} enrolled patients with 30 past check-ins, {args.dashboards} dashboards", flush=True)

    rows: list[Row] = []
    notes: list[str] = []
    memory: dict[str, tuple[float, float]] = {}
    chosen = "split"
    if "http" not in skip:
        stack = Stack(env=env, workers=args.workers)
        try:
            stack.start()
            print(f"servers up: {stack.ports} (gunicorn workers: {args.workers}); logs in {stack.workdir}", flush=True)
            figures = run_rounds(args, stack, fixture, webhook_exists)
            memory = stack.memory()
            http, chosen = http_rows(figures)
            missed = [row.figure for row in http if row.verdict == "MISSED"]
            if "profile" not in skip:
                notes.append(profile_vigil(args, stack, fixture, chosen, missed))
        finally:
            stack.stop()
        rows += [row for row in http if not row.figure.startswith("5 ")]
        webhook_rows = [row for row in http if row.figure.startswith("5 ")]
    else:
        webhook_rows = []

    if "rules" not in skip:
        output, _ = run_script(env, "rules_engine.py", "--rounds", "5", "--seconds", "0.3")
        rows += rules_rows(output)
    if "beat" not in skip:
        output, data = run_script(env, "beat_tick.py", "--sizes", args.beat_sizes, timeout=420)
        notes.append(
            "beat_tick.py:\n" + "\n".join(line for line in output.splitlines() if not line[:4].isdigit()).strip()
        )
        if data and data.get("available"):
            sizes = data["sizes"]
            small, large = sizes[0], sizes[-1]
            for entry in sizes:
                rows.append(
                    Row(
                        f"4 beat tick, {entry['patients']:,} enrolled patients: seconds / queries",
                        fmt(entry["seconds"], 3),
                        "",
                        "",
                        "",
                        "queries flat, time <= linear",
                        "",
                    )
                )
                rows[-1].median = f"{fmt(entry['seconds'], 3)} s / {entry['queries']} q"
            grow = large["patients"] / small["patients"]
            time_ratio = large["seconds"] / small["seconds"] if small["seconds"] else float("nan")
            ok = large["queries"] <= small["queries"] and time_ratio <= grow
            rows.append(
                Row(
                    f"4 beat tick {large['patients']:,} vs {small['patients']:,}: time ratio / query delta",
                    f"{fmt(time_ratio, 2)} x / {large['queries'] - small['queries']:+d} q",
                    "",
                    "",
                    "",
                    f"time <= {grow:.0f} x, queries +0",
                    verdict(ok),
                )
            )
        else:
            reason = (data or {}).get("reason", "not yet available")
            rows.append(Row("4 beat tick over 10k / 100k patients", f"not measured: {reason}"))
    rows += webhook_rows or [
        Row("5 inbound SMS webhook latency", "not measured: POST /webhooks/twilio/sms/ not yet available")
    ]
    if "dashboard" not in skip:
        output, data = run_script(env, "dashboard_load.py", timeout=180)
        notes.append("dashboard_load.py:\n" + output.strip())
        if data and data.get("available"):
            rows.append(
                Row(
                    "6 dashboard first load, 500 open alerts: ms / queries",
                    f"{fmt(data['ms_median'], 1)} ms / {data['queries']} q",
                    f"{fmt(data['ms_p99'], 1)} ms",
                    "",
                    "",
                    "<= 10 queries",
                    verdict(data["queries"] <= 10),
                )
            )
            page = data.get("patient_page") or {}
            if page:
                rows.append(
                    Row(
                        "6 patient page, 2 years vs 10 check-ins: ms / queries",
                        f"{fmt(page['ms_median_long'], 1)} vs {fmt(page['ms_median_short'], 1)} ms / "
                        f"{page['queries_long']} vs {page['queries_short']} q",
                        f"{fmt(page['ms_p99_long'], 1)} ms",
                        "",
                        f"{fmt(page['ratio'], 2)} x",
                        "time <= 1.2 x, same queries",
                        verdict(page["ratio"] <= 1.2 and page["queries_long"] == page["queries_short"]),
                    )
                )
        else:
            rows.append(
                Row(
                    "6 dashboard first load, 500 open alerts",
                    f"not measured: {(data or {}).get('reason', output[-200:])}",
                )
            )
    if memory:
        labels = {
            "daphne": "web+websocket, daphne alone",
            "gunicorn": "web, gunicorn (largest worker / all)",
            "daphne_ws": "websocket, daphne behind nginx",
            "worker": "worker, celery (largest / all)",
        }
        for name, (largest, total) in memory.items():
            rows.append(Row(f"7 peak RSS MB, {labels[name]}", fmt(largest, 0), "", "", "", f"all: {fmt(total, 0)} MB"))
    if "explain" not in skip:
        output, data = run_script(env, "explain.py", timeout=240)
        if data:
            for entry in data["queries"]:
                rows.append(
                    Row(
                        f"EXPLAIN {entry['name']}",
                        f"{fmt(entry['execution_ms'], 3)} ms",
                        "",
                        "",
                        "",
                        "index scan",
                        verdict(entry["uses_index"]),
                    )
                )
            notes.append(output.strip())
        else:
            notes.append("explain.py:\n" + output.strip())
    if "issue" not in skip:
        for script, script_args in ISSUE_BENCHES.items():
            if (ROOT / "bench" / script).exists():
                output, data = run_script(env, script, *script_args, timeout=240)
                notes.append(f"bench/{script} {' '.join(script_args)}:\n{output.strip()}")
                if script == "history_growth.py" and data:
                    rows += history_growth_rows(data)
                if script == "sms_throughput.py" and data:
                    for name, value in (data.get("outbound_per_second") or {}).items():
                        if isinstance(value, int | float):
                            rows.append(Row(f"5 outbound SMS/s to the fake Twilio server: {name}", fmt(value, 1)))
            else:
                rows.append(Row(f"bench/{script}", "not yet available"))
                if script == "sms_throughput.py":
                    rows.append(Row("5 outbound SMS throughput to the fake Twilio server", "not yet available"))

    print("\n" + "\n\n".join(notes), flush=True)
    print(f"\nVigil bench ({time.monotonic() - started:.0f} s): {the_machine}")
    print(f"serving chosen by the figures: {MODE_LABEL[chosen]}\n")
    print(print_table(rows), flush=True)


if __name__ == "__main__":
    main()
