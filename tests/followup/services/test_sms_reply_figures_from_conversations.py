"""Must show 5 (H16): the understood-first-time figures come from real conversations.
Two patients answer through the signed webhook (Turkish and German, a few replies the
reader cannot take), and the selector, the metrics page and ``manage.py
sms_replies_report`` show the counts those conversations recorded."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from backend.models import Role
from followup.services.sms_reply_figures import sms_reply_figures
from followup.sms.conversations import conversation_start
from tests.factories import ClinicFactory, UserFactory, last_outbound

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sms_settings")]  # the SMS settings of the kit


def _converse(webhooks: Any, patient: Any, replies: list[str]) -> None:
    for body in replies:
        webhooks.sms(str(patient.phone), body)


def test_the_figures_count_what_the_conversations_recorded(
    webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    clinic = ClinicFactory()
    turkish = make_enrolled(language="tr", clinic=clinic)
    german = make_enrolled(language="de", clinic=clinic)
    conversation_start(scheduled_check_in=make_due_check_in(turkish))
    conversation_start(scheduled_check_in=make_due_check_in(german))
    # Turkish: temperature understood at once; chills missed once then understood;
    # jaundice understood at once.
    _converse(webhooks, turkish, ["37,4 derece", "bilmem ki", "yok", "hayır"])
    assert last_outbound(turkish).question_id == "dark_urine"
    # German: temperature missed twice (left unanswered), chills understood.
    _converse(webhooks, german, ["heiß", "sehr heiß", "nein"])
    assert last_outbound(german).question_id == "jaundice"

    (de, tr) = sms_reply_figures(clinic_id=clinic.pk, since=timezone.now() - timedelta(days=30))
    assert (tr.language, de.language) == ("tr", "de")
    assert (tr.total.first_replies, tr.total.understood_first_time, tr.total.reasked) == (3, 2, 1)
    assert tr.total.understood_first_time_percent == 67
    assert (de.total.first_replies, de.total.understood_first_time, de.total.left_unanswered) == (2, 1, 1)
    temperature = next(row for row in de.questions if row.question_id == "temperature_c")
    assert (temperature.first_replies, temperature.understood_first_time, temperature.reasked) == (1, 0, 1)

    nurse = UserFactory(clinic=clinic, role=Role.NURSE)
    client = Client()
    client.force_login(nurse)
    html = client.get("/dashboard/metrics/").content.decode()
    assert 'id="sms-replies-tr"' in html and 'id="sms-replies-de"' in html
    assert "67 %" in html and "50 %" in html

    out = StringIO()
    call_command("sms_replies_report", clinic=clinic.pk, stdout=out)
    lines = [line.split() for line in out.getvalue().splitlines()]
    totals = {line[0]: line for line in lines if "(all" in line}
    assert totals["tr"][-5:] == ["3", "67", "1", "0", "0"]
    assert totals["de"][-5:] == ["2", "50", "1", "1", "0"]
