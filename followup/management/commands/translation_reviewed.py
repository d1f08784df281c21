"""Record that a clinician or native speaker has checked translations (H6).

    manage.py translation_reviewed tr --by "Dr. Aydın" --msgid "Alerts" --msgid "Sign in"
    manage.py translation_reviewed tr --by "Dr. Aydın" --all

Writes the review comment (followup.translation_review) on each named entry of
``locale/<language>/LC_MESSAGES/django.po`` as its English and translation stand now;
``--all`` on every translated entry (after reading the whole catalogue). An entry
that is fuzzy or untranslated cannot be reviewed. The metrics page counts what is
left."""

from __future__ import annotations

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from followup.translation_review import CATALOGUE_LANGUAGES, is_reviewed, review_comment


class Command(BaseCommand):
    help = "Record a review of translations in a gettext catalogue (H6)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("language", choices=CATALOGUE_LANGUAGES)
        parser.add_argument("--by", required=True, help="who reviewed (name, role)")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--msgid", action="append", help="an English message reviewed (repeat)")
        which.add_argument("--all", action="store_true", help="every translated entry of the catalogue")

    def handle(self, *args: object, **options: object) -> None:
        path = Path(settings.LOCALE_PATHS[0]) / str(options["language"]) / "LC_MESSAGES" / "django.po"
        catalogue = polib.pofile(str(path), wrapwidth=79)
        live = [entry for entry in catalogue if entry.msgid and not entry.obsolete]
        if options["all"]:
            entries = [entry for entry in live if entry.translated()]
        else:
            by_msgid = {entry.msgid: entry for entry in live}
            missing = [msgid for msgid in options["msgid"] or [] if msgid not in by_msgid]  # type: ignore[attr-defined]
            if missing:
                raise CommandError(f"not in {path}: {missing}")
            entries = [by_msgid[msgid] for msgid in options["msgid"]]  # type: ignore[attr-defined]
            drafts = [entry.msgid for entry in entries if entry.fuzzy or not entry.translated()]
            if drafts:
                raise CommandError(f"fuzzy or untranslated, translate them first: {drafts}")
        today = timezone.localdate()
        marked = 0
        for entry in entries:
            if is_reviewed(entry):
                continue
            kept = [line for line in (entry.tcomment or "").splitlines() if not line.startswith("reviewed:")]
            entry.tcomment = "\n".join([*kept, review_comment(entry, by=str(options["by"]), on=today)])
            marked += 1
        catalogue.save(str(path))
        self.stdout.write(f"{marked} entries of {path} recorded as reviewed by {options['by']}.")
