"""The Content-Security-Policy holds on every page (issue 20, must-show 3): Debian's
chromium through Playwright, against daphne serving the ASGI application, visits each
kind of page in turn (sign-in, the clinic's day, patient search and plan, the live
dashboard receiving an alert over its websocket, the alert and patient pages, metrics,
the staff settings, the audit viewer and research export, the patient's web check-in form and its invalid
link, the API docs and the admin). Each answer carries the policy without
'unsafe-inline', and the browser reports no violation: neither in the console nor as a
``securitypolicyviolation`` event (an init script, which CSP does not govern, turns
each event into a console line that survives the page's navigation). A last step
injects an inline style on purpose and expects the listener to catch it, so a silent
listener cannot pass the test. A second walk signs a clinic admin in with two-factor
sign-in on, as in production (password, QR enrolment, recovery codes, the code step)
and visits the security, sessions, data-rights, audit and research pages. A third walks
the patient app (/app/) on a phone-sized screen."""

from __future__ import annotations

import os
import re

import pytest
from django.conf import settings
from django.test import Client
from knox.models import AuthToken

from backend.models import Role
from backend.services import patient_user_get_or_create
from followup.links import checkin_link_token
from tests.browser_dashboard.test_dashboard_browser import check_in_post, daphne_server  # noqa: F401 (fixture)
from tests.browser_support import launch_chromium
from tests.factories import UserFactory, green_answers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

VIOLATION_PREFIX = "csp-violation:"
LISTENER = f"""
document.addEventListener("securitypolicyviolation", (event) => {{
  console.error("{VIOLATION_PREFIX}" + event.violatedDirective + " " + event.blockedURI + " " + event.sourceFile);
}});
"""


def test_every_page_loads_under_the_policy_without_a_violation(
    daphne_server,  # noqa: F811
    clinic,
    chain,
    care_team,
    make_enrolled,
    make_due_check_in,
):
    surgeon = chain[0]
    admin = UserFactory(clinic=clinic, role=Role.ADMIN, is_staff=True, is_superuser=True)
    patient = make_enrolled(given_name="Mehmet", family_name="Yılmaz")
    scheduled = make_due_check_in(patient, channel="sms")
    form_token = checkin_link_token(scheduled_check_in_id=scheduled.pk)
    _instance, patient_token = AuthToken.objects.create(user=patient_user_get_or_create(patient))
    sessions = {}
    for user in (surgeon, admin):
        browser_client = Client()
        browser_client.force_login(user)
        sessions[user.pk] = browser_client.cookies[settings.SESSION_COOKIE_NAME].value

    from playwright.sync_api import expect, sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    console: list[str] = []
    visited: list[str] = []

    def visit(page, path: str, status: int = 200) -> None:
        response = page.goto(f"{daphne_server}{path}")
        assert response is not None and response.status == status, (path, response and response.status)
        assert page.url == f"{daphne_server}{path}", (path, page.url)  # not redirected to a sign-in step
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, (path, policy)
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, (path, policy)
        page.wait_for_load_state("networkidle")
        visited.append(path)

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(LISTENER)
            page = context.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))

            # Anonymous pages: sign-in, the patient's check-in form and a broken link.
            visit(page, "/login/")
            visit(page, f"/c/{form_token}/")
            expect(page.locator("form")).not_to_have_count(0)
            visit(page, "/c/not-a-link/", status=404)

            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": sessions[surgeon.pk], "url": daphne_server}]
            )
            visit(page, "/dashboard/")
            expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
            reply = check_in_post(daphne_server, patient_token, {"answers": green_answers(jaundice=True)})
            [alert_id] = reply["triage"]["alerts"]
            card = page.locator(f'.alert-card[data-alert-id="{alert_id}"]')
            expect(card).to_be_visible(timeout=5_000)
            card.get_by_role("button", name="Acknowledge").click()
            expect(card.locator('[data-slot="acknowledged-by"]')).not_to_be_empty(timeout=5_000)

            for path in (
                f"/dashboard/alerts/{alert_id}/",
                f"/dashboard/patients/{patient.pk}/",
                "/dashboard/metrics/",
                "/plans/today/",
                "/plans/patients/",
                f"/plans/patients/{patient.pk}/",
                "/profile/",
                "/api/docs/",
            ):
                visit(page, path)
            expect(page.locator(".swagger-ui")).not_to_have_count(0, timeout=10_000)

            # The clinic admin: the audit viewer and Django's admin (change lists with
            # actions, a change form with inlines and the two-box member picker).
            context.clear_cookies()
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": sessions[admin.pk], "url": daphne_server}]
            )
            for path in (
                "/audit/",
                "/research-export/",
                "/admin/",
                "/admin/backend/user/",
                f"/admin/backend/user/{surgeon.pk}/change/",
                f"/admin/backend/careteam/{care_team.pk}/change/",
            ):
                visit(page, path)

            clean = [line for line in console if VIOLATION_PREFIX in line or "Content Security Policy" in line]
            assert clean == [], clean

            # The listener is live: an inline style is refused and reported.
            with page.expect_console_message(lambda m: VIOLATION_PREFIX in m.text, timeout=5_000) as caught:
                page.evaluate("document.body.insertAdjacentHTML('beforeend', '<div style=\"color: red\">x</div>')")
            assert re.match(rf"{VIOLATION_PREFIX}style-src", caught.value.text), caught.value.text
        finally:
            browser.close()

    assert len(visited) == 18, visited


