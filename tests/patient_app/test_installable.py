"""The app can be installed with "Add to home screen" (issue 18, must-show 5's first
half): the manifest's fields, its icons' real sizes (read from the PNGs), start_url
inside the scope /app/, the service worker served for that scope; and in Debian's
chromium the worker registered with scope /app/, controlling the page, and Chromium's
own installability check (DevTools ``Page.getInstallabilityErrors``) finding nothing."""

from __future__ import annotations

import os
import struct

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from backend.models import Patient
from tests.browser_dashboard.test_dashboard_browser import daphne_server  # noqa: F401 (fixture)
from tests.browser_support import CHROMIUM_ARGS, chromium_path
from tests.patient_app.conftest import app_sign_in

pytestmark = pytest.mark.django_db

# The worker's scope once it is active, or why not within 30 s (never a hang).
READY = """() => Promise.race([
  navigator.serviceWorker.ready.then((r) => r.scope),
  new Promise((resolve) => setTimeout(() => resolve("not ready after 30 s"), 30000)),
])"""


def png_size(path: str) -> tuple[int, int]:
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_the_manifest_has_what_installing_needs_and_its_icons_are_the_sizes_it_says():
    response = Client().get("/app/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["name"] and manifest["short_name"] and len(manifest["short_name"]) <= 12
    assert manifest["start_url"] == "/app/" and manifest["scope"] == "/app/"
    assert manifest["start_url"].startswith(manifest["scope"])
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"].startswith("#") and manifest["background_color"].startswith("#")
    found = set()
    for icon in manifest["icons"]:
        assert icon["type"] == "image/png"
        path = finders.find(icon["src"].removeprefix(settings.STATIC_URL).removeprefix("/"))
        assert path, icon["src"]
        width, height = png_size(path)
        assert icon["sizes"] == f"{width}x{height}"
        found.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("192x192", "maskable"), ("512x512", "maskable")} <= found
    assert Client().get(manifest["icons"][0]["src"]).status_code == 200


def test_the_manifest_speaks_the_signed_in_patients_language(enrolled, nurse):
    Patient.objects.filter(pk=enrolled.pk).update(language="tr")
    client = app_sign_in(Client(), enrolled, nurse)
    manifest = client.get("/app/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE="en").json()
    assert manifest["lang"] == "tr"
    assert enrolled.clinic.name in manifest["name"]
    english = Client().get("/app/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["lang"] == "en" and manifest["short_name"] != english["short_name"]


def test_the_service_worker_is_served_for_the_app_scope_and_never_from_the_http_cache():
    response = Client().get("/app/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/app/"
    assert "no-store" in response["Cache-Control"]
    assert b'addEventListener("fetch"' in response.content


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_chromium_registers_the_worker_for_app_and_finds_the_app_installable(
    daphne_server,  # noqa: F811 (fixture)
    nurse,
    enrolled,
    make_due_check_in,
    tmp_path,
):
    make_due_check_in(enrolled, channel="app")
    session = app_sign_in(Client(), enrolled, nurse).cookies[settings.SESSION_COOKIE_NAME].value
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        # A profile on disk: Chromium does not install apps from an incognito context.
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium_path(),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 360, "height": 740},
        )
        try:
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": daphne_server}])
            page = context.new_page()
            page.goto(f"{daphne_server}/app/")
            scope = page.evaluate(READY)
            assert scope == f"{daphne_server}/app/"
            page.reload()
            assert page.evaluate("() => !!navigator.serviceWorker.controller")
            registrations = page.evaluate(
                "() => navigator.serviceWorker.getRegistrations().then((all) => all.map((r) => r.scope))"
            )
            assert registrations == [f"{daphne_server}/app/"]

            devtools = context.new_cdp_session(page)
            parsed = devtools.send("Page.getAppManifest")
            assert parsed["url"] == f"{daphne_server}/app/manifest.webmanifest"
            assert parsed["errors"] == []
            installability = devtools.send("Page.getInstallabilityErrors")
            assert installability["installabilityErrors"] == []
        finally:
            context.close()
