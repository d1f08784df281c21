"""`manage.py restore FILE --yes`: replaces the configured database with a backup.
Stop web, worker and beat first; run `restore_drill FILE` before, to know it restores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backend.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = "Restore a backup into the configured database, replacing its contents."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("backup", type=Path)
        parser.add_argument("--yes", action="store_true", help="Confirm: the database's contents are replaced.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["yes"]:
            raise CommandError(
                "This replaces the database's contents: add --yes (make restore BACKUP=... CONFIRM=yes)."
            )
        try:
            backup_restore(options["backup"])
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Restored {options['backup']}.")
