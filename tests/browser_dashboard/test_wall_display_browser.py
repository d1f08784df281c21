"""A wall display on the live dashboard, in chromium against daphne (a real websocket):
the cards it has, one that arrives live and one acknowledged elsewhere are drawn and
moved without any form or button to act on, and the script raises no error on cards
without forms (issue 20: a ward screen only watches; H7: it still shows every alert)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

from backend.models import Role
from followup.models import Alert
from followup.services.alert_review import alert_acknowledge
from followup.services.alerts import alert_change_record
from tests.browser_dashboard.test_dashboard_browser import daphne_server  # noqa: F401
from tests.browser_support import launch_chromium
from tests.factories import UserFactory

T = TypeVar("T")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def _alert(patient, rule_id: str, ack_code: str) -> Alert:  # type: ignore[no-untyped-def]
    return Alert.objects.create(
        patient=patient,
        clinic_id=patient.clinic_id,
        rule_id=rule_id,
        rule_version="1",
        rule_title=rule_id.capitalize(),
        severity="red",
        evidence=[{"field": rule_id, "value": True, "condition": f"{rule_id} is true"}],
        ack_code=ack_code,
    )


def _raised(patient) -> Alert:  # type: ignore[no-untyped-def]
    alert = _alert(patient, "fever", "V002")
    alert_change_record(alert=alert, created=True, actor=None, audit=None)
    return alert


def off_the_loop(work: Callable[[], T]) -> T:
    """Run ``work`` in a thread of its own: Playwright's sync API keeps an event loop
    running in this one, where the event's hand-off to the channel layer cannot run."""
    done: list[T] = []

    def run() -> None:
        try:
            done.append(work())
        finally:
            # The thread's connection goes back to the pool (PostgreSQL): a thread's
            # connections are never closed by Django for it.
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert done, "the work did not finish"
    return done[0]


def test_a_wall_display_watches_alerts_arrive_and_move_with_nothing_to_click(
    daphne_server,  # noqa: F811
    clinic,
    nurse,
    make_enrolled,
):
    patient = make_enrolled()
    shown = _alert(patient, "jaundice", "V001")
    display = UserFactory(clinic=clinic, role=Role.WALL_DISPLAY, phone="")
    browser_client = Client()
    browser_client.force_login(display)
    session_key = browser_client.cookies[settings.SESSION_COOKIE_NAME].value

    from playwright.sync_api import expect, sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_key, "url": daphne_server}])
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{daphne_server}/dashboard/")
            expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
            expect(page.locator(f'.alert-card[data-alert-id="{shown.pk}"]')).to_be_visible()

            arrived = off_the_loop(lambda: _raised(patient))
            card = page.locator(f'.alert-card[data-alert-id="{arrived.pk}"]')
            expect(card).to_be_visible(timeout=10_000)
            expect(card.locator('[data-slot="patient-mrn"]')).to_have_text(patient.mrn)

            off_the_loop(lambda: alert_acknowledge(alert=shown, by=nurse))
            moved = page.locator("#acknowledged-alerts").locator(f'[data-alert-id="{shown.pk}"]')
            expect(moved).to_be_visible(timeout=10_000)
            expect(moved.locator('[data-slot="acknowledged"]')).to_be_visible()

            expect(page.locator(".alert-card form")).to_have_count(0)
            expect(page.locator(".alert-card button")).to_have_count(0)
            expect(page.locator("form.language-form")).to_have_count(0)
        finally:
            browser.close()
    assert errors == [], errors
