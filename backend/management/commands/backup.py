"""`manage.py backup [--dir DIR]`: a backup file and its manifest (backend.backups)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backend.backups import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database (pg_dump custom format, or SQLite's online backup) with its manifest."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dir", type=Path, default=None, help="Where to write (default: BACKUP_DIR).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path, manifest = backup_create(options["dir"])
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{path} ({sum(manifest.counts.values())} rows in {len(manifest.counts)} tables, "
            f"last event {manifest.last_event_seq}, {manifest.audit_count} audit records)"
        )