@pytest.fixture
def two_factor_on(monkeypatch):
    """The daphne a test starts after this runs with staff two-factor sign-in on."""
    monkeypatch.setenv("VIGIL_STAFF_2FA", "1")


@pytest.fixture
def daphne_two_factor(two_factor_on, daphne_server):  # noqa: F811
    return daphne_server


def test_the_two_factor_sign_in_and_the_admins_pages_load_under_the_policy(daphne_two_factor, clinic, make_enrolled):
    """A clinic admin's first sign-in as it happens in production: password, the
    enrolment code, the QR code of enrolment (an inline SVG), the recovery codes, then their security, sessions,
    data-rights, audit and research pages; signed out, the code step of the next
    sign-in. No violation on any of them."""
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect, sync_playwright

    from backend.enrolment_codes import enrolment_code_issue
    from tests.factories import PASSWORD

    base = daphne_two_factor
    admin = UserFactory(clinic=clinic, role=Role.ADMIN)
    patient = make_enrolled()
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    console: list[str] = []
    visited: list[str] = []

    def arrived(page, path: str) -> None:
        expect(page).to_have_url(f"{base}{path}", timeout=10_000)
        page.wait_for_load_state("networkidle")
        visited.append(path)

    def visit(page, path: str) -> None:
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, (path, response and response.status)
        assert "unsafe-inline" not in response.headers.get("content-security-policy", "unsafe-inline"), path
        arrived(page, path)

    def code_for(user) -> str:
        device = TOTPDevice.objects.filter(user=user).order_by("-id").first()
        return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"

    def password_step(page) -> None:
        visit(page, "/login/")
        page.fill("#id_username", admin.username)
        page.fill("#id_password", PASSWORD)
        page.locator("form:has(#id_password) button[type=submit]").click()

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(LISTENER)
            page = context.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))

            password_step(page)
            arrived(page, "/login/enrol/")
            # The one-time enrolment code the clinic admin (here: the console) issued.
            page.fill("#id_enrolment_code", enrolment_code_issue(user=admin, by=None, audit=None).code)
            page.locator("form:has(#id_enrolment_code) button[type=submit]").click()
            arrived(page, "/login/enrol/")
            expect(page.locator(".totp-qr svg")).to_be_visible()
            page.fill("#id_code", code_for(admin))
            page.locator("form:has(#id_code) button[type=submit]").click()
            arrived(page, "/login/recovery-codes/")

            for path in (
                "/profile/sessions/",
                "/profile/staff-sign-in/",
                "/dashboard/data-rights/",
                f"/dashboard/patients/{patient.pk}/data-rights/",
                "/audit/",
                "/research-export/",
            ):
                visit(page, path)

            page.get_by_role("button", name="Sign out").click()
            password_step(page)
            arrived(page, "/login/code/")

            found = [line for line in console if VIOLATION_PREFIX in line or "Content Security Policy" in line]
            assert found == [], found
        finally:
            browser.close()
    assert len(visited) == 12, visited


def test_the_patient_app_pages_load_under_the_policy(daphne_server, clinic, nurse, make_enrolled):  # noqa: F811
    """The patient app (/app/): sign-in, home, the check-in screens, history with its
    charts, plan and messages, in a phone-sized chromium; no violation on any."""
    from playwright.sync_api import sync_playwright

    from tests.patient_app.conftest import app_sign_in

    patient = make_enrolled()
    signed_in = app_sign_in(Client(), patient, nurse)
    session = signed_in.cookies[settings.SESSION_COOKIE_NAME].value
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    console: list[str] = []
    visited: list[str] = []

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844})
            context.add_init_script(LISTENER)
            page = context.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            for path in (
                "/app/sign-in/",
                None,
                "/app/",
                "/app/check-in/",
                "/app/history/",
                "/app/plan/",
                "/app/messages/",
            ):
                if path is None:
                    context.add_cookies(
                        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": daphne_server}]
                    )
                    continue
                response = page.goto(f"{daphne_server}{path}")
                assert response is not None and response.status == 200, (path, response and response.status)
                assert page.url == f"{daphne_server}{path}", (path, page.url)
                assert "unsafe-inline" not in response.headers.get("content-security-policy", "unsafe-inline"), path
                page.wait_for_load_state("networkidle")
                visited.append(path)
            found = [line for line in console if VIOLATION_PREFIX in line or "Content Security Policy" in line]
            assert found == [], found
        finally:
            browser.close()
    assert len(visited) == 6, visited
