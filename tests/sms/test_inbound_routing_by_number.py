"""Issue 19, must-show 3: inbound SMS routed by the number the patient texted.

Clinic A (Istanbul) texts from a Turkish number for +90 phones (its default) and an
Azerbaijani one for +994 phones; clinic B has its own number. One phone is a patient's
at both clinics. The same message sent to each clinic's number lands in that clinic's
conversation or worklist only; from a phone nobody knows, it gets that clinic's help
(name and phone) in the language of the phone's country, from the number texted. A
``To`` that is nobody's identity (the installation's number) works as before."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backend.models import Clinic, Patient
from followup.models import WorklistItem
from followup.services.triage import clinic_phone_display
from followup.sms.conversations import conversation_start
from followup.sms.inbound import inbound_failure_record
from notifications.delivery import outbox_deliver
from notifications.models import (
    InboundMessage,
    MessageHistoryEntry,
    MessageKind,
    MessageStatus,
    OutgoingMessage,
    SendingIdentity,
    SmsConversation,
)
from tests.factories import SMS_PATH, STATUS_PATH, CareTeamFactory, ClinicFactory, inbound_task_run

A_TR = "+902125550190"  # clinic A, +90 phones and every country without its own
A_AZ = "+994125550994"  # clinic A, +994 phones
B_NUMBER = "+902165550123"  # clinic B
B_SERVICE = "MG" + "b2" * 16  # clinic B's Messaging Service (for its pool numbers)
SHARED = "+905301119999"  # a patient of A and a patient of B

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic_a(db: None) -> Clinic:
    clinic = ClinicFactory(name="Istanbul Liver Clinic", phone="+902125550100", default_language="tr")
    SendingIdentity.objects.create(clinic=clinic, country_code="90", is_default=True, from_number=A_TR)
    SendingIdentity.objects.create(clinic=clinic, country_code="994", from_number=A_AZ)
    return clinic


@pytest.fixture
def clinic_b(db: None) -> Clinic:
    clinic = ClinicFactory(name="Ankara Surgery", phone="+903125550100", default_language="en")
    SendingIdentity.objects.create(clinic=clinic, is_default=True, from_number=B_NUMBER)
    SendingIdentity.objects.create(clinic=clinic, country_code="49", messaging_service_sid=B_SERVICE)
    return clinic


@pytest.fixture
def patients(clinic_a: Clinic, clinic_b: Clinic, make_enrolled: Callable[..., Patient]) -> tuple[Patient, Patient]:
    """The same phone: Ayşe at clinic A, her brother Mehmet at clinic B."""
    ayse = make_enrolled(
        clinic=clinic_a, care_team=CareTeamFactory(clinic=clinic_a), given_name="Ayşe", phone=SHARED, language="tr"
    )
    mehmet = make_enrolled(
        clinic=clinic_b, care_team=CareTeamFactory(clinic=clinic_b), given_name="Mehmet", phone=SHARED, language="tr"
    )
    return ayse, mehmet


def text(webhooks: Any, from_: str, body: str, *, to: str, service: str | None = None) -> InboundMessage:
    """A patient texts ``to``: the signed form Twilio posts, then the worker's task."""
    params = webhooks.fake.inbound_sms_params(from_, body, to=to, messaging_service_sid=service)
    assert webhooks.post(SMS_PATH, params).status_code == 200
    inbound_task_run(message_sid=params["MessageSid"])
    return InboundMessage.objects.get(message_sid=params["MessageSid"])


def items(patient: Patient) -> list[WorklistItem]:
    return list(WorklistItem.objects.filter(patient=patient, kind=WorklistItem.Kind.PATIENT_MESSAGE))


# --- one phone, two clinics -----------------------------------------------------------------------------


