"""Where wording fails (H16): how patients' SMS replies were read, per language and
question, over the last 30 days: the selector, the metrics page and
``manage.py sms_replies_report``. Scoped to the clinic; older readings do not count."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.models import Clinic, Patient
from followup.models import ScheduledCheckIn, SmsReplyReading
from followup.services.protocols import protocol_version_current
from followup.services.sms_reply_figures import SmsReplyRow, sms_reply_figures
from notifications.models import SmsConversation
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

UNDERSTOOD = SmsReplyReading.Outcome.UNDERSTOOD
REASKED = SmsReplyReading.Outcome.REASKED
LEFT = SmsReplyReading.Outcome.LEFT_UNANSWERED
HANDED_OVER = SmsReplyReading.Outcome.HANDED_OVER

# (question_id, attempt, outcome, how many), per language, of the clinic in the last 30 days.
RECENT = {
    "en": [
        ("temperature_c", 1, UNDERSTOOD, 3),
        ("temperature_c", 1, REASKED, 1),
        ("temperature_c", 2, UNDERSTOOD, 1),
        ("jaundice", 1, REASKED, 2),
        ("jaundice", 2, LEFT, 1),
        ("jaundice", 2, HANDED_OVER, 1),
        ("zz_not_in_protocol", 1, UNDERSTOOD, 1),
        ("aa_not_in_protocol", 1, HANDED_OVER, 1),
    ],
    "tr": [
        ("abdominal_pain", 1, UNDERSTOOD, 1),
        ("abdominal_pain", 1, REASKED, 2),
        ("chills", 1, UNDERSTOOD, 2),
    ],
}

# (language, question_id, label, replies, first replies, understood first time, re-asks, left, hand-overs)
EXPECTED = {
    "en": [
        ("temperature_c", "Temperature", 5, 4, 3, 1, 0, 0),
        ("jaundice", "Jaundice", 4, 2, 0, 2, 1, 1),
        ("aa_not_in_protocol", "aa_not_in_protocol", 1, 1, 0, 0, 0, 1),
        ("zz_not_in_protocol", "zz_not_in_protocol", 1, 1, 1, 0, 0, 0),
    ],
    "tr": [
        ("chills", "Chills or night sweats", 2, 2, 2, 0, 0, 0),
        ("abdominal_pain", "Belly pain (0-10)", 3, 3, 1, 2, 0, 0),
    ],
}
EXPECTED_TOTALS = {"en": (11, 8, 4, 3, 1, 2), "tr": (5, 5, 3, 2, 0, 0)}


def conversation_of(patient: Patient) -> SmsConversation:
    scheduled = ScheduledCheckIn.objects.create(
        patient=patient, due_at=timezone.now() - timedelta(hours=1), status=ScheduledCheckIn.Status.SENT
    )
    return SmsConversation.objects.create(
        patient=patient,
        scheduled_check_in=scheduled,
        protocol_version=protocol_version_current("post-hepatectomy"),
        phase="acute",
        language=patient.language,
        expires_at=timezone.now() + timedelta(hours=11),
    )


def read(
    conversation: SmsConversation, question_id: str, attempt: int, outcome: str, count: int = 1, *, days_ago: float = 1
) -> None:
    patient = conversation.patient
    for _ in range(count):
        SmsReplyReading.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            conversation=conversation,
            language=conversation.language,
            question_id=question_id,
            attempt=attempt,
            outcome=outcome,
            created_at=timezone.now() - timedelta(days=days_ago),
        )


@pytest.fixture
def readings(clinic: Clinic, other_clinic: Clinic) -> None:
    conversations = {language: conversation_of(PatientFactory(clinic=clinic, language=language)) for language in RECENT}
    for language, entries in RECENT.items():
        for question_id, attempt, outcome, count in entries:
            read(conversations[language], question_id, attempt, outcome, count, days_ago=29)
    # Older than 30 days: not counted.
    read(conversations["en"], "temperature_c", 1, UNDERSTOOD, 2, days_ago=31)
    read(conversations["tr"], "chills", 1, REASKED, 1, days_ago=45)
    read(conversation_of(PatientFactory(clinic=clinic, language="de")), "jaundice", 1, REASKED, days_ago=31)
    # Another clinic's: not counted.
    read(
        conversation_of(PatientFactory(clinic=other_clinic, language="en")), "temperature_c", 1, REASKED, 5, days_ago=2
    )
    read(conversation_of(PatientFactory(clinic=other_clinic, language="ru")), "jaundice", 1, HANDED_OVER, 1, days_ago=2)


def figures_of(row: SmsReplyRow) -> tuple[int, ...]:
    return (
        row.replies,
        row.first_replies,
        row.understood_first_time,
        row.reasked,
        row.left_unanswered,
        row.handed_over,
    )


def test_the_selector_counts_per_language_and_question_in_protocol_order(clinic, readings):
    with CaptureQueriesContext(connection) as captured:
        figures = sms_reply_figures(clinic_id=clinic.pk, since=timezone.now() - timedelta(days=30))
    assert len(captured) == 1
    assert [group.language for group in figures] == ["en", "tr"]
    for group in figures:
        rows = [(row.question_id, row.label, *figures_of(row)) for row in group.questions]
        assert rows == EXPECTED[group.language]
        assert all(row.language == group.language for row in group.questions)
        assert figures_of(group.total) == EXPECTED_TOTALS[group.language]
    en, tr = figures
    assert [row.understood_first_time_share for row in en.questions] == [0.75, 0.0, 0.0, 1.0]
    assert [row.understood_first_time_percent for row in en.questions] == [75, 0, 0, 100]
    assert (en.total.understood_first_time_share, en.total.understood_first_time_percent) == (0.5, 50)
    assert [row.understood_first_time_percent for row in tr.questions] == [100, 33]
    assert tr.total.understood_first_time_percent == 60


def test_the_selector_is_scoped_to_the_clinic_and_the_period(clinic, other_clinic, readings):
    since = timezone.now() - timedelta(days=30)
    other = sms_reply_figures(clinic_id=other_clinic.pk, since=since)
    assert [(group.language, figures_of(group.total)) for group in other] == [
        ("en", (5, 5, 0, 5, 0, 0)),
        ("ru", (1, 1, 0, 0, 0, 1)),
    ]
    longer = sms_reply_figures(clinic_id=clinic.pk, since=timezone.now() - timedelta(days=60))
    assert [group.language for group in longer] == ["de", "en", "tr"]
    assert figures_of(longer[1].questions[0]) == (7, 6, 5, 1, 0, 0)  # temperature_c with the two older
    assert sms_reply_figures(clinic_id=clinic.pk, since=timezone.now()) == []


def test_a_language_with_only_later_attempts_has_no_share(clinic):
    conversation = conversation_of(PatientFactory(clinic=clinic, language="az"))
    read(conversation, "jaundice", 2, LEFT)
    (group,) = sms_reply_figures(clinic_id=clinic.pk, since=timezone.now() - timedelta(days=30))
    assert group.total.first_replies == 0
    assert group.total.understood_first_time_share is None
    assert group.questions[0].understood_first_time_percent is None


# -- the metrics page ------------------------------------------------------------


def signed_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def table_rows(html: str, language: str) -> list[list[str]]:
    """The rows of a language's table, as the texts of their cells (header row left out)."""
    table = re.search(rf'<table id="sms-replies-{language}">(.*?)</table>', html, re.DOTALL)
    assert table, f"no table for {language}"
    rows = re.findall(r"<tr data-question=[^>]*>(.*?)</tr>", table.group(1), re.DOTALL)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)]
        for row in rows
    ]


