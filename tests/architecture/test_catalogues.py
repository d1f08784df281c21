"""The gettext catalogues are complete and compiled (issue 19, must-show 1's CI half).

A string added to the code or a template without its translations would show English
on a Turkish nurse's page or in a Turkish surgeon's page at night. So `makemessages`
is run on a copy of the tree, exactly as a translator would run it, and every
catalogue it leaves (tr, de, ru, uk, az: English is the source, it has none) must have
no untranslated and no fuzzy entry. And each tracked .mo must say what its .po says:
Django reads only the .mo, so a translation fixed in the .po but not compiled is a
translation nobody sees.

Fix a failure with (``locale/`` is tracked, .po and .mo):
    manage.py makemessages -l tr -l de -l ru -l uk -l az --no-obsolete
    (translate what is new or fuzzy in locale/<lang>/LC_MESSAGES/django.po)
    manage.py compilemessages -l tr -l de -l ru -l uk -l az
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("tr", "de", "ru", "uk", "az")
# Not source: what makemessages would otherwise walk for nothing (or for someone
# else's strings, in the virtualenv).
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "data", "node_modules", "__pycache__", ".*_cache", ".hypothesis", "test-artifacts", "*.mo"
)


def _catalogue(root: Path, language: str) -> Path:
    return root / "locale" / language / "LC_MESSAGES" / "django.po"


def _remade_copy(directory: Path, *, added: dict[str, str] | None = None) -> Path:
    """A copy of the tree (with ``added`` files) whose catalogues makemessages has just
    brought up to date."""
    if shutil.which("xgettext") is None:
        pytest.fail("makemessages needs GNU gettext (xgettext): install the gettext package (apt install gettext)")
    copy = directory / "tree"
    shutil.copytree(ROOT, copy, ignore=NOT_COPIED)
    for name, text in (added or {}).items():
        (copy / name).write_text(text, encoding="utf-8")
    languages = [flag for language in LANGUAGES for flag in ("-l", language)]
    # The copy's manage.py loads the copy's settings, so LOCALE_PATHS is the copy's.
    env = {**os.environ, "PYTHONPATH": str(copy)}
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", *languages, "--no-obsolete"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, f"makemessages failed:\n{result.stdout}\n{result.stderr}"
    return copy


@pytest.fixture(scope="module")
def remade(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _remade_copy(tmp_path_factory.mktemp("catalogues"))


def _where(entry: polib.POEntry) -> str:
    places = ", ".join(f"{path}:{line}" for path, line in entry.occurrences[:2])
    return f"{entry.msgid!r} ({places})"


@pytest.mark.parametrize("language", LANGUAGES)
def test_makemessages_finds_nothing_untranslated_or_fuzzy(remade: Path, language: str) -> None:
    catalogue = polib.pofile(str(_catalogue(remade, language)))
    untranslated = [_where(entry) for entry in catalogue.untranslated_entries()]
    fuzzy = [_where(entry) for entry in catalogue.fuzzy_entries()]
    assert not untranslated, f"{language}: not translated:\n  " + "\n  ".join(untranslated)
    assert not fuzzy, f"{language}: fuzzy (check and confirm the translation):\n  " + "\n  ".join(fuzzy)


def test_the_check_sees_a_string_nobody_translated(tmp_path: Path) -> None:
    probe = "A probe string nobody translated"
    code = f"from django.utils.translation import gettext_noop\n\nPROBE = gettext_noop({probe!r})\n"
    copy = _remade_copy(tmp_path, added={"followup/catalogue_probe.py": code})
    catalogue = polib.pofile(str(_catalogue(copy, "tr")))
    assert probe in [entry.msgid for entry in catalogue.untranslated_entries()]


def _messages(entries: list[polib.POEntry] | polib.MOFile) -> dict[tuple[str | None, str], object]:
    found: dict[tuple[str | None, str], object] = {}
    for entry in entries:
        if not entry.msgid or entry.obsolete:
            continue  # the header
        text = dict(entry.msgstr_plural) if entry.msgid_plural else entry.msgstr
        found[(entry.msgctxt, entry.msgid)] = text
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_compiled_catalogue_says_what_its_source_says(language: str) -> None:
    source = _catalogue(ROOT, language)
    compiled = source.with_suffix(".mo")
    assert compiled.exists(), f"{compiled} is missing: run compilemessages"
    po = polib.pofile(str(source))
    expected = _messages(po.translated_entries())
    got = _messages(polib.mofile(str(compiled)))
    stale = sorted(msgid for key, msgid in ((key, key[1]) for key in expected) if got.get(key) != expected[key])
    extra = sorted(key[1] for key in got if key not in expected)
    assert not stale and not extra, (
        f"{language}: django.mo is not compiled from django.po (run compilemessages): "
        f"differs for {stale[:5]}, only in the .mo: {extra[:5]}"
    )
