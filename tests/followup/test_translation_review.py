"""Reviewed translations (issue 19, H6): a catalogue entry counts as reviewed while the
review comment's fingerprint matches its English and translation; staff and patient
strings are counted apart, the protocol's texts by their review status; the metrics
page lists per language what is still unreviewed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polib
import pytest
from django.test import Client

from backend.models import User
from followup.protocols import DEFAULT_DATA_DIR, load_protocol
from followup.translation_review import CATALOGUE_LANGUAGES, is_reviewed, review_comment, review_counts

STAFF = ("Alerts", "Uyarılar", "followup/templates/followup/dashboard/queue.html")
PATIENT = ("How are you today?", "Bugün nasılsınız?", "followup/templates/followup/checkin/form.html")
STAFF_SMS = (
    "Vigil: alert %(code)s is already resolved.",
    "Vigil: %(code)s kodlu uyarı zaten kapatılmış.",
    "followup/sms/texts.py",
)


def _catalogue(locale: Path, *entries: tuple[str, str, str]) -> Path:
    path = locale / "tr" / "LC_MESSAGES" / "django.po"
    path.parent.mkdir(parents=True)
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": "tr"}
    for msgid, msgstr, source in entries:
        po.append(polib.POEntry(msgid=msgid, msgstr=msgstr, occurrences=[(source, "1")]))
    po.save(str(path))
    return path


def _tr(locale: Path):  # type: ignore[no-untyped-def]
    return next(count for count in review_counts(protocols=[], locale_dir=locale) if count.language == "tr")


def test_a_review_counts_until_the_translation_changes(tmp_path: Path) -> None:
    path = _catalogue(tmp_path, STAFF, PATIENT, STAFF_SMS)
    first = _tr(tmp_path)
    assert (first.staff_unreviewed, first.staff_total, first.patient_unreviewed, first.patient_total) == (2, 2, 1, 1)

    po = polib.pofile(str(path))
    for entry in po:
        entry.tcomment = review_comment(entry, by="Dr. Aydın", on=date(2026, 12, 6))
    po.save(str(path))
    reviewed = _tr(tmp_path)
    assert (reviewed.staff_unreviewed, reviewed.patient_unreviewed) == (0, 0)

    po = polib.pofile(str(path))
    po.find(PATIENT[0]).msgstr = "Bugün kendinizi nasıl hissediyorsunuz?"  # changed after the review
    po.find(STAFF[0]).flags.append("fuzzy")
    po.save(str(path))
    changed = _tr(tmp_path)
    assert (changed.staff_unreviewed, changed.patient_unreviewed) == (1, 1)
    assert not is_reviewed(po.find(PATIENT[0]))


def test_the_protocols_texts_count_by_their_review_status() -> None:
    protocol = load_protocol(DEFAULT_DATA_DIR / "post-hepatectomy")
    counts = review_counts(protocols=[protocol], locale_dir=Path("/nonexistent"))
    assert [count.language for count in counts] == list(CATALOGUE_LANGUAGES)
    patient_texts = len(protocol.questions) + len(protocol.advice_texts) + len(protocol.sms_texts)
    for count in counts:  # every text of the default protocol is a draft today
        assert (count.staff_unreviewed, count.staff_total) == (len(protocol.rule_titles), len(protocol.rule_titles))
        assert (count.patient_unreviewed, count.patient_total) == (patient_texts, patient_texts)


@pytest.mark.django_db
def test_the_metrics_page_lists_the_unreviewed_strings_per_language(nurse: User) -> None:
    browser = Client()
    browser.force_login(nurse)
    page = browser.get("/dashboard/metrics/").content.decode()
    assert "Translations not yet reviewed" in page
    for language in CATALOGUE_LANGUAGES:
        assert f'id="translation-review-{language}"' in page
