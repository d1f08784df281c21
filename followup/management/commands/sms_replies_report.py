"""How patients' SMS replies were read, per language and question (H16): the metrics
page's "SMS replies" figures as a plain text table, to find a question whose wording
fails in a language.

    manage.py sms_replies_report                      # every clinic, last 30 days
    manage.py sms_replies_report --clinic 3 --days 7

One block per clinic: per language, each question in protocol order (first replies,
understood first time as a share of them, re-asks, left unanswered, hand-overs),
then the language's total. Counts only: no patient and no reply text.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from backend.models import Clinic
from followup.services.sms_reply_figures import SmsReplyRow, sms_reply_figures

HEADERS = (
    "language",
    "question",
    "first replies",
    "understood first time %",
    "re-asks",
    "left unanswered",
    "hand-overs",
)
TOTAL_LABEL = "(all questions)"


class Command(BaseCommand):
    help = "Print how patients' SMS replies were read, per clinic, language and question."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clinic", type=int, help="a clinic's id (default: every clinic, one block each)")
        parser.add_argument("--days", type=int, default=30, help="replies of the last N days (default: 30)")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days < 1:
            raise CommandError(f"--days must be 1 or more, not {days}")
        clinic_id = options.get("clinic")
        clinics = Clinic.objects.order_by("id")
        if clinic_id is not None:
            clinics = clinics.filter(pk=clinic_id)
            if not clinics.exists():
                raise CommandError(f"--clinic: there is no clinic with id {clinic_id}")
        since = timezone.now() - timedelta(days=days)
        for index, clinic in enumerate(clinics):
            if index:
                self.stdout.write("")
            self._clinic_block(clinic, since=since, days=days)

    def _clinic_block(self, clinic: Clinic, *, since: datetime, days: int) -> None:
        period = "day" if days == 1 else f"{days} days"
        self.stdout.write(f"Clinic {clinic.pk} ({clinic.name}): SMS replies in the last {period}")
        figures = sms_reply_figures(clinic_id=clinic.pk, since=since)
        if not figures:
            self.stdout.write("No SMS replies in this period.")
            return
        lines: list[tuple[str, ...]] = [HEADERS]
        for group in figures:
            lines.extend(_cells(group.language, row.label, row) for row in group.questions)
            lines.append(_cells(group.language, TOTAL_LABEL, group.total))
        widths = [max(len(line[column]) for line in lines) for column in range(len(HEADERS))]
        for position, line in enumerate(lines):
            text = "  ".join(
                cell.ljust(width) if column < 2 else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(line, widths, strict=True))
            )
            self.stdout.write(text.rstrip())
            if position == 0:
                self.stdout.write("  ".join("-" * width for width in widths))


def _cells(language: str, question: str, row: SmsReplyRow) -> tuple[str, ...]:
    percent = row.understood_first_time_percent
    return (
        language,
        question,
        str(row.first_replies),
        "-" if percent is None else str(percent),
        str(row.reasked),
        str(row.left_unanswered),
        str(row.handed_over),
    )