def test_the_metrics_page_shows_a_table_per_language(nurse, readings):
    response = signed_in(nurse).get("/dashboard/metrics/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "SMS replies, last 30 days" in html
    assert re.findall(r'<table id="sms-replies-(\w+)">', html) == ["en", "tr"]
    assert "<caption>English (en)</caption>" in html and "<caption>Turkish (tr)</caption>" in html
    assert table_rows(html, "en") == [
        ["Temperature", "4", "75 %", "1", "0", "0"],
        ["Jaundice", "2", "0 %", "2", "1", "1"],
        ["aa_not_in_protocol", "1", "0 %", "0", "0", "1"],
        ["zz_not_in_protocol", "1", "100 %", "0", "0", "0"],
        ["All questions", "8", "50 %", "3", "1", "2"],
    ]
    assert table_rows(html, "tr") == [
        ["Chills or night sweats", "2", "100 %", "0", "0", "0"],
        ["Belly pain (0-10)", "3", "33 %", "2", "0", "0"],
        ["All questions", "5", "60 %", "2", "0", "0"],
    ]
    for header in ("first replies", "understood first time", "re-asks", "left unanswered", "hand-overs"):
        assert header in html


def test_the_metrics_page_says_when_there_is_no_reply(nurse, other_clinic):
    conversation = conversation_of(PatientFactory(clinic=other_clinic))
    read(conversation, "jaundice", 1, UNDERSTOOD)
    html = signed_in(nurse).get("/dashboard/metrics/").content.decode()
    assert "No SMS replies in the last 30 days." in html
    assert 'id="sms-replies-en"' not in html


def test_the_metrics_page_speaks_the_staff_language(nurse, readings):
    nurse.language = "de"  # the staff member's stored language (issue 19)
    nurse.save()
    client = signed_in(nurse)
    html = client.get("/dashboard/metrics/").content.decode()
    assert '<html lang="de">' in html
    assert "<caption>Englisch (en)</caption>" in html and "<caption>Türkisch (tr)</caption>" in html


def test_the_section_costs_one_query_whatever_the_readings(clinic, nurse):
    client = signed_in(nurse)
    client.get("/dashboard/metrics/")  # warm up: session, protocol files
    with CaptureQueriesContext(connection) as empty:
        client.get("/dashboard/metrics/")
    conversation = conversation_of(PatientFactory(clinic=clinic, language="tr"))
    for question_id in ("temperature_c", "jaundice", "chills", "nausea"):
        read(conversation, question_id, 1, UNDERSTOOD, 3)
    read(conversation_of(PatientFactory(clinic=clinic, language="en")), "jaundice", 1, REASKED)
    with CaptureQueriesContext(connection) as full:
        response = client.get("/dashboard/metrics/")
    assert len(re.findall(r'<table id="sms-replies-', response.content.decode())) == 2
    assert len(full) == len(empty)
    assert sum("followup_smsreplyreading" in query["sql"] for query in full.captured_queries) == 1


# -- manage.py sms_replies_report ---------------------------------------------------


def report(**options) -> list[list[str]]:  # type: ignore[no-untyped-def]
    out = StringIO()
    call_command("sms_replies_report", stdout=out, **options)
    return [re.split(r"\s{2,}", line.strip()) for line in out.getvalue().splitlines()]


def test_the_command_prints_the_figures_of_one_clinic(clinic, readings):
    lines = report(clinic=clinic.pk)
    assert lines[0] == [f"Clinic {clinic.pk} ({clinic.name}): SMS replies in the last 30 days"]
    assert lines[1] == [
        "language",
        "question",
        "first replies",
        "understood first time %",
        "re-asks",
        "left unanswered",
        "hand-overs",
    ]
    assert set(lines[2][0]) == {"-"}
    assert lines[3:] == [
        ["en", "Temperature", "4", "75", "1", "0", "0"],
        ["en", "Jaundice", "2", "0", "2", "1", "1"],
        ["en", "aa_not_in_protocol", "1", "0", "0", "0", "1"],
        ["en", "zz_not_in_protocol", "1", "100", "0", "0", "0"],
        ["en", "(all questions)", "8", "50", "3", "1", "2"],
        ["tr", "Chills or night sweats", "2", "100", "0", "0", "0"],
        ["tr", "Belly pain (0-10)", "3", "33", "2", "0", "0"],
        ["tr", "(all questions)", "5", "60", "2", "0", "0"],
    ]


def test_the_command_covers_every_clinic_and_a_longer_period(clinic, other_clinic, readings):
    lines = report()
    headings = [line[0] for line in lines if line[0].startswith("Clinic ")]
    assert headings == [
        f"Clinic {clinic.pk} ({clinic.name}): SMS replies in the last 30 days",
        f"Clinic {other_clinic.pk} ({other_clinic.name}): SMS replies in the last 30 days",
    ]
    assert ["en", "Temperature", "5", "0", "5", "0", "0"] in lines  # the other clinic's block
    assert ["ru", "(all questions)", "1", "0", "0", "0", "1"] in lines

    lines = report(clinic=clinic.pk, days=60)
    assert ["de", "Jaundice", "1", "0", "1", "0", "0"] in lines
    assert ["en", "Temperature", "6", "83", "1", "0", "0"] in lines

    assert report(clinic=other_clinic.pk, days=1) == [
        [f"Clinic {other_clinic.pk} ({other_clinic.name}): SMS replies in the last day"],
        ["No SMS replies in this period."],
    ]


def test_the_command_refuses_a_bad_clinic_or_period(clinic):
    missing = Clinic.objects.order_by("-id").values_list("id", flat=True).first() + 1
    with pytest.raises(CommandError, match=r"--clinic.*no clinic with id"):
        report(clinic=missing)
    with pytest.raises(CommandError, match=r"--days must be 1 or more"):
        report(days=0)
    with pytest.raises(CommandError, match=r"--days"):
        call_command("sms_replies_report", "--days", "soon", stdout=StringIO())
