"""Which translations a clinician or native speaker has checked, and how many are still
drafts, per language, for staff and for patients (H6; issue 19, "reviewed
translations"; the metrics page shows the counts).

Two kinds of text, each with its own record of review:
- The gettext catalogues (``locale/<lang>/LC_MESSAGES/django.po``): an entry is
  reviewed when it carries the translator comment ``# reviewed: <fingerprint>
  <YYYY-MM-DD> <who>`` (``review_comment`` writes it; makemessages keeps translator
  comments). The fingerprint is taken from the English and the translation as they
  were reviewed, so a translation or an English text changed afterwards counts as
  unreviewed again. An entry is a patient string when one of the places it is used
  is patient-facing (``PATIENT_SOURCES``), else a staff string.
- The protocol's own texts, each with a ``review`` status per language: question
  wordings, advice and SMS texts are patient strings, rule titles staff strings.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polib
from django.conf import settings

from followup.protocols import ProtocolDefinition

CATALOGUE_LANGUAGES = ("tr", "de", "ru", "uk", "az")  # English is the source
# Where a gettext message reaches a patient: the web check-in, the SMS conversation
# and the texts around it, appointment reminders, the enrollment code, the patient's
# API answers. A message also used on a staff page still counts as a patient string.
PATIENT_SOURCES = (
    "followup/templates/followup/checkin/",
    "followup/views/checkin_form.py",
    "followup/sms/texts.py",
    "followup/sms/conversations.py",
    "followup/sms/endings.py",
    "followup/sms/recalls.py",
    "followup/services/appointment_reminders.py",
    "followup/api/checkins.py",
    "followup/api/me.py",
    "notifications/services.py",
)
# Staff messages defined beside patient ones in a patient-facing module: the pages
# and replies to on-call staff in followup/sms/texts.py start with "Vigil".
_STAFF_MESSAGE = re.compile(r"^Vigil\b")
_REVIEWED = re.compile(r"^reviewed: (?P<fingerprint>[0-9a-f]{12}) (?P<on>\d{4}-\d{2}-\d{2}) (?P<by>.+)$")


@dataclass(frozen=True)
class ReviewCount:
    language: str
    staff_unreviewed: int
    staff_total: int
    patient_unreviewed: int
    patient_total: int


def fingerprint(entry: polib.POEntry) -> str:
    """What a review vouches for: the English and its translation (every plural form)."""
    translation = "\x00".join(entry.msgstr_plural[key] for key in sorted(entry.msgstr_plural)) or entry.msgstr
    text = "\x04".join([entry.msgctxt or "", entry.msgid, entry.msgid_plural or "", translation])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def review_comment(entry: polib.POEntry, *, by: str, on: date) -> str:
    """The translator comment recording that ``by`` reviewed this translation ``on``."""
    return f"reviewed: {fingerprint(entry)} {on.isoformat()} {by}"


def is_reviewed(entry: polib.POEntry) -> bool:
    """Reviewed, and not changed since: a stale or fuzzy entry is a draft again."""
    if entry.fuzzy or not entry.translated():
        return False
    for line in (entry.tcomment or "").splitlines():
        match = _REVIEWED.match(line.strip())
        if match and match["fingerprint"] == fingerprint(entry):
            return True
    return False


def is_patient_string(entry: polib.POEntry) -> bool:
    if _STAFF_MESSAGE.match(entry.msgid):
        return False
    return any(path.startswith(PATIENT_SOURCES) for path, _line in entry.occurrences)


# Parsed catalogues by path and modification time: the metrics page reads five files
# at every load, and they change only when a translator commits.
_counted: dict[tuple[str, int], tuple[int, int, int, int]] = {}


def _catalogue_counts(path: Path) -> tuple[int, int, int, int]:
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _counted:
        _counted[key] = _count(path)
    return _counted[key]


def _count(path: Path) -> tuple[int, int, int, int]:
    staff_unreviewed = staff_total = patient_unreviewed = patient_total = 0
    for entry in polib.pofile(str(path)):
        if entry.obsolete or not entry.msgid:
            continue
        unreviewed = not is_reviewed(entry)
        if is_patient_string(entry):
            patient_total += 1
            patient_unreviewed += unreviewed
        else:
            staff_total += 1
            staff_unreviewed += unreviewed
    return staff_unreviewed, staff_total, patient_unreviewed, patient_total


def _protocol_statuses(protocol: ProtocolDefinition, language: str) -> tuple[list[str], list[str]]:
    """(staff, patient) review statuses of the protocol's texts in ``language``."""
    patient = [question.review.get(language, "draft") for question in protocol.questions]
    patient += [text.review.get(language, "draft") for text in protocol.advice_texts.values()]
    patient += [text.review.get(language, "draft") for text in protocol.sms_texts.values()]
    staff = [text.review.get(language, "draft") for text in protocol.rule_titles.values()]
    return staff, patient


def review_counts(*, protocols: list[ProtocolDefinition], locale_dir: Path | None = None) -> list[ReviewCount]:
    """Per catalogue language: staff and patient strings still unreviewed, of all."""
    root = Path(locale_dir or settings.LOCALE_PATHS[0])
    counts: list[ReviewCount] = []
    for language in CATALOGUE_LANGUAGES:
        path = root / language / "LC_MESSAGES" / "django.po"
        staff_unreviewed, staff_total, patient_unreviewed, patient_total = (
            _catalogue_counts(path) if path.exists() else (0, 0, 0, 0)
        )
        for protocol in protocols:
            staff, patient = _protocol_statuses(protocol, language)
            staff_total += len(staff)
            staff_unreviewed += sum(status != "reviewed" for status in staff)
            patient_total += len(patient)
            patient_unreviewed += sum(status != "reviewed" for status in patient)
        counts.append(ReviewCount(language, staff_unreviewed, staff_total, patient_unreviewed, patient_total))
    return counts
