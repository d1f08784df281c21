"""Staff pages in the staff member's language: the gettext catalogues are complete,
keep every placeholder, and the pages switch language (issue 4)."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

LANGUAGES = ("tr", "de", "ru", "uk", "az")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def catalogue(language: str) -> dict[object, str]:
    path = Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "django.mo"
    with path.open("rb") as handle:
        return gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]


def untranslated(language: str) -> list[str]:
    """Entries of the source catalogue (.po) whose translation is empty: msgfmt leaves
    them out of the .mo, and the page would silently show English."""
    path = Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "django.po"
    entries = path.read_text(encoding="utf-8").split("\n\n")[1:]  # the first is the header
    return [entry for entry in entries if re.search(r'^msgstr(\[\d\])? ""$(?!\n")', entry, re.MULTILINE)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_with_the_same_placeholders(language):
    """H6 for the pages' own words: nothing falls back to English silently, and a
    translation never drops the number or the name it must show."""
    assert untranslated(language) == []
    messages = catalogue(language)
    assert len(messages) > 200
    for key, text in messages.items():
        msgid = key[0] if isinstance(key, tuple) else key
        if not msgid:
            continue  # the header
        assert text.strip(), f"{language}: {msgid!r} is not translated"
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(msgid)), (language, msgid, text)


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "today"), [("tr", "Bugün"), ("de", "Heute"), ("ru", "Сегодня")])
def test_the_staff_pages_speak_the_chosen_language(client: Client, nurse, language, today):
    client.force_login(nurse)
    response = client.post("/i18n/setlang/", {"language": language, "next": "/plans/today/"})
    assert response.status_code == 302
    page = client.get("/plans/today/").content.decode()
    assert f'<html lang="{language}">' in page
    assert f">{today}<" in page


@pytest.mark.django_db
def test_the_browser_language_is_used_before_sign_in(client: Client):
    """Signed in, the staff member's stored language (else the clinic's) wins: issue 19,
    tests/backend/test_staff_language.py."""
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert "<h1>Увійти</h1>" in page
