"""How patients' SMS replies were read, per language and per question: where a
question's wording fails (H16; the metrics page and ``manage.py sms_replies_report``).

The conversation engine records one ``SmsReplyReading`` per reply it reads. Per
(language, question) this counts

- ``replies``: every reading;
- ``first_replies``: readings of the first reply to the question (attempt 1);
- ``understood_first_time``: first replies that were understood, and their share of
  the first replies (``None`` before there is any);
- ``reasked``: replies not understood, the question asked once more;
- ``left_unanswered``: replies not understood a second time, the question left;
- ``handed_over``: replies that ended the conversation with a hand-over to a nurse.

Languages come in alphabetical order of their code, each with its questions in the
order of the post-hepatectomy protocol (questions it does not have last,
alphabetically) and a total. One aggregate query whatever the number of readings; the
protocol's question order and labels come from its data files (no query).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from followup.models import SmsReplyReading
from followup.protocols import DEFAULT_DATA_DIR, load_protocol
from followup.protocols.loader import PROTOCOL_FILE, RULES_FILE

PROTOCOL = "post-hepatectomy"

Outcome = SmsReplyReading.Outcome


@dataclass(frozen=True)
class SmsReplyRow:
    """The figures of one question in one language, or of a whole language (its
    total: ``question_id`` is empty)."""

    language: str
    question_id: str
    label: str
    replies: int
    first_replies: int
    understood_first_time: int
    reasked: int
    left_unanswered: int
    handed_over: int

    @property
    def understood_first_time_share(self) -> float | None:
        """Understood first time, as a share (0 to 1) of the first replies."""
        return self.understood_first_time / self.first_replies if self.first_replies else None

    @property
    def understood_first_time_percent(self) -> int | None:
        share = self.understood_first_time_share
        return None if share is None else round(share * 100)


@dataclass(frozen=True)
class SmsReplyLanguage:
    """One language: its questions in protocol order, then the total."""

    language: str
    questions: list[SmsReplyRow]
    total: SmsReplyRow


COUNTED = ("replies", "first_replies", "understood_first_time", "reasked", "left_unanswered", "handed_over")


def sms_reply_figures(*, clinic_id: int, since: datetime) -> list[SmsReplyLanguage]:
    """The clinic's reply readings since ``since``, per language and question (one query)."""
    rows = (
        SmsReplyReading.objects.filter(clinic_id=clinic_id, created_at__gte=since)
        .values("language", "question_id")
        .annotate(
            replies=Count("id"),
            first_replies=Count("id", filter=Q(attempt=1)),
            understood_first_time=Count("id", filter=Q(attempt=1, outcome=Outcome.UNDERSTOOD)),
            reasked=Count("id", filter=Q(outcome=Outcome.REASKED)),
            left_unanswered=Count("id", filter=Q(outcome=Outcome.LEFT_UNANSWERED)),
            handed_over=Count("id", filter=Q(outcome=Outcome.HANDED_OVER)),
        )
        .order_by()
    )
    questions = _protocol_questions()
    unknown = len(questions)
    by_language: dict[str, list[SmsReplyRow]] = {}
    for row in rows:
        question_id = row["question_id"]
        label = questions[question_id][1] if question_id in questions else question_id
        by_language.setdefault(row["language"], []).append(
            SmsReplyRow(
                language=row["language"],
                question_id=question_id,
                label=label,
                **{name: row[name] for name in COUNTED},
            )
        )
    figures = []
    for language in sorted(by_language):
        language_rows = sorted(
            by_language[language],
            key=lambda item: (questions.get(item.question_id, (unknown, ""))[0], item.question_id),
        )
        total = SmsReplyRow(
            language=language,
            question_id="",
            label="",
            **{name: sum(getattr(item, name) for item in language_rows) for name in COUNTED},
        )
        figures.append(SmsReplyLanguage(language=language, questions=language_rows, total=total))
    return figures


def _protocol_questions() -> dict[str, tuple[int, str]]:
    """``{question_id: (position, label)}`` from the protocol's data files; re-read
    when a file changes."""
    directory = DEFAULT_DATA_DIR / PROTOCOL
    stamp = tuple((directory / name).stat().st_mtime_ns for name in (PROTOCOL_FILE, RULES_FILE))
    return _protocol_questions_at(str(directory), stamp)


@functools.lru_cache(maxsize=4)
def _protocol_questions_at(directory: str, stamp: tuple[int, ...]) -> dict[str, tuple[int, str]]:
    definition = load_protocol(directory)
    return {question.id: (position, question.label) for position, question in enumerate(definition.questions)}
