"""Backups that are shown to restore (issue 20).

A backup is one file and its manifest (``<file>.manifest.json``): the row count of
every table, the last dashboard event sequence number and a digest of the audit trail,
read from the very state the file holds. On PostgreSQL, ``pg_dump --format=custom``
runs on a snapshot exported from a repeatable-read transaction in which the manifest is
read too; on the embedded SQLite, the online backup API copies the database (WAL
included) and the manifest is read from the copy.

The restore drill restores a backup into a scratch database (never the live one),
reads the same figures there and compares them with the manifest; restoring for real
(``restore``) writes into the configured database. The audit trail is compared row by
row through its digest, and its append-only triggers must be there after the restore.

Backups hold patient data: files are created 0600 in ``BACKUP_DIR``; encrypting and
shipping them off the machine is the operator's (README, Backups)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

AUDIT_TABLE = "backend_auditrecord"
EVENT_TABLE = "notifications_event"
AUDIT_COLUMNS = (
    "id, at, actor_user_id, actor_username, actor_role, action, object_type, object_id, "
    "patient_id, clinic_id, ip_address, method, path"
)


class BackupError(Exception):
    pass


@dataclass(frozen=True)
class Manifest:
    vendor: str
    created_at: str
    counts: dict[str, int]
    last_event_seq: int | None
    # The next value the event sequence hands out must lie beyond the last one.
    event_seq_next_ok: bool
    audit_count: int
    audit_last_id: int | None
    audit_digest: str
    audit_guarded: bool
    extra: dict[str, Any] = field(default_factory=dict)

    def differences(self, restored: Manifest) -> list[str]:
        """What the restored database says differently from this backup's manifest."""
        found = []
        for table in sorted(set(self.counts) | set(restored.counts)):
            if self.counts.get(table) != restored.counts.get(table):
                found.append(f"{table}: {self.counts.get(table)} rows backed up, {restored.counts.get(table)} restored")
        for name in ("last_event_seq", "audit_count", "audit_last_id", "audit_digest"):
            if getattr(self, name) != getattr(restored, name):
                found.append(f"{name}: {getattr(self, name)} backed up, {getattr(restored, name)} restored")
        if not restored.audit_guarded:
            found.append("the audit trail's append-only trigger is missing after the restore")
        if not restored.event_seq_next_ok:
            found.append("the event sequence would hand out a number already used")
        return found


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + ".manifest.json")


def manifest_load(backup: Path) -> Manifest:
    return Manifest(**json.loads(manifest_path(backup).read_text()))


def _vendor() -> str:
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine.endswith("postgresql"):
        return "postgresql"
    if engine.endswith("sqlite3"):
        return "sqlite"
    raise BackupError(f"No backup for the database engine {engine}.")


def _manifest_read(cursor: Any, vendor: str) -> Manifest:
    """The figures of the database ``cursor`` reads (a DB-API cursor, either vendor)."""
    if vendor == "postgresql":
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    else:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1")
    tables = [row[0] for row in cursor.fetchall()]
    counts = {}
    for table in tables:
        cursor.execute(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608 (names from the catalogue)
        counts[table] = int(cursor.fetchone()[0])
    cursor.execute(f"SELECT MAX(seq) FROM {EVENT_TABLE}")  # noqa: S608
    last_seq = cursor.fetchone()[0]
    digest = hashlib.sha256()
    cursor.execute(f"SELECT {AUDIT_COLUMNS} FROM {AUDIT_TABLE} ORDER BY id")  # noqa: S608
    audit_count, audit_last = 0, None
    for row in iter(cursor.fetchone, None):
        digest.update(repr(tuple(str(value) for value in row)).encode())
        audit_count, audit_last = audit_count + 1, int(row[0])
    if vendor == "postgresql":
        cursor.execute(
            "SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [AUDIT_TABLE]
        )
        guarded = cursor.fetchone()[0] > 0
        sequence = _pg_sequence(cursor, EVENT_TABLE, "seq")
        cursor.execute(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608 (a catalogue name)
        value, called = cursor.fetchone()
        next_value = value + 1 if called else value
    else:
        cursor.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", [AUDIT_TABLE])
        guarded = cursor.fetchone()[0] > 0
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [EVENT_TABLE])
        row = cursor.fetchone()
        next_value = (row[0] if row else 0) + 1
    return Manifest(
        vendor=vendor,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        counts=counts,
        last_event_seq=int(last_seq) if last_seq is not None else None,
        event_seq_next_ok=last_seq is None or next_value > last_seq,
        audit_count=audit_count,
        audit_last_id=audit_last,
        audit_digest=digest.hexdigest(),
        audit_guarded=guarded,
    )


def _pg_sequence(cursor: Any, table: str, column: str) -> str:
    cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
    return str(cursor.fetchone()[0])


# --- PostgreSQL -----------------------------------------------------------------------


def _pg_params(name: str | None = None) -> dict[str, str]:
    db = settings.DATABASES["default"]
    params = {
        "dbname": name or db["NAME"],
        "user": db.get("USER") or "",
        "host": db.get("HOST") or "",
        "port": str(db.get("PORT") or ""),
    }
    return {key: value for key, value in params.items() if value}


def _pg_env() -> dict[str, str]:
    """The password travels in the environment, never on a command line (ps shows those)."""
    password = settings.DATABASES["default"].get("PASSWORD") or ""
    return {**os.environ, **({"PGPASSWORD": password} if password else {})}


def _pg_conninfo(name: str | None = None) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**_pg_params(name))


