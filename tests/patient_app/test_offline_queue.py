"""The app's check-in on a phone without a connection (issue 18, must-show 2), in
Debian's chromium against daphne: the browser context is set offline, the patient
answers the due check-in and sees "saved" (queue.js keeps the answers in IndexedDB
with the time they were given and one Idempotency-Key); back online exactly one
check-in is stored, with the answer time, judged by the rules; a reload, a second
tab and the same answer set sent again store nothing more. A red answer given
offline shows the call to the clinic at once, from the red advice held in the page
(H2), before the server has seen it."""

from __future__ import annotations

import os
import re
from datetime import datetime

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from followup.models import CheckIn
from tests.answers import green_answers
from tests.browser_dashboard.test_dashboard_browser import daphne_server  # noqa: F401 (fixture)
from tests.browser_support import launch_chromium
from tests.patient_app.conftest import app_sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 360, "height": 740}
SAVED = "Saved on this phone: your answers will be sent when you are online again."
OUTBOX = """() => new Promise((resolve, reject) => {
  const request = indexedDB.open("vigil-app", 1);
  request.onsuccess = () => {
    const all = request.result.transaction("outbox").objectStore("outbox").getAll();
    all.onsuccess = () => { resolve(all.result); request.result.close(); };
    all.onerror = () => reject(all.error);
  };
  request.onerror = () => reject(request.error);
})"""
# The worker's scope once it is active, or why not within 30 s (never a hang).
READY = """() => Promise.race([
  navigator.serviceWorker.ready.then((r) => new URL(r.scope).pathname),
  new Promise((resolve) => setTimeout(() => resolve("not ready after 30 s"), 30000)),
])"""
LISTEN = "() => { window.heard = []; window.addEventListener('vigil-queue', (e) => window.heard.push(e.detail)); }"
PUT_BACK = """(entry) => new Promise((resolve, reject) => {
  const request = indexedDB.open("vigil-app", 1);
  request.onsuccess = () => {
    const tx = request.result.transaction("outbox", "readwrite");
    tx.objectStore("outbox").put(entry);
    tx.oncomplete = () => { request.result.close(); resolve(true); };
    tx.onerror = () => reject(tx.error);
  };
})"""


def _answer(page, answers: dict) -> None:  # type: ignore[no-untyped-def]
    """Answer one question per screen, as the patient does, and press Send."""
    for _ in range(60):
        visible = page.locator("fieldset.question:visible").first
        value = answers[visible.get_attribute("data-question")]
        if isinstance(value, bool):
            visible.locator(f'input[value="{"yes" if value else "no"}"]').check()
        elif isinstance(value, str):
            visible.locator(f'input[value="{value}"]').check()
        else:
            visible.locator("input[type=text]").fill(str(value).replace(".", ","))
        if page.locator("#step-next").is_visible():
            page.click("#step-next")
        else:
            page.click("#send")
            return
    raise AssertionError("the check-in never reached its last question")


def _browser_session(patient, nurse) -> str:  # type: ignore[no-untyped-def]
    client = app_sign_in(Client(), patient, nurse)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _open_check_in(browser, base: str, session: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=PHONE)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/app/check-in/")
    # The worker is installed (the app shell and this page cached) before the network goes.
    scope = page.evaluate(READY)
    assert scope == "/app/", f"the service worker did not become ready: {scope}"
    return context, page, errors


