"""Issue 19: a sending identity per clinic and destination country, chosen when a
message is queued, kept on the outbox row, and sent with exactly that ``From`` or
``MessagingServiceSid`` by the real twilio client (the fake Twilio server records
what it received). Status callbacks find the rows of every identity."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.models import AuditRecord, Clinic, Role
from backend.write_batch import write_batch
from notifications.delivery import outbox_deliver, outbox_verify
from notifications.models import MessageKind, MessageStatus, OutgoingMessage, SendingIdentity
from notifications.services import sms_enqueue
from tests.conftest import token_client
from tests.factories import STATUS_PATH, ClinicFactory, PatientFactory, UserFactory

TR_NUMBER = "+905320000090"
AZ_NUMBER = "+994120000994"
SERVICE = "MG" + "a1" * 16
OTHER_NUMBER = "+905320000777"


def identities(clinic: Clinic) -> dict[str, SendingIdentity]:
    """Clinic A: a Turkish number for +90, an Azerbaijani one for +994, and a Messaging
    Service as the default for every other country."""
    return {
        "tr": SendingIdentity.objects.create(clinic=clinic, country_code="90", from_number=TR_NUMBER),
        "az": SendingIdentity.objects.create(clinic=clinic, country_code="994", from_number=AZ_NUMBER),
        "default": SendingIdentity.objects.create(clinic=clinic, is_default=True, messaging_service_sid=SERVICE),
    }


def enqueue(clinic: Clinic, to: str, key: str, **extra: Any) -> OutgoingMessage:
    return sms_enqueue(
        clinic_id=clinic.pk, to_phone=to, body="Vigil test", kind=MessageKind.REPLY, idempotency_key=key, **extra
    )


def sender(message: OutgoingMessage) -> tuple[str, str]:
    return message.from_number, message.messaging_service_sid


# --- the choice, on the row ---------------------------------------------------------------------


@pytest.mark.django_db
def test_it_picks_the_destination_countrys_identity_else_the_clinic_default(settings: Any) -> None:
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    clinic = ClinicFactory()
    identities(clinic)
    to_turkey = enqueue(clinic, "+905301234567", "tr")
    to_azerbaijan = enqueue(clinic, "+994501234567", "az")
    to_germany = enqueue(clinic, "+4915112345678", "de")

    # The instance holds the values the INSERT chose (read back), and so does the row.
    assert sender(to_turkey) == (TR_NUMBER, "")
    assert sender(to_azerbaijan) == (AZ_NUMBER, "")
    assert sender(to_germany) == ("", SERVICE)
    stored = {m.idempotency_key: sender(m) for m in OutgoingMessage.objects.all()}
    assert stored == {"tr": (TR_NUMBER, ""), "az": (AZ_NUMBER, ""), "de": ("", SERVICE)}


@pytest.mark.django_db
def test_a_clinic_without_identities_sends_from_the_installations_number(settings: Any) -> None:
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    identities(ClinicFactory())  # another clinic's identities are not ours
    message = enqueue(ClinicFactory(), "+905301234567", "k")
    assert sender(message) == ("+15005550006", "")


@pytest.mark.django_db
def test_an_inactive_identity_is_never_sent_from(settings: Any) -> None:
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    clinic = ClinicFactory()
    mine = identities(clinic)
    mine["tr"].active = False
    mine["tr"].save()
    assert sender(enqueue(clinic, "+905301234567", "k1")) == ("", SERVICE)  # the default
    mine["default"].active = False
    mine["default"].save()
    assert sender(enqueue(clinic, "+905301234567", "k2")) == ("+15005550006", "")  # the installation's


@pytest.mark.django_db
def test_a_reply_goes_from_the_number_the_patient_texted(settings: Any) -> None:
    """A +994 phone that texted the clinic's Turkish number is answered from it."""
    clinic = ClinicFactory()
    identities(clinic)
    assert sender(enqueue(clinic, "+994501234567", "k1", sent_from=TR_NUMBER)) == (TR_NUMBER, "")
    # A number that is not one of the clinic's active identities changes nothing.
    assert sender(enqueue(clinic, "+994501234567", "k2", sent_from="+15005550006")) == (AZ_NUMBER, "")


