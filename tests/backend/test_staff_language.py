"""Issue 19: each staff member's language is stored on their user and used for every
page (backend.middleware.StaffLanguageMiddleware) and every text sent to them
(backend.staff_texts); the clinic's default language when they have not chosen one."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from backend.models import LANGUAGE_CHOICES, Clinic, User
from backend.staff_texts import staff_language, staff_text
from followup.services.checkins import checkin_submit
from followup.sms.texts import ACK_DONE
from tests.factories import red_answers

pytestmark = pytest.mark.django_db


def _dashboard_path(user: User, path: str, **headers: Any) -> str:
    """A staff page as a browser that has never been here sees it: no language
    cookie, no session language."""
    browser = Client()
    browser.force_login(user)
    response = browser.get(path, **headers)
    assert response.status_code == 200
    return response.content.decode()


def _dashboard(user: User, **headers: Any) -> str:
    return _dashboard_path(user, "/dashboard/", **headers)


def test_the_languages_are_the_installations_six() -> None:
    assert list(settings.LANGUAGES) == LANGUAGE_CHOICES


def test_a_nurse_reads_her_stored_language_on_a_fresh_browser_whatever_the_browser_says(nurse: User) -> None:
    nurse.language = "tr"
    nurse.save()
    for headers in ({}, {"HTTP_ACCEPT_LANGUAGE": "en"}):
        page = _dashboard(nurse, **headers)
        assert '<html lang="tr">' in page
        assert "<h1>Uyarılar</h1>" in page


def test_without_a_stored_language_the_clinics_default_is_used(nurse: User, clinic: Clinic) -> None:
    clinic.default_language = "de"
    clinic.save()
    page = _dashboard(nurse, HTTP_ACCEPT_LANGUAGE="ru")
    assert '<html lang="de">' in page
    assert "<h1>Alarme</h1>" in page
    assert staff_language(nurse) == "de"


def test_a_signed_out_visitor_keeps_the_browsers_language(client: Client) -> None:
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert '<html lang="ru">' in page


def test_a_staff_text_is_in_the_persons_language_and_else_the_clinics(nurse: User, clinic: Clinic) -> None:
    clinic.default_language = "uk"
    clinic.save()
    assert staff_text(user=nurse, message=ACK_DONE, code="4F7K") == (
        "Vigil: ви підтвердили тривогу 4F7K. Ескалацію зупинено."
    )
    nurse.language = "en"
    assert staff_text(user=nurse, message=ACK_DONE, code="4F7K") == (
        "Vigil: alert 4F7K acknowledged by you. Escalation stopped."
    )


def test_the_alert_page_names_the_rule_in_the_readers_language(nurse: User, make_enrolled: Any) -> None:
    patient = make_enrolled()
    result = checkin_submit(patient_id=patient.pk, answers=red_answers(), channel="app")  # jaundice
    nurse.language = "tr"
    nurse.save()
    page = _dashboard_path(nurse, f"/dashboard/alerts/{result.alert_ids[0]}/")
    assert '<h1 class="rule">Sarılık</h1>' in page
    nurse.language = "en"
    nurse.save()
    assert '<h1 class="rule">Jaundice</h1>' in _dashboard_path(nurse, f"/dashboard/alerts/{result.alert_ids[0]}/")