def test_the_same_message_to_each_clinics_number_lands_in_that_clinic_only(
    webhooks: Any, patients: tuple[Patient, Patient], clinic_a: Clinic, clinic_b: Clinic
) -> None:
    """H5, H12: a phone known at two clinics is only ever the texted clinic's patient;
    clinic B's nurses never see what Ayşe wrote to clinic A."""
    ayse, mehmet = patients
    to_a = text(webhooks, SHARED, "Karnım ağrıyor", to=A_TR)
    assert (to_a.clinic_id, to_a.patient_id, to_a.handled_as) == (clinic_a.pk, ayse.pk, "free_text")
    assert [item.clinic_id for item in items(ayse)] == [clinic_a.pk]
    assert items(mehmet) == []  # no "which patient?" either: B's patient is not A's
    assert not OutgoingMessage.objects.filter(body__contains="Mehmet").exists()

    to_b = text(webhooks, SHARED, "Karnım ağrıyor", to=B_NUMBER)
    assert (to_b.clinic_id, to_b.patient_id, to_b.handled_as) == (clinic_b.pk, mehmet.pk, "free_text")
    assert [item.clinic_id for item in items(mehmet)] == [clinic_b.pk]
    assert len(items(ayse)) == 1 and items(ayse)[0].bumped_at is None  # A's item untouched
    history = MessageHistoryEntry.objects.filter(direction="inbound")
    assert {(entry.patient_id, entry.inbound_id) for entry in history} == {(ayse.pk, to_a.pk), (mehmet.pk, to_b.pk)}

    # Each "a nurse will read it" goes from the number the patient texted.
    replies = OutgoingMessage.objects.filter(kind=MessageKind.REPLY, to_phone=SHARED).order_by("id")
    assert [(r.clinic_id, r.from_number) for r in replies] == [(clinic_a.pk, A_TR), (clinic_b.pk, B_NUMBER)]


def test_a_reply_to_the_other_clinics_number_never_enters_the_running_conversation(
    webhooks: Any, patients: tuple[Patient, Patient], make_due_check_in: Any, clinic_b: Clinic
) -> None:
    ayse, mehmet = patients
    question = conversation_start(scheduled_check_in=make_due_check_in(ayse))
    assert question.from_number == A_TR  # clinic A, a +90 phone

    text(webhooks, SHARED, "37,9", to=B_NUMBER)
    conversation = SmsConversation.objects.get(patient=ayse)
    assert conversation.answers == {}
    assert [item.clinic_id for item in items(mehmet)] == [clinic_b.pk]

    text(webhooks, SHARED, "37,9", to=A_TR)
    conversation.refresh_from_db()
    assert conversation.answers == {"temperature_c": 37.9}
    assert items(ayse) == []


def test_stop_to_one_clinics_number_opts_out_of_that_clinic_only(
    webhooks: Any, patients: tuple[Patient, Patient]
) -> None:
    """H11 for the clinic texted; the other clinic's follow-up goes on."""
    ayse, mehmet = patients
    text(webhooks, SHARED, "DUR", to=A_TR)
    ayse.refresh_from_db()
    mehmet.refresh_from_db()
    assert ayse.sms_opted_out_at is not None and mehmet.sms_opted_out_at is None
    confirmation = OutgoingMessage.objects.get(kind=MessageKind.KEYWORD_REPLY)
    assert (confirmation.patient_id, confirmation.from_number) == (ayse.pk, A_TR)


def test_a_message_whose_handling_failed_goes_to_the_texted_clinics_nurses_only(
    patients: tuple[Patient, Patient], clinic_b: Clinic
) -> None:
    """H16 without H12: the red worklist item is B's, for B's patient."""
    _ayse, mehmet = patients
    inbound = InboundMessage.objects.create(
        message_sid="SMfailed", from_phone=SHARED, to_phone=B_NUMBER, body="ateşim var", clinic=clinic_b
    )
    assert inbound_failure_record(inbound=inbound) is True
    assert [(item.patient_id, item.severity) for item in WorklistItem.objects.all()] == [(mehmet.pk, "red")]


# --- strangers ---------------------------------------------------------------------------------------------

HELP = {
    "tr": "Bu numarayı bir hastayla eşleştiremedik. Lütfen kliniği arayın:",
    "az": "bu nömrəyə uyğun xəstə tapmadıq. Zəhmət olmasa klinikaya zəng edin:",
    "de": "Wir konnten diese Nummer keinem Patienten zuordnen. Bitte rufen Sie die Klinik an:",
    "uk": "ми не знайшли пацієнта з цим номером. Будь ласка, зателефонуйте до клініки:",
    "ru": "мы не нашли пациента с этим номером. Пожалуйста, позвоните в клинику:",
    "en": "we could not match this number to a patient. Please call the clinic at",
}