def test_answers_given_offline_are_sent_once_with_their_time_when_back_online(
    daphne_server,  # noqa: F811 (fixture)
    nurse,
    enrolled,
    make_due_check_in,
):
    due = make_due_check_in(enrolled, channel="app")
    session = _browser_session(enrolled, nurse)
    from playwright.sync_api import expect, sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context, page, errors = _open_check_in(browser, daphne_server, session)
            started = timezone.now()
            context.set_offline(True)
            _answer(page, green_answers(temperature_c=37.1))
            expect(page.locator("#checkin-status")).to_have_text(SAVED)
            [entry] = page.evaluate(OUTBOX)
            assert entry["key"] and entry["payload"]["scheduled_check_in"] == due.pk
            assert not CheckIn.objects.exists()
            # Still offline, a reload comes from the worker's cache and keeps the queue.
            page.reload()
            expect(page.locator("#app-checkin")).to_be_visible()
            assert len(page.evaluate(OUTBOX)) == 1 and not CheckIn.objects.exists()

            back_online = timezone.now()
            context.set_offline(False)
            # The queue goes on the `online` event; the page then opens the result.
            page.wait_for_url(re.compile(r".*/app/check-ins/\d+/$"), timeout=20_000)
            [stored] = CheckIn.objects.all()
            assert stored.scheduled_check_in_id == due.pk
            assert stored.level == "green" and stored.answers["temperature_c"] == 37.1
            # taken_at is when the patient answered, not when the phone got its signal back.
            assert started <= stored.taken_at <= back_online <= stored.submitted_at
            assert stored.taken_at == datetime.fromisoformat(entry["payload"]["taken_at"].replace("Z", "+00:00"))
            assert page.evaluate(OUTBOX) == []

            # Sending again: a reload, a second tab, and the same answer set put back in
            # the queue as if its deletion had been lost (same Idempotency-Key).
            page.reload()
            second = context.new_page()
            second.goto(f"{daphne_server}/app/")
            second.evaluate(LISTEN)
            second.evaluate(PUT_BACK, entry)
            second.evaluate("() => window.vigilQueue.flush()")
            # Sent by this flush or by the page load's own: either way, once, and answered
            # with the check-in stored the first time.
            second.wait_for_function("() => window.heard.some((d) => d.state === 'sent')")
            [heard] = second.evaluate("() => window.heard")
            assert heard["key"] == entry["key"] and heard["response"]["id"] == stored.pk
            assert CheckIn.objects.count() == 1
            assert second.evaluate(OUTBOX) == []
            assert errors == []
        finally:
            browser.close()


def test_a_red_answer_saved_offline_shows_the_call_at_once(
    daphne_server,  # noqa: F811 (fixture)
    clinic,
    nurse,
    enrolled,
    make_due_check_in,
):
    """H2: the call button comes from the protocol's red advice held in the page, while
    the answers wait for the network."""
    make_due_check_in(enrolled, channel="app")
    session = _browser_session(enrolled, nurse)
    from playwright.sync_api import expect, sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context, page, errors = _open_check_in(browser, daphne_server, session)
            expect(page.locator("#queued-red")).to_be_hidden()
            context.set_offline(True)
            _answer(page, green_answers(jaundice=True))
            red = page.locator("#queued-red")
            expect(red).to_be_visible()
            expect(red.locator("a.call-button")).to_have_attribute("href", f"tel:{clinic.phone}")
            assert not CheckIn.objects.exists()

            context.set_offline(False)
            page.wait_for_url(re.compile(r".*/app/check-ins/\d+/$"), timeout=20_000)
            [stored] = CheckIn.objects.all()
            assert stored.level == "red"
            assert errors == []
        finally:
            browser.close()


def test_a_green_answer_saved_offline_shows_no_call(
    daphne_server,  # noqa: F811 (fixture)
    nurse,
    enrolled,
    make_due_check_in,
):
    make_due_check_in(enrolled, channel="app")
    session = _browser_session(enrolled, nurse)
    from playwright.sync_api import expect, sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context, page, _errors = _open_check_in(browser, daphne_server, session)
            context.set_offline(True)
            _answer(page, green_answers(temperature_c=38.2))  # amber, not red
            expect(page.locator("#checkin-status")).to_have_text(SAVED)
            expect(page.locator("#queued-red")).to_be_hidden()
        finally:
            browser.close()


def test_answers_queued_for_one_patient_are_never_sent_with_anothers_session(
    daphne_server,  # noqa: F811 (fixture)
    nurse,
    enrolled,
    make_enrolled,
    make_due_check_in,
):
    """H5: on a phone two patients share, the answers one queued wait for her; the other
    patient's session (signed in after her) does not send them as his."""
    other = make_enrolled()
    make_due_check_in(other, channel="app")
    session = _browser_session(other, nurse)
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            _context, page, errors = _open_check_in(browser, daphne_server, session)
            hers = {
                "key": "left-by-the-first-patient",
                "patient": str(enrolled.pk),
                "csrf": "",
                "payload": {
                    "answers": green_answers(),
                    "taken_at": timezone.now().isoformat(),
                    "scheduled_check_in": None,
                },
                "saved_at": timezone.now().isoformat(),
            }
            page.evaluate(PUT_BACK, hers)
            assert page.evaluate("() => window.vigilQueue.flush()") == []
            page.reload()
            assert [entry["key"] for entry in page.evaluate(OUTBOX)] == ["left-by-the-first-patient"]
            assert not CheckIn.objects.exists()
            assert errors == []
        finally:
            browser.close()
