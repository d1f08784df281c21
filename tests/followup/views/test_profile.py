"""Issue 19: a staff member sets their language on their settings page or with the
pages' language switch; either way it is saved on their user, so the next browser
they sign in on speaks it too."""

from __future__ import annotations

import pytest
from django.test import Client

from backend.models import User

pytestmark = pytest.mark.django_db


def _signed_in(user: User) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def test_the_switch_saves_the_language_on_the_signed_in_staff_member(nurse: User) -> None:
    response = _signed_in(nurse).post("/i18n/setlang/", {"language": "ru", "next": "/plans/today/"})
    assert response.status_code == 302 and response["Location"] == "/plans/today/"
    nurse.refresh_from_db()
    assert nurse.language == "ru"
    # Another computer: no cookie, no session, and the page is in Russian.
    page = _signed_in(nurse).get("/dashboard/").content.decode()
    assert '<html lang="ru">' in page and "<h1>Тревоги</h1>" in page


def test_the_switch_before_sign_in_only_sets_the_browsers_language(client: Client, nurse: User) -> None:
    response = client.post("/i18n/setlang/", {"language": "az", "next": "/login/"})
    assert response.status_code == 302
    assert '<html lang="az">' in client.get("/login/").content.decode()
    nurse.refresh_from_db()
    assert nurse.language == ""


def test_an_unknown_language_from_the_switch_changes_nothing(nurse: User) -> None:
    _signed_in(nurse).post("/i18n/setlang/", {"language": "xx", "next": "/plans/today/"})
    nurse.refresh_from_db()
    assert nurse.language == ""


def test_the_settings_page_sets_and_clears_the_language(nurse: User) -> None:
    browser = _signed_in(nurse)
    page = browser.get("/profile/").content.decode()
    assert "The clinic&#x27;s default (English)" in page

    response = browser.post("/profile/", {"language": "tr"}, follow=True)
    nurse.refresh_from_db()
    assert nurse.language == "tr"
    page = response.content.decode()
    assert '<html lang="tr">' in page and "Diliniz kaydedildi." in page

    browser.post("/profile/", {"language": ""})
    nurse.refresh_from_db()
    assert nurse.language == ""


def test_the_settings_page_refuses_an_unknown_language(nurse: User) -> None:
    response = _signed_in(nurse).post("/profile/", {"language": "xx"})
    assert response.status_code == 200 and 'class="errorlist"' in response.content.decode()
    nurse.refresh_from_db()
    assert nurse.language == ""