@pytest.mark.parametrize(
    ("stranger", "texted", "language"),
    [
        ("+994501234567", A_AZ, "az"),
        ("+905551234567", B_NUMBER, "tr"),
        ("+4915112345678", A_TR, "de"),
        ("+380501234567", B_NUMBER, "uk"),
        ("+79161234567", A_TR, "ru"),
        ("+447700900123", A_TR, "tr"),  # no language of ours: clinic A's default
        ("+447700900123", B_NUMBER, "en"),  # clinic B's
    ],
)
def test_a_stranger_gets_the_texted_clinics_help_in_their_countrys_language_from_that_number(
    webhooks: Any, patients: Any, clinic_a: Clinic, clinic_b: Clinic, stranger: str, texted: str, language: str
) -> None:
    clinic = clinic_a if texted in (A_TR, A_AZ) else clinic_b
    inbound = text(webhooks, stranger, "Merhaba, randevu istiyorum", to=texted)
    reply = OutgoingMessage.objects.get(to_phone=stranger)
    assert reply.body == f"{clinic.name}: {HELP[language]} {clinic_phone_display(clinic=clinic)}."
    assert (reply.clinic_id, reply.from_number, reply.patient_id) == (clinic.pk, texted, None)
    assert (inbound.handled_as, inbound.clinic_id, inbound.from_phone, inbound.body) == (
        "unknown_number",
        clinic.pk,
        "",
        "",
    )
    assert not WorklistItem.objects.exists() and not MessageHistoryEntry.objects.filter(direction="inbound").exists()


@pytest.mark.django_db(transaction=True)
def test_the_strangers_help_reaches_twilio_from_the_number_they_texted(
    twilio_backend: Any, webhooks: Any, clinic_a: Clinic
) -> None:
    text(webhooks, "+994501234567", "salam", to=A_AZ)
    text(webhooks, "+905551234567", "merhaba", to=A_AZ)  # a Turkish phone, Azerbaijani number
    for message in OutgoingMessage.objects.all():
        assert outbox_deliver(message_id=message.pk).status == MessageStatus.SENT
    assert {(m["to"], m["from"]) for m in twilio_backend.messages} == {("+994501234567", A_AZ), ("+905551234567", A_AZ)}
    turkish = next(m for m in twilio_backend.messages if m["to"] == "+905551234567")
    assert turkish["body"].startswith(f"{clinic_a.name}: {HELP['tr']}")
    # Twilio's delivery report finds its row.
    params = twilio_backend.status_callback_params(turkish["sid"], "delivered")
    message = OutgoingMessage.objects.get(twilio_sid=turkish["sid"])
    assert webhooks.post(STATUS_PATH, params, query=f"m={message.pk}").status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_a_message_through_a_clinics_messaging_service_is_routed_to_that_clinic(
    webhooks: Any, patients: tuple[Patient, Patient], clinic_b: Clinic
) -> None:
    """A pool number of B's Messaging Service: Twilio names the service in the form."""
    ayse, mehmet = patients
    inbound = text(webhooks, SHARED, "Karnım ağrıyor", to="+4915790000001", service=B_SERVICE)
    assert (inbound.clinic_id, inbound.patient_id) == (clinic_b.pk, mehmet.pk)
    assert items(ayse) == []


# --- the installation's number: as before ------------------------------------------------------------------


def test_a_number_that_is_no_clinics_identity_matches_patients_of_every_clinic_as_before(
    webhooks: Any, patients: tuple[Patient, Patient], clinic_a: Clinic, clinic_b: Clinic
) -> None:
    """H5: the installation's TWILIO_FROM_NUMBER is nobody's identity, so both patients
    on the phone are asked about, each with their clinic."""
    inbound = text(webhooks, SHARED, "merhaba", to=webhooks.fake.phone_number)
    assert inbound.handled_as == "held" and inbound.patient_id is None
    question = OutgoingMessage.objects.get(to_phone=SHARED)
    assert question.body.endswith(f"1 Ayşe ({clinic_a.name}), 2 Mehmet ({clinic_b.name})")
    # A stranger there hears from the installation's first clinic.
    first = Clinic.objects.order_by("id").first()
    text(webhooks, "+905551112233", "merhaba", to=webhooks.fake.phone_number)
    help_reply = OutgoingMessage.objects.get(to_phone="+905551112233")
    assert help_reply.body.startswith(f"{first.name}: {HELP['tr']}") and help_reply.clinic_id == first.pk