@pytest.mark.django_db
def test_the_choice_costs_no_statement_of_its_own_in_a_write_batch(settings: Any) -> None:
    """H18: the check-in path's statement budget. Three outbox rows of two clinics in a
    batch: one INSERT for the rows (and one for their history entries), identities
    chosen inside it, the values read back on the instances."""
    clinic, other = ClinicFactory(), ClinicFactory()
    identities(clinic)
    SendingIdentity.objects.create(clinic=other, is_default=True, from_number=OTHER_NUMBER)
    patient = PatientFactory(clinic=clinic, phone="+994501112233")
    with CaptureQueriesContext(connection) as queries, write_batch():
        rows = [
            enqueue(clinic, "+905301234567", "b1"),
            sms_enqueue(
                clinic_id=clinic.pk,
                to_phone=str(patient.phone),
                body="x",
                kind=MessageKind.ADVICE,
                idempotency_key="b2",
                patient=patient,
                opted_out=False,
            ),
            enqueue(other, "+905301234567", "b3"),
        ]
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert sum('"notifications_outgoingmessage"' in sql for sql in inserts) == 1
    assert [sender(row) for row in rows] == [(TR_NUMBER, ""), (AZ_NUMBER, ""), (OTHER_NUMBER, "")]
    assert not any(
        "notifications_sendingidentity" in q["sql"] and q["sql"].startswith("SELECT") for q in queries.captured_queries
    )


# --- the real twilio client against the fake Twilio server ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twilio_receives_exactly_the_rows_from_or_messaging_service(twilio_backend: Any, webhooks: Any) -> None:
    """Must show 3: outbound rows carry the clinic's (and country's) number or Messaging
    Service SID, and Twilio got exactly that; status callbacks find each row."""
    clinic, other = ClinicFactory(), ClinicFactory()
    identities(clinic)
    SendingIdentity.objects.create(clinic=other, is_default=True, from_number=OTHER_NUMBER)
    rows = [
        enqueue(clinic, "+905301234567", "tr"),
        enqueue(clinic, "+994501234567", "az"),
        enqueue(clinic, "+4915112345678", "de"),
        enqueue(other, "+994501234567", "other"),
        enqueue(ClinicFactory(), "+905301234567", "none"),
    ]
    for row in rows:
        assert outbox_deliver(message_id=row.pk).status == MessageStatus.SENT

    received = {
        m["to"] + "|" + (m["from"] or "") + "|" + (m["messaging_service_sid"] or "") for m in twilio_backend.messages
    }
    assert received == {
        f"+905301234567|{TR_NUMBER}|",
        f"+994501234567|{AZ_NUMBER}|",
        f"+4915112345678||{SERVICE}",
        f"+994501234567|{OTHER_NUMBER}|",
        f"+905301234567|{twilio_backend.phone_number}|",  # no identity: the installation's number
    }
    for row in rows:
        row.refresh_from_db()
        [sent] = [m for m in twilio_backend.messages if m["sid"] == row.twilio_sid]
        assert (sent["from"] or "", sent["messaging_service_sid"] or "") == (
            row.from_number,
            row.messaging_service_sid,
        )

    # Delivery reports, as Twilio posts them (From the identity, To the patient).
    for row in rows:
        params = twilio_backend.status_callback_params(row.twilio_sid, "delivered")
        assert webhooks.post(STATUS_PATH, params, query=f"m={row.pk}").status_code == 200
    assert set(OutgoingMessage.objects.values_list("status", flat=True)) == {MessageStatus.DELIVERED}
    assert len(twilio_backend.messages_sent_by(SERVICE)) == 1


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"country_code": "90", "from_number": "05320000090"}, "from_number"),  # not E.164
        ({"country_code": "90", "messaging_service_sid": "MG123"}, "messaging_service_sid"),
        ({"country_code": "90", "messaging_service_sid": "PN" + "0" * 32}, "messaging_service_sid"),
        ({"country_code": "90", "from_number": TR_NUMBER, "messaging_service_sid": SERVICE}, "from_number"),
        ({"country_code": "90"}, "from_number"),  # neither
        ({"from_number": TR_NUMBER}, "country_code"),  # no country and not the default
        ({"country_code": "+90", "from_number": TR_NUMBER}, "country_code"),
    ],
)
def test_it_refuses_a_malformed_identity_naming_the_field(fields: dict[str, Any], field: str) -> None:
    identity = SendingIdentity(clinic=ClinicFactory(), **fields)
    with pytest.raises(ValidationError) as refused:
        identity.full_clean()
    assert field in refused.value.message_dict


@pytest.mark.django_db
def test_a_number_belongs_to_one_clinic_and_a_clinic_has_one_default_and_one_per_country() -> None:
    clinic, other = ClinicFactory(), ClinicFactory()
    identities(clinic)
    cases = [
        (SendingIdentity(clinic=other, is_default=True, from_number=TR_NUMBER), "from_number"),
        (SendingIdentity(clinic=other, is_default=True, messaging_service_sid=SERVICE), "messaging_service_sid"),
        (SendingIdentity(clinic=clinic, is_default=True, from_number=OTHER_NUMBER), "is_default"),
        (SendingIdentity(clinic=clinic, country_code="90", from_number=OTHER_NUMBER), "country_code"),
    ]
    for identity, field in cases:
        with pytest.raises(ValidationError) as refused:
            identity.full_clean()
        assert field in refused.value.message_dict, (identity, refused.value.message_dict)
    # An inactive one leaves its country and the default free.
    SendingIdentity.objects.filter(clinic=clinic).update(active=False)
    SendingIdentity(clinic=clinic, country_code="90", from_number=OTHER_NUMBER).full_clean()


