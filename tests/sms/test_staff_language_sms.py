"""Issue 19, must-show 2: every SMS to a staff member in that person's language.

An on-call surgeon whose language is Turkish receives the red page, the escalation
page and the answer to her ACK in Turkish, the rule's title in Turkish from the
protocol's translations; an English-speaking colleague on the same chain gets the same
messages in English. Sent through the outbox by the real twilio client to the fake
Twilio server; the ACKs come back through the signed webhook. H13: a translated page
carries what the English one does and no more (the patient's initials, the MRN's last
three characters, the rule, the link, the code)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from backend.models import CareTeam, Clinic, OnCallShift, Patient, Role, User
from followup.models import Alert
from followup.services.checkins import checkin_submit
from followup.services.escalations import escalations_advance
from notifications.delivery import outbox_deliver
from notifications.models import MessageStatus, OutgoingMessage
from tests.factories import PUBLIC_BASE_URL, CareTeamFactory, UserFactory, red_answers

pytestmark = pytest.mark.django_db(transaction=True)

AYSE = "+905321110001"  # Turkish
JOHN = "+442079460801"  # English
ENGLISH_WORDS = ("Reply", "acknowledge", "patient", "Jaundice", "Escalation", "already")


def _deliver_queued() -> None:
    for message_id in OutgoingMessage.objects.filter(status=MessageStatus.QUEUED).values_list("pk", flat=True):
        outbox_deliver(message_id=message_id)


def _on_call(team: CareTeam, user: User, level: int) -> None:
    now = timezone.now()
    OnCallShift.objects.create(
        care_team=team, user=user, level=level, starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1)
    )


def _received(fake: Any, phone: str) -> list[str]:
    return [message["body"] for message in fake.messages if message["to"] == phone]


def _red_alert(make_enrolled: Callable[..., Patient], team: CareTeam, mrn: str = "MRN-004512") -> Alert:
    patient = make_enrolled(care_team=team, given_name="Zeynep", family_name="Kaya", mrn=mrn)
    result = checkin_submit(patient_id=patient.pk, answers=red_answers(), channel="app")  # jaundice
    return Alert.objects.get(pk=result.alert_ids[0])


def test_a_turkish_surgeon_is_paged_escalated_to_and_answered_in_turkish_and_her_english_colleague_in_english(
    twilio_backend: Any, webhooks: Any, clinic: Clinic, make_enrolled: Callable[..., Patient]
) -> None:
    clinic.default_language = "en"
    clinic.save()
    ayse = UserFactory(clinic=clinic, role=Role.SURGEON, phone=AYSE, language="tr")
    john = UserFactory(clinic=clinic, role=Role.SURGEON, phone=JOHN, language="en")
    # Ward team: Ayşe first. Day team: John first, Ayşe behind him.
    ward, day = CareTeamFactory(clinic=clinic), CareTeamFactory(clinic=clinic)
    _on_call(ward, ayse, 1)
    _on_call(day, john, 1)
    _on_call(day, ayse, 2)

    # The red page: Ayşe for the ward's patient, John for the day team's.
    first = _red_alert(make_enrolled, ward)
    second = _red_alert(make_enrolled, day, mrn="MRN-007633")
    _deliver_queued()
    [page] = _received(twilio_backend, AYSE)
    assert page == (
        f"Vigil KIRMIZI: Sarılık - hasta ZK, dosya no ..512. {PUBLIC_BASE_URL}/dashboard/alerts/{first.pk}/ "
        f"Onaylamak için ACK {first.ack_code} yazıp yanıtlayın."
    )
    [english_page] = _received(twilio_backend, JOHN)
    assert english_page == (
        f"Vigil RED: Jaundice - patient ZK MRN ..633. {PUBLIC_BASE_URL}/dashboard/alerts/{second.pk}/ "
        f"Reply ACK {second.ack_code} to acknowledge."
    )

    # John does not answer: ten minutes later the escalation pages Ayşe, in Turkish.
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        escalations_advance()
        _deliver_queued()
    escalation = _received(twilio_backend, AYSE)[1]
    assert escalation.startswith("Vigil KIRMIZI: Sarılık - hasta ZK, dosya no ..633.")
    assert f"ACK {second.ack_code}" in escalation

    # Ayşe acknowledges both; John's late ACK of the second is told it is done.
    webhooks.sms(AYSE, f"ACK {first.ack_code}")
    webhooks.sms(AYSE, f"ack {second.ack_code.lower()}")
    webhooks.sms(JOHN, f"ACK {second.ack_code}")
    webhooks.sms(AYSE, "ACK ZZZZ")
    _deliver_queued()
    assert _received(twilio_backend, AYSE)[2:] == [
        f"Vigil: {first.ack_code} kodlu uyarıyı onayladınız. Yükseltme durduruldu.",
        f"Vigil: {second.ack_code} kodlu uyarıyı onayladınız. Yükseltme durduruldu.",
        "Vigil: ZZZZ kodlu açık uyarı yok. Çağrı mesajındaki kodu kontrol edin.",
    ]
    assert _received(twilio_backend, JOHN)[1:] == [f"Vigil: alert {second.ack_code} was already acknowledged."]
    for body in _received(twilio_backend, AYSE):
        assert not any(word in body for word in ENGLISH_WORDS), body
    assert Alert.objects.get(pk=second.pk).acknowledged_by == ayse


def test_a_staff_member_without_a_language_reads_the_clinics_and_the_fallback_number_too(
    twilio_backend: Any, clinic: Clinic, make_enrolled: Callable[..., Patient], settings: Any
) -> None:
    """Empty language: the clinic's default. Past the end of the chain (H9) the clinic's
    fallback number is paged in the clinic's default language."""
    clinic.default_language = "de"
    clinic.fallback_phone = "+4930123456"
    clinic.save()
    team = CareTeamFactory(clinic=clinic)
    _on_call(team, UserFactory(clinic=clinic, role=Role.SURGEON, phone=JOHN, language=""), 1)

    alert = _red_alert(make_enrolled, team)
    _deliver_queued()
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        escalations_advance()
        _deliver_queued()
    [page] = _received(twilio_backend, JOHN)
    [fallback] = _received(twilio_backend, "+4930123456")
    assert page.startswith("Vigil ROT: Gelbsucht - Patient ZK")
    assert fallback.startswith("Vigil ESKALIERT, Bereitschaft hat nicht geantwortet. ROT: Gelbsucht - Patient ZK")
    assert f"ACK {alert.ack_code}" in fallback
