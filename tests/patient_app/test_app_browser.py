"""The patient app in Debian's chromium on a 360-px phone (issue 18, must-show 1, 3, 5
and 6's staff half), one browser for the module, the pages in sequence:

- a Turkish patient signs in with the code the clinic texted, opens the due check-in
  from the big button on the home page, answers one question per screen (a
  temperature out of range is refused before anything is sent, then given with a
  decimal comma), sees the result and the chart of her temperature;
- a red answer shows the call button to the clinic before anything else (H2);
- the recall the red finding proposed is confirmed with the Confirm button, and a
  websocket client of the clinic's dashboard receives ``appointment.updated``;
- no page breaks the Content-Security-Policy (no inline script or style);
- every visible string of these pages is Turkish (the staff language walk's check:
  H6), and axe-core finds no serious or critical issue on any of them;
- a nurse's session in the same browser gets a 403 from /app/ (H12)."""

from __future__ import annotations

import json
import os
import queue
import re
import threading

import pytest

from backend.models import Role
from backend.services import enrollment_code_create
from followup.models import Appointment, CheckIn
from tests.answers import green_answers
from tests.browser_dashboard.test_csp import LISTENER, VIOLATION_PREFIX
from tests.browser_dashboard.test_dashboard_browser import daphne_server  # noqa: F401 (fixture)
from tests.browser_dashboard.test_staff_language_walk import english_left, english_on
from tests.browser_support import launch_chromium
from tests.factories import PASSWORD, UserFactory
from tests.ws_tickets import ws_ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 360, "height": 740}


