"""Browser tests of the plans pages: Playwright driving Debian's chromium against the
live WSGI server. A patient answers the web check-in in Turkish and sees the result;
a nurse signs in and moves an appointment. Screenshots go to test-artifacts/."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect, sync_playwright

from backend.models import Role
from followup.links import checkin_link_token
from followup.models import Appointment, CheckIn, ScheduledCheckIn
from followup.services.enrollment import enrollment_create
from followup.services.scheduled_checkins import scheduled_checkin_create
from followup.services.triage import clinic_phone_display
from tests.browser_support import launch_chromium
from tests.factories import PASSWORD, ClinicFactory, EpisodeFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TZ = "Europe/Istanbul"


@pytest.fixture
def clinic_setup():
    """A nurse, and a Turkish-speaking patient discharged three days ago, enrolled."""
    clinic = ClinicFactory(timezone=TZ, name="Karaciğer Kliniği")
    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    patient = PatientFactory(clinic=clinic, language="tr", timezone=TZ, given_name="Ayşe", family_name="Yılmaz")
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(TZ)).date()
    episode = EpisodeFactory(
        patient=patient, surgery_date=today - timedelta(days=10), discharge_date=today - timedelta(days=3)
    )
    enrollment = enrollment_create(episode=episode, protocol_slug="post-hepatectomy", has_pulse_device=False, by=nurse)
    return {"clinic": clinic, "nurse": nurse, "patient": patient, "enrollment": enrollment}


@contextmanager
def chromium_page(**options: Any) -> Iterator[Page]:
    """A page of Debian's chromium. Database work stays outside this block: Playwright
    runs an event loop in this thread, where Django refuses ORM calls (the live server
    answers from its own thread)."""
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium.new_page(**options)
        finally:
            chromium.close()


def test_a_patient_answers_in_turkish_and_is_told_to_call_the_clinic(live_server, clinic_setup):
    """H2, H6: the form is in Turkish, asks the fluids question only after vomiting, and
    a fever of 39,4 shows "call the clinic now" with the clinic's number at once."""
    patient = clinic_setup["patient"]
    scheduled = scheduled_checkin_create(
        patient=patient, due_at=timezone.now() - timedelta(minutes=5), window_minutes=240, by=clinic_setup["nurse"]
    )
    url = f"{live_server.url}/c/{checkin_link_token(scheduled_check_in_id=scheduled.pk)}/"
    phone = clinic_phone_display(clinic=clinic_setup["clinic"])

    with chromium_page(locale="tr-TR", viewport={"width": 412, "height": 915}) as page:  # a phone
        answer_the_form_in_turkish(page, url=url, phone=phone)

    check_in = CheckIn.objects.get(patient=patient)
    assert (check_in.level, check_in.channel, check_in.answers["temperature_c"]) == ("red", "web", 39.4)
    assert ScheduledCheckIn.objects.get(pk=scheduled.pk).status == "completed"


def answer_the_form_in_turkish(page: Page, *, url: str, phone: str) -> None:
    page.goto(url)
    expect(page.locator("html")).to_have_attribute("lang", "tr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bugün nasılsınız?")
    expect(page.locator("#q-fluids_kept_down")).to_be_hidden()

    page.fill("#temperature_c", "39,4")
    for question in (
        "chills",
        "jaundice",
        "dark_urine",
        "itching",
        "right_upper_pain",
        "nausea",
        "vomit_blood",
        "black_stools",
        "confusion",
        "shortness_of_breath",
        "swallowing_difficulty",
        "patient_urgent",
    ):
        page.check(f"input[name='{question}'][value='no']")
    page.fill("#abdominal_pain", "3")
    page.check("input[name='abdominal_swelling'][value='none']")
    page.fill("#vomiting_episodes_24h", "1")
    expect(page.locator("#q-fluids_kept_down")).to_be_visible()  # skip logic on the page
    page.check("input[name='fluids_kept_down'][value='yes']")
    page.fill("#bowel_movement_days", "1")
    page.check("input[name='appetite'][value='reduced']")
    page.fill("#weight_kg", "78,5")
    page.check("input[name='leg_swelling'][value='none']")
    page.check("input[name='wound'][value='normal']")
    page.screenshot(path=str(ARTIFACTS / "plans-checkin-form-tr.png"), full_page=True)
    page.get_by_role("button", name="Yanıtlarımı gönder").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Hemen kliniği arayın")
    expect(page.locator("a.clinic-phone")).to_have_text(phone)
    expect(page.locator(".result.red")).to_contain_text("Hemen kliniği arayın")
    page.screenshot(path=str(ARTIFACTS / "plans-checkin-result-red-tr.png"), full_page=True)


def test_a_nurse_signs_in_and_moves_an_appointment(live_server, clinic_setup):
    """H5, H10: the plan page names the patient and MRN; the new time is typed on the
    patient's clock and saved."""
    patient = clinic_setup["patient"]
    nurse = clinic_setup["nurse"]
    lab = Appointment.objects.filter(enrollment=clinic_setup["enrollment"], kind="lab").order_by("starts_at").first()
    new_local = (lab.starts_at + timedelta(days=1)).astimezone(zoneinfo.ZoneInfo(TZ)).replace(hour=10, minute=30)

    with chromium_page(locale="en-GB") as page:
        sign_in_and_move(
            page,
            base=live_server.url,
            patient_id=patient.pk,
            mrn=patient.mrn,
            username=nurse.username,
            appointment_id=lab.pk,
            new_local=new_local,
        )

    lab.refresh_from_db()
    assert lab.starts_at == new_local and lab.moved_by == nurse


def sign_in_and_move(
    page: Page, *, base: str, patient_id: int, mrn: str, username: str, appointment_id: int, new_local: datetime
) -> None:
    page.goto(f"{base}/plans/patients/{patient_id}/")
    expect(page).to_have_url(f"{base}/login/?next=/plans/patients/{patient_id}/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator(".patient-banner .name")).to_have_text("Ayşe Yılmaz")
    expect(page.locator(".patient-banner .mrn")).to_have_text(f"MRN {mrn}")
    row = page.locator(f"#appointment-{appointment_id}")
    row.locator("summary").click()
    row.locator("input[type='datetime-local']").fill(new_local.strftime("%Y-%m-%dT%H:%M"))
    page.screenshot(path=str(ARTIFACTS / "plans-patient-page.png"))
    row.screenshot(path=str(ARTIFACTS / "plans-move-appointment-before.png"))
    row.get_by_role("button", name="Move").click()

    expect(page.locator(".messages")).to_contain_text(f"Appointment moved for Ayşe Yılmaz (MRN {mrn})")
    expect(page.locator(f"#appointment-{appointment_id}")).to_contain_text(new_local.strftime("%d.%m.%Y 10:30"))
    page.screenshot(path=str(ARTIFACTS / "plans-move-appointment-after.png"))
