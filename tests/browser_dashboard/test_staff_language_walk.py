"""A nurse whose stored language is Turkish signs in on a fresh browser (no language
cookie, the browser asking for English) and reads no English on the staff pages
(issue 19, must-show 1): the day's worklist, the live dashboard with an amber alert
and a red one arriving over the websocket while the page is open, the red alert's page,
the patient's page, the plan pages, the metrics and her settings. Debian's chromium
through Playwright against daphne (a real websocket), one browser and one context.

Every text node of each page (hidden ones too: a card's flags and forms), the page
title, the options of its lists and its aria-labels are compared with the English of
the Turkish catalogue and of the protocol's staff texts (rule titles, staff labels,
question labels, the schedule's appointment reasons): a string that is an English
msgid whose Turkish differs, an English text with placeholders (``raised %(minutes)s
min ago``) matched as a pattern, or a phrase of two words or more of that English
inside a longer text, fails the test with the page and the text. An English colleague
then signs in in the same browser and reads English on the dashboard and the alert
page, which the same check sees, so the check cannot pass by seeing nothing. Staff
read their own language on pages that decide whether a patient is called back (H6).
The alert cards' evidence (the one drawn by the script too) and the alert page's read
in Turkish words and numbers, and the plan page names the schedule's appointments in
Turkish."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import polib
import pytest
from django.utils import translation
from knox.models import AuthToken

from backend.models import Role
from backend.services import patient_user_get_or_create
from followup.dashboard.evidence_text import staff_text
from followup.models import Alert, Enrollment
from followup.services.plans import plan_recompute
from followup.services.protocols import protocol_definition, protocol_version_current
from tests.answers import green_answers
from tests.browser_dashboard.test_dashboard_browser import check_in_post, daphne_server  # noqa: F401 (fixture)
from tests.browser_support import launch_chromium
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TURKISH_CATALOGUE = ROOT / "locale" / "tr" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]")

# What the page shows, whole: text nodes (not script, style or template), the title,
# option labels, and the labels read aloud. The SMS thread's message bodies are the
# patient's words and what was texted to them, in the patient's language: not checked.
PAGE_TEXTS = """() => {
  const texts = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("script, style, .thread .body")) continue;
    texts.push(node.nodeValue);
  }
  document.querySelectorAll("[aria-label], [placeholder]").forEach((element) => {
    texts.push(element.getAttribute("aria-label") || "");
    texts.push(element.getAttribute("placeholder") || "");
  });
  return texts.map((text) => text.replace(/\\s+/g, " ").trim()).filter((text) => text);
}"""


@dataclass
class EnglishLeft:
    """The English a Turkish page must not show: exact strings, patterns for texts with
    placeholders, and phrases (two words or more) looked for inside longer texts."""

    exact: set[str] = field(default_factory=set)
    patterns: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)
    phrases: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)

    def add(self, english: str, turkish: str | None) -> None:
        english = english.strip()
        if not english or english == (turkish or "").strip():
            return  # the same in both languages ("SMS", "PPV", a drug name)
        if PLACEHOLDER.search(english):
            literal = PLACEHOLDER.sub(" ", english)
            if len(re.findall(r"[A-Za-z]{3,}", literal)) >= 1:
                parts = [re.escape(part) for part in PLACEHOLDER.split(english)]
                self.patterns.append((english, re.compile(r"\A" + r".+?".join(parts) + r"\Z", re.S)))
            return
        self.exact.add(english)
        if " " in english and len(english) >= 8:
            self.phrases.append((english, re.compile(r"(?<![\w])" + re.escape(english) + r"(?![\w])")))

    def found_in(self, text: str) -> str | None:
        if text in self.exact:
            return text
        for english, pattern in self.patterns:
            if pattern.match(text):
                return english
        for english, phrase in self.phrases:
            if phrase.search(text):
                return english
        return None


def english_left() -> EnglishLeft:
    """The Turkish catalogue's English (every form of a plural) and the protocol's
    English staff texts, each with its Turkish where there is one."""
    left = EnglishLeft()
    for entry in polib.pofile(str(TURKISH_CATALOGUE)):
        if entry.obsolete:
            continue
        if entry.msgid_plural:
            forms = list(entry.msgstr_plural.values())
            left.add(entry.msgid, forms[0] if forms else None)
            left.add(entry.msgid_plural, forms[-1] if forms else None)
        else:
            left.add(entry.msgid, entry.msgstr if "fuzzy" not in entry.flags else None)
    definition = protocol_definition(protocol_version_current("post-hepatectomy"))
    for rule_id, title in definition.rule_titles.items():
        left.add(title.get("en", definition.default_language), definition.rule_title(rule_id, "tr"))
    for labels in definition.staff_labels.values():
        for english in labels.values():
            left.add(english, None)  # English only: never on a Turkish page
    for question in definition.questions:
        left.add(question.label, None)
    with translation.override("tr"):
        for entry in definition.schedule.entries:
            # Appointment reasons: English in the protocol, their Turkish in the catalogue
            # ("CEA" stays CEA).
            left.add(entry.detail, staff_text(entry.detail))
    return left


def english_on(page, left: EnglishLeft) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(text, the English it contains) for each text of the page that is English."""
    found = []
    for text in page.evaluate(PAGE_TEXTS):
        english = left.found_in(text)
        if english is not None:
            found.append((text, english))
    return found