def _answer_steps(page, answers: dict, *, first_try: dict | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    """Answer the check-in one screen at a time; the ids of the questions seen, in order."""
    seen: list[str] = []
    first_try = dict(first_try or {})
    for _ in range(60):
        visible = page.locator("fieldset.question:visible")
        assert visible.count() == 1, "one question per screen on a phone"
        question = visible.first.get_attribute("data-question")
        seen.append(question)
        value = answers[question]
        if isinstance(value, bool):
            visible.first.locator(f'input[value="{"yes" if value else "no"}"]').check()
        elif isinstance(value, str):
            visible.first.locator(f'input[value="{value}"]').check()
        else:
            field = visible.first.locator("input[type=text]")
            if question in first_try:
                field.fill(first_try.pop(question))
                page.click("#step-next")
                assert page.locator(f"#{question}-errors").inner_text().strip(), "a range error before sending"
                assert page.locator("fieldset.question:visible").get_attribute("data-question") == question
            field.fill(str(value).replace(".", ","))
        if page.locator("#step-next").is_visible():
            page.click("#step-next")
        else:
            page.click("#send")
            return seen
    raise AssertionError("the check-in never reached its last question")


def _serious(page) -> list[str]:  # type: ignore[no-untyped-def]
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def test_a_turkish_patient_checks_in_on_a_phone_and_confirms_her_recall(
    daphne_server,  # noqa: F811 (fixture)
    clinic,
    nurse,
    make_enrolled,
    make_due_check_in,
):
    patient = make_enrolled(given_name="Ayşe", family_name="Demir", language="tr", timezone="Europe/Istanbul")
    due = make_due_check_in(patient, channel="app")
    code = enrollment_code_create(patient=patient, by=nurse)
    left = english_left()
    events: queue.Queue = queue.Queue()
    ticket = ws_ticket(nurse, origin=None)
    stop = threading.Event()

    def listen() -> None:
        from websockets.sync.client import connect

        url = daphne_server.replace("http://", "ws://") + f"/ws/alerts/?ticket={ticket}"
        from websockets.exceptions import ConnectionClosed

        with connect(url, open_timeout=10) as socket:
            events.put({"type": "connected"})
            while not stop.is_set():
                try:
                    events.put(json.loads(socket.recv(timeout=0.5)))
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert events.get(timeout=15)["type"] == "connected"

    from playwright.sync_api import expect, sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    english: dict[str, list] = {}
    inaccessible: dict[str, list[str]] = {}
    too_wide: dict[str, int] = {}

    def check(page, name: str) -> None:  # type: ignore[no-untyped-def]
        expect(page.locator("html")).to_have_attribute("lang", "tr")
        if found := english_on(page, left):
            english[name] = found
        if issues := _serious(page):
            inaccessible[name] = issues
        # Readable on a 360-px phone: nothing wider than the screen (no sideways scrolling).
        if (width := page.evaluate("document.documentElement.scrollWidth")) > PHONE["width"]:
            too_wide[name] = width

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(
                viewport=PHONE, locale="tr-TR", extra_http_headers={"Accept-Language": "tr-TR,tr;q=0.9"}
            )
            # Every page under the Content-Security-Policy without a violation (no inline script or style).
            context.add_init_script(LISTENER)
            page = context.new_page()
            script_errors: list[str] = []
            page.on("pageerror", lambda error: script_errors.append(str(error)))
            page.on(
                "console",
                lambda message: (
                    script_errors.append(message.text)
                    if VIOLATION_PREFIX in message.text or "Content Security Policy" in message.text
                    else None
                ),
            )

            page.goto(f"{daphne_server}/app/sign-in/")
            check(page, "sign-in")
            page.fill("#id_phone", str(patient.phone))
            page.fill("#id_code", code)
            page.locator("main form button[type=submit]").click()
            page.wait_for_url(re.compile(r".*/app/$"))
            check(page, "home")

            page.click("a.big-button")
            page.wait_for_url(re.compile(r".*/app/check-in/$"))
            check(page, "check-in")
            # A wide screen shows every question on one page; a phone one at a time.
            page.set_viewport_size({"width": 1280, "height": 900})
            expect(page.locator("#step-next")).to_be_hidden()
            assert page.locator("fieldset.question:visible").count() > 10
            page.set_viewport_size(PHONE)
            expect(page.locator("fieldset.question:visible")).to_have_count(1)
            answers = green_answers(temperature_c=37.2, weight_kg=79.5)
            seen = _answer_steps(page, answers, first_try={"temperature_c": "45"})
            # Skip logic: "fluids kept down" is asked only after vomiting.
            assert "temperature_c" in seen and "fluids_kept_down" not in seen
            page.wait_for_url(re.compile(r".*/app/check-ins/\d+/$"))
            stored = CheckIn.objects.get(scheduled_check_in=due)
            assert stored.answers["temperature_c"] == 37.2 and stored.answers["weight_kg"] == 79.5
            assert stored.level == "green"
            # taken_at: when the last answer was given on the phone, before it was sent.
            assert stored.taken_at < stored.submitted_at
            expect(page.locator(".result.green .advice")).to_have_text(stored.advice)
            check(page, "result (green)")

            page.click("a[href='/app/history/']")
            chart = page.locator('.chart[data-series="temperature_c"] canvas')
            expect(chart.first).to_be_visible()
            series = json.loads(page.locator("#series-data").text_content())
            temperatures = [value for one in series if one["id"] == "temperature_c" for _at, value in one["points"]]
            assert temperatures == [37.2]
            check(page, "history")

            # A red answer: the call to the clinic comes before everything else.
            page.goto(f"{daphne_server}/app/check-in/")
            seen = _answer_steps(page, green_answers(jaundice=True, vomiting_episodes_24h=2, fluids_kept_down=True))
            assert seen.index("fluids_kept_down") == seen.index("vomiting_episodes_24h") + 1
            page.wait_for_url(re.compile(r".*/app/check-ins/\d+/$"))
            first_link = page.evaluate("() => document.querySelector('body a, body button').id")
            assert first_link == "call-clinic"
            call = page.locator("#call-clinic")
            assert call.get_attribute("href") == f"tel:{clinic.phone}"
            assert call.bounding_box()["y"] < page.locator("h1").bounding_box()["y"]
            assert call.bounding_box()["y"] < page.locator("nav.app-nav").bounding_box()["y"]
            check(page, "result (red)")

            recall = Appointment.objects.get(patient=patient, kind=Appointment.Kind.RECALL)
            page.click("a[href='/app/plan/']")
            check(page, "plan")
            page.locator(f'[data-appointment="{recall.pk}"] button.confirm').click()
            page.wait_for_url(re.compile(r".*/app/plan/$"))
            while True:
                event = events.get(timeout=15)
                if event.get("type") == "appointment.updated" and event["data"]["status"] == "confirmed":
                    break
            assert event["data"]["id"] == recall.pk
            recall.refresh_from_db()
            assert recall.status == Appointment.Status.CONFIRMED

            page.click("a[href='/app/messages/']")
            page.fill("#message-body", "Yaram biraz kızardı, fotoğraf gönderebilir miyim?")
            page.locator("main form button[type=submit]").click()
            expect(page.locator(".app-thread li.mine .body")).to_have_text(
                "Yaram biraz kızardı, fotoğraf gönderebilir miyim?"
            )
            check(page, "messages")
            page.click("a[href='/app/']")
            check(page, "home (after)")
            assert not script_errors, script_errors

            # A nurse signed in on the same browser cannot use the app (H12).
            staff = UserFactory(clinic=clinic, role=Role.NURSE)
            page.goto(f"{daphne_server}/login/")
            page.fill("#id_username", staff.username)
            page.fill("#id_password", PASSWORD)
            page.locator("main form button[type=submit]").click()
            page.wait_for_url(re.compile(r".*/plans/today/.*"))
            assert page.goto(f"{daphne_server}/app/").status == 403

            # The check sees English where there is English: the sign-in page asked in English.
            english_page = browser.new_context(viewport=PHONE, locale="en-GB").new_page()
            english_page.goto(f"{daphne_server}/app/sign-in/")
            assert english_on(english_page, left), "the Turkish check would see English"
        finally:
            stop.set()
            browser.close()
    assert not english, english
    assert not inaccessible, inaccessible
    assert not too_wide, too_wide
