"""`manage.py research_export --by ADMIN --out FILE.zip`: the pseudonymised research
export of the admin's clinic (followup.research_export), audited under that admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backend.models import Role, User
from followup.research_export import research_export_build


class Command(BaseCommand):
    help = "Write the clinic's pseudonymised research export (check-ins, alerts, outcomes as CSV in a ZIP)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--by", required=True, help="The username of the clinic admin making the export.")
        parser.add_argument("--out", required=True, type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        admin = User.objects.filter(username=options["by"], role=Role.ADMIN, is_active=True).first()
        if admin is None or admin.clinic_id is None:
            raise CommandError(f"{options['by']!r} is not an active clinic admin.")
        export = research_export_build(clinic_id=admin.clinic_id, by=admin)
        options["out"].touch(mode=0o600)
        options["out"].write_bytes(export.content)
        counts = ", ".join(f"{count} {name}" for name, count in export.counts.items())
        self.stdout.write(f"{options['out']}: {counts} (export {export.export_id})")
