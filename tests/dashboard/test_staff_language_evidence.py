"""The last protocol English on the staff pages, in the reader's stored language (issue
19): an alert's evidence lines (card JSON, dashboard and alert page), the question
labels of a partial SMS check-in ("Not answered: ..."), the schedule's appointment
reasons, and the SMS-failure and hand-over worklist texts. The stored evidence stays
machine-readable (the API's contract). H6: staff read the warning sign in their own
language; H17: a worklist text is never rewritten, only shown in the reader's words."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation

from backend.models import User
from followup.dashboard.evidence_text import evidence_lines
from followup.dashboard.worklist_texts import worklist_details
from followup.models import Alert, Appointment, Enrollment, SmsReplyReading, WorklistItem
from followup.protocols.loader import DEFAULT_DATA_DIR, load_protocol
from followup.services.checkins import checkin_submit
from followup.services.plans import plan_recompute
from followup.sms.inbound import SMS_MESSAGE_DETAIL
from followup.sms.unreachable import UNREACHABLE_DETAIL
from tests.dashboard.conftest import red_alert_raise
from tests.factories import ABSENT, green_answers
from tests.followup.services.test_sms_reply_figures import conversation_of, read

pytestmark = pytest.mark.django_db


def _turkish_nurse(nurse: User) -> Client:
    nurse.language = "tr"
    nurse.save(update_fields=["language"])
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(nurse)
    return client


def test_a_red_alerts_evidence_reads_turkish_on_the_card_the_dashboard_and_the_alert_page(
    nurse: User, make_enrolled: Any
) -> None:
    client = _turkish_nurse(nurse)
    alert = red_alert_raise(make_enrolled())
    # The stored evidence is untouched: field ids and JSON values (the API's contract).
    assert alert.evidence == [{"field": "jaundice", "value": True, "condition": "is true"}]
    card = client.get(f"/dashboard/alerts/{alert.pk}/card/").json()
    assert card["evidence_lines"] == ["Sarılık: evet"]
    for path in ("/dashboard/", f"/dashboard/alerts/{alert.pk}/"):
        html = client.get(path).content.decode()
        assert "<li>Sarılık: evet</li>" in html, path
        assert "jaundice = true" not in html and "(is true)" not in html, path


def test_a_fever_reads_as_a_turkish_number_with_its_unit_and_the_comparison_in_words(
    nurse: User, make_enrolled: Any
) -> None:
    client = _turkish_nurse(nurse)
    patient = make_enrolled()
    checkin_submit(patient_id=patient.pk, answers=green_answers(temperature_c=38.2), channel="app")
    alert = Alert.objects.get(patient=patient, rule_id="fever")
    card = client.get(f"/dashboard/alerts/{alert.pk}/card/").json()
    assert "Vücut ısısı: 38,2 °C (en az 38,0 °C)" in card["evidence_lines"]
    assert "Vücut ısısı: 38,2 °C (38,5 °C altında)" in card["evidence_lines"]
    assert "Titreme veya gece terlemesi: hayır" in card["evidence_lines"]
    joined = " ".join(card["evidence_lines"])
    for english in ("temperature_c", "chills", ">=", "not (", "false", "38.2"):
        assert english not in joined


def test_a_fever_on_an_earlier_check_in_names_that_check_in_in_the_readers_words(
    nurse: User, make_enrolled: Any
) -> None:
    client = _turkish_nurse(nurse)
    patient = make_enrolled()
    now = timezone.now()
    checkin_submit(
        patient_id=patient.pk,
        answers=green_answers(temperature_c=38.1),
        channel="app",
        taken_at=now - timedelta(hours=6),
    )
    checkin_submit(patient_id=patient.pk, answers=green_answers(temperature_c=38.3), channel="app", taken_at=now)
    alert = Alert.objects.get(patient=patient, rule_id="fever_persistent")
    earlier = [item for item in alert.evidence if "earlier" in item["condition"]]
    assert earlier and earlier[0]["value"] == 38.1  # stored as the engine wrote it
    lines = client.get(f"/dashboard/alerts/{alert.pk}/card/").json()["evidence_lines"]
    assert "Vücut ısısı: 38,3 °C (en az 38,0 °C)" in lines
    [line] = [line for line in lines if "38,1" in line]
    assert line.startswith("Vücut ısısı: 38,1 °C (en az 38,0 °C, ")
    assert line.endswith(", 6,0 saat önce)")
    assert "earlier" not in line and "check-in" not in line


def test_choice_values_and_numbers_are_the_protocols_words_in_each_language() -> None:
    definition = load_protocol(DEFAULT_DATA_DIR / "post-hepatectomy")
    evidence = [
        {"field": "appetite", "value": "none", "condition": "== none"},
        {"field": "leg_swelling", "value": "one", "condition": "in [one, both]"},
        {"field": "bilirubin_umol_l", "value": 61.5, "condition": "> 3 x the upper limit of normal 21"},
        {"field": "", "value": None, "condition": "not answered"},
    ]
    with translation.override("de"):
        lines = evidence_lines(evidence, definition, "de")
    assert lines[0] == "Appetit: gar keiner"
    assert lines[1] == "Beinschwellung: nur ein Bein (eines von: nur ein Bein, beide Beine)"
    # A lab rule's own notation stays as the engine wrote it, after the localised name and value.
    assert lines[2] == "Bilirubin: 61,5 µmol/L (> 3 x the upper limit of normal 21)"
    assert lines[3] == "keine Antwort (nicht beantwortet)"
    inr = {"field": "inr", "value": 1.9, "condition": "> 1.7 (result of 2026-12-01, day 6 after surgery)"}
    with translation.override("de"):
        assert evidence_lines([inr], definition, "de") == [
            "INR: 1,9 (über 1,7, Ergebnis vom 01.12.2026, Tag 6 nach der Operation)"
        ]
    undelivered = {"field": "sms", "value": "recall", "condition": "recall SMS 12 not delivered: 30006 landline"}
    with translation.override("tr"):
        assert evidence_lines([undelivered], None, "tr") == ["Geri çağırma SMS'i 12 iletilemedi: 30006 landline"]


def test_not_answered_labels_read_turkish(nurse: User, make_enrolled: Any) -> None:
    client = _turkish_nurse(nurse)
    patient = make_enrolled()
    checkin_submit(
        patient_id=patient.pk,
        answers=green_answers(dark_urine=ABSENT),
        channel="sms",
        partial=True,
        unanswered=["dark_urine"],
    )
    html = client.get(f"/dashboard/patients/{patient.pk}/").content.decode()
    with translation.override("tr"):
        not_answered = translation.gettext("Not answered:")
    assert not_answered != "Not answered:"
    assert re.search(re.escape(not_answered) + r"\s*Koyu idrar</span>", html)
    assert "Dark urine" not in html


def test_appointment_reasons_from_the_schedule_read_turkish(nurse: User, make_enrolled: Any) -> None:
    client = _turkish_nurse(nurse)
    patient = make_enrolled()
    enrollment = Enrollment.objects.get(patient=patient)
    plan_recompute(enrollment=enrollment)
    reasons = set(Appointment.objects.filter(patient=patient).values_list("reason", flat=True))
    assert "Video visit with the surgical team" in reasons  # stored as the protocol wrote it
    plan = client.get(f"/plans/patients/{patient.pk}/").content.decode()
    assert "Cerrahi ekiple görüntülü görüşme" in plan
    assert "Göğüs, karın ve pelvis BT (veya karaciğer MR)" in plan
    for reason in reasons - {"CEA"}:
        assert reason not in plan, reason
    # On the patient's timeline too (one past visit, so it is on the first page).
    Appointment.objects.filter(patient=patient).delete()
    Appointment.objects.create(
        patient=patient,
        enrollment=enrollment,
        kind=Appointment.Kind.TELEMEDICINE,
        starts_at=timezone.now() - timedelta(days=1),
        status=Appointment.Status.SCHEDULED,
        reason="Video visit with the surgical team",
    )
    html = client.get(f"/dashboard/patients/{patient.pk}/").content.decode()
    assert "Cerrahi ekiple görüntülü görüşme" in html and "Video visit" not in html


def test_sms_failure_and_hand_over_texts_are_stored_english_and_shown_in_the_readers_language(
    make_enrolled: Any,
) -> None:
    patient = make_enrolled()
    unreachable = WorklistItem.objects.create(
        patient=patient,
        clinic_id=patient.clinic_id,
        kind=WorklistItem.Kind.UNREACHABLE,
        severity="amber",
        detail=UNREACHABLE_DETAIL % {"reason": "30006 landline"},
    )
    # A hand-over stored in Turkish before these texts were kept in English.
    with translation.override("tr"):
        turkish = translation.gettext(SMS_MESSAGE_DETAIL) % {"body": "Ağrım var"}
    assert turkish != SMS_MESSAGE_DETAIL % {"body": "Ağrım var"}
    hand_over = WorklistItem.objects.create(
        patient=patient,
        clinic_id=patient.clinic_id,
        kind=WorklistItem.Kind.PATIENT_MESSAGE,
        severity="amber",
        detail=turkish,
    )
    with translation.override("tr"):
        shown_tr = worklist_details(items=[unreachable, hand_over], language="tr")
    with translation.override("en"):
        shown_en = worklist_details(items=[unreachable, hand_over], language="en")
    assert shown_tr[unreachable.pk] == "SMS iletilemedi: 30006 landline"
    assert shown_en[hand_over.pk] == "SMS from the patient: Ağrım var"
    assert shown_tr[hand_over.pk] == turkish
    unreachable.refresh_from_db()
    assert unreachable.detail == "SMS could not be delivered: 30006 landline"  # stored as written (H17)


def test_the_metrics_sms_replies_table_names_the_questions_in_the_readers_language(
    nurse: User, make_enrolled: Any
) -> None:
    client = _turkish_nurse(nurse)
    conversation = conversation_of(make_enrolled(language="de"))
    read(conversation, "dark_urine", 1, SmsReplyReading.Outcome.REASKED)
    html = client.get("/dashboard/metrics/").content.decode()
    row = re.search(r'<tr data-question="dark_urine">\s*<th scope="row">([^<]*)</th>', html)
    assert row is not None and row[1] == "Koyu idrar"
