"""Text that patients write is shown as text (issue 8, H12/H13 neighbours): a patient
whose name and SMS messages carry `<script>` and `<img onerror>` payloads is shown on
the live dashboard, the alert page, the patient's dashboard page, the plan page and
the day page in Debian's chromium; nothing the payloads carry may run.

Each payload would set `window.__xss` or open a dialog; the page records dialogs and
the test reads the flag after the page (and its scripts) settled. The payload must
still be on the page, as visible text."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from notifications.models import InboundMessage, MessageHistoryEntry
from tests.browser_support import launch_chromium
from tests.factories import CareTeamFactory, ClinicFactory, UserFactory
from tests.security.conftest import patient_data_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

NAME_PAYLOAD = "<script>window.__xss='name';alert('name')</script>"
FAMILY_PAYLOAD = "<img src=x onerror=\"window.__xss='family';alert('family')\">"
SMS_PAYLOAD = "<svg onload=\"window.__xss='sms'\"></svg><script>alert('sms')</script> I feel sick"
WORKLIST_PAYLOAD = "<img src=x onerror=\"window.__xss='worklist'\">"


@pytest.fixture
def hostile_patient():
    clinic = ClinicFactory()
    nurse = UserFactory(clinic=clinic, role="nurse")
    data = patient_data_create(
        clinic=clinic,
        care_team=CareTeamFactory(clinic=clinic),
        by=nurse,
        given_name=NAME_PAYLOAD,
        family_name=FAMILY_PAYLOAD,
    )
    inbound = InboundMessage.objects.create(
        message_sid="SMxss00000000000000000000000000000",
        from_phone=str(data.patient.phone),
        to_phone=str(clinic.phone),
        body=SMS_PAYLOAD,
        clinic=clinic,
        patient=data.patient,
        handled_as=InboundMessage.HandledAs.FREE_TEXT,
    )
    MessageHistoryEntry.objects.create(
        patient=data.patient, direction=MessageHistoryEntry.Direction.INBOUND, inbound=inbound
    )
    data.worklist_item.detail = WORKLIST_PAYLOAD
    data.worklist_item.save(update_fields=["detail"])
    return nurse, data


def _session_cookie(user: Any, base_url: str) -> dict[str, Any]:
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}


def test_patient_written_text_never_runs_on_staff_pages(live_server, hostile_patient):
    from playwright.sync_api import sync_playwright

    nurse, data = hostile_patient
    pages = [
        "/dashboard/",
        f"/dashboard/alerts/{data.alert.pk}/",
        f"/dashboard/patients/{data.patient.pk}/",
        f"/plans/patients/{data.patient.pk}/",
        "/plans/today/",
    ]
    ran: dict[str, list[str]] = {}
    shown: dict[str, bool] = {}
    # Before Playwright starts its event loop: Django's ORM refuses async contexts.
    cookie = _session_cookie(nurse, live_server.url)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context()
        context.add_cookies([cookie])
        for path in pages:
            page = context.new_page()
            events: list[str] = []
            page.on(
                "dialog", lambda dialog, events=events: (events.append(f"dialog: {dialog.message}"), dialog.dismiss())
            )
            response = page.goto(f"{live_server.url}{path}", wait_until="load")
            assert response is not None and response.status == 200, f"{path}: {response and response.status}"
            page.wait_for_timeout(500)
            flag = page.evaluate("() => window.__xss || null")
            if flag:
                events.append(f"window.__xss = {flag}")
            ran[path] = events
            text = page.inner_text("body")
            shown[path] = "<script>" in text or "<img" in text
            page.close()
        browser.close()
    assert all(not events for events in ran.values()), f"a payload ran: {ran}"
    assert shown["/dashboard/"] and shown[f"/dashboard/patients/{data.patient.pk}/"], shown