def _pg_connect(name: str | None = None, *, autocommit: bool = False) -> Any:
    import psycopg

    password = settings.DATABASES["default"].get("PASSWORD") or None
    return psycopg.connect(_pg_conninfo(name), password=password, autocommit=autocommit)


def _major(version_text: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", version_text)
    if not match:
        raise BackupError(f"Cannot read a version from {version_text!r}.")
    return int(match.group(1))


def pg_client_check(connection: Any) -> str:
    """pg_dump must be at least the server's major version (an older one refuses or, worse,
    writes a dump the server's features do not fit)."""
    version = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True, check=True)  # noqa: S607
    client = version.stdout.strip()
    server = int(connection.info.server_version) // 10000
    if _major(client.split("(PostgreSQL)")[-1]) < server:
        raise BackupError(f"{client} is older than the server (PostgreSQL {server}): install the matching client.")
    return client


def _pg_backup(target: Path) -> Manifest:
    import psycopg

    with _pg_connect() as connection:
        client = pg_client_check(connection)
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            # The dump and the manifest read one snapshot: the same rows, to the row.
            _run(["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={target}", _pg_conninfo()])
            manifest = _manifest_read(cursor, "postgresql")
    return Manifest(**{**asdict(manifest), "extra": {"pg_dump": client}})


def _pg_database_recreate(name: str) -> None:
    from psycopg import sql

    with _pg_connect("postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _pg_database_drop(name: str) -> None:
    from psycopg import sql

    with _pg_connect("postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _pg_restore(backup: Path, name: str, *, clean: bool) -> None:
    options = ["--clean", "--if-exists"] if clean else []
    _run(
        [
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            *options,
            f"--dbname={_pg_conninfo(name)}",
            str(backup),
        ]
    )


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, env=_pg_env(), check=False)
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


# --- SQLite ---------------------------------------------------------------------------


def _sqlite_copy(source: Path, target: Path) -> None:
    """The online backup API: a consistent copy while web, worker and beat write."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _sqlite_manifest(path: Path) -> Manifest:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _manifest_read(connection.cursor(), "sqlite")
    finally:
        connection.close()


# --- the three operations -------------------------------------------------------------


def backup_dir() -> Path:
    return Path(getattr(settings, "BACKUP_DIR", None) or Path(settings.DATA_DIR) / "backups")


def backup_create(directory: Path | None = None) -> tuple[Path, Manifest]:
    """A new backup file and its manifest in ``directory`` (``BACKUP_DIR``)."""
    vendor = _vendor()
    directory = directory or backup_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = directory / f"vigil-{stamp}.{'dump' if vendor == 'postgresql' else 'sqlite3'}"
    target.touch(mode=0o600)
    try:
        if vendor == "postgresql":
            manifest = _pg_backup(target)
        else:
            _sqlite_copy(Path(settings.DATABASES["default"]["NAME"]), target)
            # The copy inherits WAL mode; a backup is one self-contained file.
            with sqlite3.connect(target) as copy:
                copy.execute("PRAGMA journal_mode=DELETE")
            copy.close()
            manifest = _sqlite_manifest(target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    manifest_path(target).write_text(json.dumps(asdict(manifest), indent=1, sort_keys=True))
    manifest_path(target).chmod(0o600)
    return target, manifest


def backup_latest(directory: Path | None = None) -> Path:
    folder = directory or backup_dir()
    found = sorted([*folder.glob("vigil-*.dump"), *folder.glob("vigil-*.sqlite3")])
    if not found:
        raise BackupError(f"No backup in {folder}.")
    return found[-1]


def backup_restore(backup: Path) -> None:
    """Restores ``backup`` into the configured database, replacing what is there. Stop
    web, worker and beat first (the Makefile's ``restore`` says so)."""
    if _vendor() == "postgresql":
        _pg_restore(backup, settings.DATABASES["default"]["NAME"], clean=True)
    else:
        _sqlite_copy(backup, Path(settings.DATABASES["default"]["NAME"]))


@dataclass(frozen=True)
class DrillResult:
    backup: Path
    expected: Manifest
    restored: Manifest
    seconds: float
    differences: list[str]

    @property
    def passed(self) -> bool:
        return not self.differences


@contextmanager
def _scratch() -> Iterator[str]:
    """A scratch database for the drill: a PostgreSQL database of its own, or a file."""
    if _vendor() == "postgresql":
        name = f"{settings.DATABASES['default']['NAME']}_restore_drill"[:63]
        _pg_database_recreate(name)
        try:
            yield name
        finally:
            _pg_database_drop(name)
    else:
        with tempfile.TemporaryDirectory(prefix="vigil-drill-") as folder:
            yield str(Path(folder) / "restored.sqlite3")


def restore_drill(backup: Path) -> DrillResult:
    """Restores ``backup`` into a scratch database and compares it with its manifest."""
    expected = manifest_load(backup)
    if expected.vendor != _vendor():
        raise BackupError(f"{backup.name} is a {expected.vendor} backup; this installation runs on {_vendor()}.")
    with _scratch() as scratch:
        started = time.monotonic()
        if expected.vendor == "postgresql":
            _pg_restore(backup, scratch, clean=False)
            seconds = time.monotonic() - started
            with _pg_connect(scratch) as connection, connection.cursor() as cursor:
                restored = _manifest_read(cursor, "postgresql")
        else:
            _sqlite_copy(backup, Path(scratch))
            seconds = time.monotonic() - started
            restored = _sqlite_manifest(Path(scratch))
    return DrillResult(backup, expected, restored, seconds, expected.differences(restored))
