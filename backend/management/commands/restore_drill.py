"""`manage.py restore_drill [FILE]`: restores a backup (default: the newest in
BACKUP_DIR) into a scratch database and compares row counts per table, the last event
sequence number and the audit trail with the backup's manifest. Exit 1 on a difference,
so cron mails it and CI fails on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backend.backups import BackupError, backup_latest, restore_drill


class Command(BaseCommand):
    help = "Restore a backup into a scratch database and check it against its manifest."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("backup", type=Path, nargs="?", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = restore_drill(options["backup"] or backup_latest())
        except BackupError as error:
            raise CommandError(str(error)) from error
        restored = result.restored
        self.stdout.write(
            f"{result.backup.name}: restored in {result.seconds:.1f} s; {len(restored.counts)} tables, "
            f"{sum(restored.counts.values())} rows, last event {restored.last_event_seq}, "
            f"{restored.audit_count} audit records (digest {restored.audit_digest[:12]})"
        )
        if not result.passed:
            raise CommandError("The restore differs from the backup:\n" + "\n".join(result.differences))
        self.stdout.write("Restore drill passed: every count, the last event and the audit trail match.")
