"""A surgeon on the live dashboard, in Debian's chromium through Playwright, against the
ASGI application served by daphne (a real websocket) on the test database: a jaundice
check-in posted through the API appears as a red alert without a reload, is
acknowledged with one click, and shows who acknowledged it (H1, H7)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from knox.models import AuthToken

from backend.services import patient_user_get_or_create
from followup.models import Alert
from tests.browser_support import launch_chromium

# The dashboard tests' fixtures (a care team with a three-level on-call chain).
from tests.factories import green_answers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def daphne_server(tmp_path: Path) -> Iterator[str]:
    """`daphne config.asgi:application` on a free port, on the test database and the
    test's Redis, as production serves it."""
    port = free_port()
    log = tmp_path / "daphne.log"
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL}
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/static/followup/dashboard/dashboard.js", timeout=2):
                break
        except OSError:
            if process.poll() is not None:
                raise AssertionError(log.read_text(errors="replace")) from None
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError(f"daphne did not start:\n{log.read_text(errors='replace')[-3000:]}")
    try:
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def check_in_post(base: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{base}/api/v1/check-ins/",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


def test_a_surgeon_sees_a_red_alert_arrive_acknowledges_it_and_sees_who_did(
    daphne_server,
    clinic,
    chain,
    make_enrolled,
):
    """H1, H7: live, red, one click; the screenshot is kept as a test artifact."""
    surgeon = chain[0]
    surgeon.first_name, surgeon.last_name = "Ayşe", "Demir"
    surgeon.save()
    patient = make_enrolled(given_name="Mehmet", family_name="Yılmaz")
    _instance, patient_token = AuthToken.objects.create(user=patient_user_get_or_create(patient))
    # The surgeon's session, as the sign-in page would leave it (same database, same key).
    browser_client = Client()
    browser_client.force_login(surgeon)
    session_key = browser_client.cookies[settings.SESSION_COOKIE_NAME].value

    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    # Playwright's sync API runs an event loop in this thread; the ORM calls below run
    # between its calls, never inside one.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_key, "url": daphne_server}])
            page = context.new_page()
            page.goto(f"{daphne_server}/dashboard/")
            expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
            expect(page.locator("#open-empty")).to_be_visible()

            reply = check_in_post(daphne_server, patient_token, {"answers": green_answers(jaundice=True)})
            assert reply["triage"]["level"] == "red"
            [alert_id] = reply["triage"]["alerts"]

            card = page.locator(f'.alert-card[data-alert-id="{alert_id}"]')
            expect(card).to_be_visible(timeout=5_000)
            expect(card).to_have_attribute("data-severity", "red")
            expect(card).to_have_attribute("data-status", "open")
            expect(card.locator('[data-slot="patient-name"]')).to_have_text("Mehmet Yılmaz")
            expect(card.locator('[data-slot="patient-mrn"]')).to_have_text(patient.mrn)
            expect(page).to_have_title("(1) RED — Vigil")
            page.screenshot(path=str(ARTIFACTS / "dashboard-red.png"), full_page=True)

            card.get_by_role("button", name="Acknowledge").click()
            expect(card.locator('[data-slot="acknowledged-by"]')).to_have_text("Ayşe Demir", timeout=5_000)
            expect(page.locator("#acknowledged-alerts").locator(f'[data-alert-id="{alert_id}"]')).to_be_visible()
            expect(page).not_to_have_title("(1) RED — Vigil")
            page.screenshot(path=str(ARTIFACTS / "dashboard-ack.png"), full_page=True)

            # The patient's page: the check-in on the timeline, its temperature charted.
            card.locator('[data-slot="patient"]').click()
            expect(page.locator(".patient-banner .name")).to_have_text("Mehmet Yılmaz")
            expect(page.locator('.chart[data-series="temperature_c"] canvas')).to_have_count(1)
            expect(page.locator(".timeline li.red")).to_have_count(2)  # the red check-in and its alert
            page.screenshot(path=str(ARTIFACTS / "dashboard-patient.png"), full_page=True)
        finally:
            browser.close()

    alert = Alert.objects.get(pk=alert_id)
    assert alert.status == Alert.Status.ACKNOWLEDGED and alert.acknowledged_by_id == surgeon.pk