# --- the clinic administrator's API -----------------------------------------------------------------


@pytest.fixture
def admin_client(clinic: Clinic) -> Any:
    return token_client(UserFactory(clinic=clinic, role=Role.ADMIN))


@pytest.mark.django_db
def test_a_clinic_admin_adds_lists_and_switches_off_identities(admin_client: Any, clinic: Clinic) -> None:
    url = "/api/v1/sending-identities/"
    created = admin_client.post(url, {"country_code": "994", "from_number": AZ_NUMBER}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["country_code"], body["from_number"], body["active"], body["is_default"]) == (
        "994",
        AZ_NUMBER,
        True,
        False,
    )
    assert SendingIdentity.objects.get(pk=body["id"]).clinic == clinic
    assert [row["id"] for row in admin_client.get(url).json()] == [body["id"]]

    changed = admin_client.patch(f"{url}{body['id']}/", {"active": False}, format="json")
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert list(
        AuditRecord.objects.filter(object_type="sending_identity").order_by("id").values_list("action", flat=True)
    ) == ["create", "update"]


@pytest.mark.django_db
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(admin_client: Any, clinic: Clinic) -> None:
    url = "/api/v1/sending-identities/"
    SendingIdentity.objects.create(clinic=ClinicFactory(), is_default=True, from_number=TR_NUMBER)
    for payload, field in [
        ({"is_default": True, "from_number": TR_NUMBER}, "from_number"),  # another clinic's number
        ({"is_default": True, "messaging_service_sid": "MG1"}, "messaging_service_sid"),
        ({"is_default": "yes", "from_number": AZ_NUMBER}, "is_default"),
        ({"is_default": True, "from_number": AZ_NUMBER, "clinic": 1}, "clinic"),
    ]:
        response = admin_client.post(url, payload, format="json")
        assert response.status_code == 400, (payload, response.content)
        assert field in response.json(), response.json()
    assert not SendingIdentity.objects.filter(clinic=clinic).exists()


@pytest.mark.django_db
def test_only_the_clinics_admin_sees_its_identities(
    admin_client: Any, clinic: Clinic, nurse_client: Any, other_clinic: Clinic
) -> None:
    foreign = SendingIdentity.objects.create(clinic=other_clinic, is_default=True, from_number=OTHER_NUMBER)
    assert nurse_client.get("/api/v1/sending-identities/").status_code == 403
    assert admin_client.get(f"/api/v1/sending-identities/{foreign.pk}/").status_code == 404
    assert (
        admin_client.patch(f"/api/v1/sending-identities/{foreign.pk}/", {"active": False}, format="json").status_code
        == 404
    )
    foreign.refresh_from_db()
    assert foreign.active


@pytest.mark.django_db
def test_django_admin_refuses_another_clinics_number_on_the_form(client: Any) -> None:
    clinic, other = ClinicFactory(), ClinicFactory()
    SendingIdentity.objects.create(clinic=other, is_default=True, from_number=TR_NUMBER)
    client.force_login(UserFactory(is_staff=True, is_superuser=True, clinic=None))
    form = {"clinic": clinic.pk, "country_code": "90", "from_number": TR_NUMBER, "active": "on"}
    response = client.post("/admin/notifications/sendingidentity/add/", form)
    assert response.status_code == 200  # the form again, not a redirect
    assert "This number is already a sending identity." in response.content.decode()
    assert not SendingIdentity.objects.filter(clinic=clinic).exists()
    form["from_number"] = OTHER_NUMBER
    assert client.post("/admin/notifications/sendingidentity/add/", form).status_code == 302
    assert SendingIdentity.objects.get(clinic=clinic).from_number == OTHER_NUMBER


@pytest.mark.django_db(transaction=True)
def test_a_send_in_doubt_is_looked_up_at_twilio_under_the_rows_own_number(twilio_backend: Any, settings: Any) -> None:
    """No answer within the timeout: Twilio's message list is read filtered by the
    identity's number the row went from (not the installation's), and the row is
    settled with the message found, never sent twice."""
    settings.SMS_SENDING_STALE_SECONDS = 1
    clinic = ClinicFactory()
    identities(clinic)
    message = enqueue(clinic, "+905301234567", "doubt")
    twilio_backend.fail_next(timeout=3)  # answers after the client's 2 s timeout
    assert outbox_deliver(message_id=message.pk).status == MessageStatus.SENDING
    twilio_backend.wait_idle(timeout=5)
    time.sleep(1.1)

    assert outbox_verify(message_id=message.pk).status == MessageStatus.SENT
    message.refresh_from_db()
    [sent] = twilio_backend.messages_sent_by(TR_NUMBER)
    assert message.twilio_sid == sent["sid"] and len(twilio_backend.messages) == 1