def test_a_turkish_nurse_reads_no_english_on_the_staff_pages_and_an_english_colleague_reads_english(
    daphne_server,  # noqa: F811 (fixture)
    clinic,
    make_enrolled,
):
    """H6: the staff pages in the reader's stored language, whatever the browser says."""
    clinic.default_language = "en"  # the nurse's own choice decides, not the clinic's
    clinic.save(update_fields=["default_language"])
    nurse = UserFactory(clinic=clinic, role=Role.NURSE, language="tr", first_name="Elif", last_name="Kaya")
    colleague = UserFactory(clinic=clinic, role=Role.NURSE, language="en", first_name="Anna", last_name="Smith")
    # At home in Baku while the clinic is in Istanbul: times show in both zones.
    patient = make_enrolled(given_name="Mehmet", family_name="Yılmaz", timezone="Asia/Baku")
    _instance, patient_token = AuthToken.objects.create(user=patient_user_get_or_create(patient))
    # The patient's plan, with the schedule's appointments (their reasons are protocol English).
    plan_recompute(enrollment=Enrollment.objects.get(patient=patient))
    amber = check_in_post(daphne_server, patient_token, {"answers": green_answers(temperature_c=38.2)})
    assert amber["triage"]["level"] == "amber"
    definition = protocol_definition(protocol_version_current("post-hepatectomy"))
    fever_tr, jaundice_tr = definition.rule_title("fever", "tr"), definition.rule_title("jaundice", "tr")
    assert fever_tr and jaundice_tr and fever_tr != "Fever"
    left = english_left()

    from playwright.sync_api import expect, sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    english: dict[str, list[tuple[str, str]]] = {}

    def walk(page, name: str) -> None:  # type: ignore[no-untyped-def]
        expect(page.locator("html")).to_have_attribute("lang", "tr")
        found = english_on(page, left)
        if found:
            english[name] = found

    def sign_in(page, user) -> None:  # type: ignore[no-untyped-def]
        page.goto(f"{daphne_server}/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(re.compile(r".*/plans/today/.*"))

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            # A fresh context: no cookie at all, and a browser that asks for English.
            context = browser.new_context(
                locale="en-US",
                extra_http_headers={"Accept-Language": "en-US,en;q=0.9"},
                viewport={"width": 1280, "height": 900},
            )
            assert context.cookies() == []
            page = context.new_page()
            script_errors: list[str] = []
            page.on("pageerror", lambda error: script_errors.append(str(error)))
            sign_in(page, nurse)

            # The day's worklist: the amber alert's nurse call names the rule in Turkish.
            expect(page.locator("#worklist-heading")).to_be_visible()
            expect(page.locator("main")).to_contain_text(fever_tr)
            walk(page, "worklist (plans/today)")

            # The dashboard, live; a red alert arrives over the websocket while it is open.
            page.goto(f"{daphne_server}/dashboard/")
            expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
            [amber_id] = amber["triage"]["alerts"]
            expect(page.locator(f'.alert-card[data-alert-id="{amber_id}"] [data-slot="rule"]')).to_have_text(fever_tr)
            # Evidence in words: the question's Turkish label, a Turkish number with its unit.
            expect(page.locator(f'.alert-card[data-alert-id="{amber_id}"] [data-slot="evidence"]')).to_contain_text(
                "Vücut ısısı: 38,2 °C (en az 38,0 °C)"
            )
            red = check_in_post(daphne_server, patient_token, {"answers": green_answers(jaundice=True)})
            assert red["triage"]["level"] == "red"
            [red_id] = red["triage"]["alerts"]
            card = page.locator(f'.alert-card[data-alert-id="{red_id}"]')
            expect(card).to_be_visible(timeout=5_000)
            expect(card.locator('[data-slot="rule"]')).to_have_text(jaundice_tr)
            expect(card.locator('[data-slot="evidence"] li')).to_have_text(["Sarılık: evet"])  # drawn by the script
            expect(card.locator('[data-slot="age"]')).not_to_be_empty()
            expect(page).not_to_have_title(re.compile("RED"))
            walk(page, "dashboard with a live red card")
            page.screenshot(path=str(ARTIFACTS / "staff-language-dashboard-tr.png"), full_page=True)

            # The red alert's page, then its patient's page.
            card.locator('[data-slot="rule"]').click()
            expect(page.locator("h1.rule")).to_have_text(jaundice_tr)
            expect(page.locator("ul.evidence li")).to_have_text(["Sarılık: evet"])
            expect(page.locator(".patient-time").first).to_contain_text("Asia/Baku")
            walk(page, "alert page")
            page.screenshot(path=str(ARTIFACTS / "staff-language-alert-tr.png"), full_page=True)
            page.locator(".patient-banner a.name").click()
            expect(page.locator(".patient-banner .name")).to_have_text("Mehmet Yılmaz")
            expect(page.locator('.chart[data-series="temperature_c"] canvas')).to_have_count(1)
            walk(page, "dashboard patient page")

            # The plan pages: the patient's plan and the search.
            page.goto(f"{daphne_server}/plans/patients/{patient.pk}/")
            expect(page.locator("#check-ins-heading")).to_be_visible()
            expect(page.locator("main")).to_contain_text("Cerrahi ekiple görüntülü görüşme")
            walk(page, "plan page")
            page.goto(f"{daphne_server}/plans/patients/?q=Mehmet")
            expect(page.locator("main table")).to_contain_text("Mehmet Yılmaz")
            walk(page, "patient search")

            # The metrics (the rule table in Turkish) and the nurse's settings.
            page.goto(f"{daphne_server}/dashboard/metrics/")
            expect(page.locator("main")).to_contain_text(jaundice_tr)
            walk(page, "metrics")
            page.goto(f"{daphne_server}/profile/")
            walk(page, "profile")

            # An English colleague on the same computer reads English, and the check sees it.
            page.locator(".logout-form button").click()
            sign_in(page, colleague)
            expect(page.locator("html")).to_have_attribute("lang", "en")
            page.goto(f"{daphne_server}/dashboard/")
            expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
            card = page.locator(f'.alert-card[data-alert-id="{red_id}"]')
            expect(card.locator('[data-slot="rule"]')).to_have_text("Jaundice")
            expect(card.locator('[data-slot="severity"]')).to_have_text("RED")
            expect(page).to_have_title("(1) RED — Vigil")
            seen = {english for _text, english in english_on(page, left)}
            assert {"Acknowledge", "Resolve", "Jaundice", "Fever"} <= seen, seen
            page.goto(f"{daphne_server}/dashboard/alerts/{red_id}/")
            expect(page.locator("h1.rule")).to_have_text("Jaundice")
        finally:
            browser.close()

    assert not script_errors, script_errors
    assert not english, "English on the Turkish nurse's pages:\n" + "\n".join(
        f"{name}: {text!r} (English: {msgid!r})" for name, found in english.items() for text, msgid in found
    )
    assert Alert.objects.filter(pk__in=[amber_id, red_id]).count() == 2
