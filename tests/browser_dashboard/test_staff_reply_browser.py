"""Issue 19, must-show 4 in a browser: two nurses have the same patient's page open
in Debian's chromium (daphne, a real websocket, the test's Redis). One starts a reply
from a quick reply in the patient's language, completes it and sends it; it shows in
the other nurse's thread without a reload (thread.js: the message.created event, then
the audited messages API), and on her own page after the form's round trip."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.test import Client

from backend.models import Patient, Role
from followup.services.quick_replies import quick_replies_seed
from notifications.models import OutgoingMessage
from tests.browser_dashboard.test_dashboard_browser import ARTIFACTS, daphne_server  # noqa: F401 (fixture)
from tests.browser_support import launch_chromium
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def _session(user) -> str:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_a_reply_sent_from_one_nurses_page_appears_live_on_the_others(
    daphne_server,  # noqa: F811
    clinic,
    nurse,
    patient: Patient,
) -> None:
    Patient.objects.filter(pk=patient.pk).update(language="tr")
    quick_replies_seed(clinic_id=clinic.pk)
    colleague = UserFactory(clinic=clinic, role=Role.NURSE)
    url = f"{daphne_server}/dashboard/patients/{patient.pk}/"

    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            pages = []
            for user in (nurse, colleague):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_cookies(
                    [{"name": settings.SESSION_COOKIE_NAME, "value": _session(user), "url": daphne_server}]
                )
                page = context.new_page()
                page.goto(url)
                pages.append(page)
            writer, watcher = pages
            expect(watcher.locator("#messages .thread-empty")).to_be_visible()
            # No wait for the watcher's socket: it connects with ?since= the seq its page was
            # rendered at, so an event raised before it is open is replayed to it.

            writer.get_by_role("button", name="Lütfen yarın saat … kliniğe gelin.").click()
            box = writer.locator("#reply-body")
            expect(box).to_have_value("Lütfen yarın saat … kliniğe gelin.")
            box.fill("Lütfen yarın saat 10:00'da kliniğe gelin.")
            writer.locator("#reply button[type=submit]").click()

            expect(writer.locator("#messages .message.outbound .body")).to_have_text(
                "Lütfen yarın saat 10:00'da kliniğe gelin."
            )
            live = watcher.locator("#messages .message.outbound .body")
            expect(live).to_have_text("Lütfen yarın saat 10:00'da kliniğe gelin.", timeout=10_000)
            watcher.screenshot(path=str(ARTIFACTS / "dashboard-reply-live.png"), full_page=True)
        finally:
            browser.close()

    [message] = OutgoingMessage.objects.filter(patient=patient)
    assert message.body == "Lütfen yarın saat 10:00'da kliniğe gelin."
