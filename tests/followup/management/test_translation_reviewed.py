"""``manage.py translation_reviewed`` records a review on the catalogue's entries, which
the metrics page then counts as reviewed (issue 19, H6)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polib
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from followup.translation_review import is_reviewed, review_counts


@pytest.fixture
def locale(tmp_path: Path, settings: Any) -> Path:
    """A copy of the Turkish catalogue the command may write to."""
    copy = tmp_path / "locale"
    shutil.copytree(Path(settings.BASE_DIR) / "locale" / "tr", copy / "tr")
    settings.LOCALE_PATHS = [copy]
    return copy / "tr" / "LC_MESSAGES" / "django.po"


def _unreviewed_staff(locale: Path) -> int:
    return next(count for count in review_counts(protocols=[], locale_dir=locale.parents[2])).staff_unreviewed


def test_named_entries_are_recorded_as_reviewed(locale: Path) -> None:
    before = _unreviewed_staff(locale)
    call_command("translation_reviewed", "tr", "--by", "Dr. Aydın", "--msgid", "Alerts", "--msgid", "Sign in")
    catalogue = polib.pofile(str(locale))
    assert is_reviewed(catalogue.find("Alerts")) and is_reviewed(catalogue.find("Sign in"))
    assert "Dr. Aydın" in catalogue.find("Alerts").tcomment
    assert not is_reviewed(catalogue.find("Sign out"))
    assert _unreviewed_staff(locale) == before - 2


def test_all_marks_every_translated_entry(locale: Path) -> None:
    call_command("translation_reviewed", "tr", "--by", "Native speaker", "--all")
    counts = next(iter(review_counts(protocols=[], locale_dir=locale.parents[2])))
    assert (counts.staff_unreviewed, counts.patient_unreviewed) == (0, 0)


def test_an_unknown_message_is_refused(locale: Path) -> None:
    with pytest.raises(CommandError, match="not in"):
        call_command("translation_reviewed", "tr", "--by", "X", "--msgid", "No such message")
    assert settings.LOCALE_PATHS[0] == locale.parents[2]
