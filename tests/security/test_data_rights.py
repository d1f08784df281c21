"""A patient's data rights (issue 20, must-show 4): the export holds everything of the
patient and nothing of another; erasure is refused before the retention date, with the
date named, and changes nothing; after it, no identifying value of the patient is left
in any text column of any table, the per-rule statistics are the same and the audit
trail is whole.

Built on the security suite's populated clinic (tests/security/conftest.py) plus a
patient with canary values (name, phone, MRN found nowhere else), whose data goes
through the services and the real webhooks: check-ins, SMS both ways, alerts with a
resolution note, appointments, labs."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.db import DatabaseError, models, transaction
from django.utils import timezone

from backend.models import AuditRecord, Patient, Role
from followup.data_rights.retention import retention_status
from followup.data_rights.review import retention_review_run
from followup.models import Alert, Appointment, CheckIn, Enrollment, Observation, ScheduledCheckIn
from followup.services.alert_metrics import alert_metrics
from followup.services.alert_review import alert_resolve
from followup.services.checkins import checkin_submit
from followup.services.enrollment import enrollment_end
from notifications.models import InboundMessage, MessageHistoryEntry, OutgoingMessage
from tests.factories import UserFactory, green_answers
from tests.security.conftest import Population, api_client_for, patient_data_create

GIVEN, FAMILY, MRN = "Zebulon", "Quixwhistle", "MRN-CANARY-7731"
PHONE = "+4915123456789"  # a German mobile: the patient's country is DE
# The patient's identifying values as a search would look for them (the national
# form of the phone too).
CANARIES = (GIVEN, FAMILY, MRN, PHONE, "15123456789")
OTHER_CANARIES = ("Ottoline", "Brackenbury", "MRN-OTHER-4412", "+4915198765432")


@dataclass
class Canary:
    patient: Patient
    enrollment: Enrollment


def _canary_patient(population: Population, webhooks: Any, **fields: Any) -> Canary:
    nurse = population.staff["nurse"]
    data = patient_data_create(clinic=population.clinic, care_team=None, by=nurse, language="de", **fields)
    patient = data.patient
    # A second check-in (green), its answers in the summary; the red one raised an alert.
    checkin_submit(
        patient_id=patient.pk,
        answers=green_answers(),
        scheduled_check_in_id=None,
        channel="staff",
        submitted_by=nurse,
        taken_at=None,
        audit=None,
    )
    # A message from the patient in their own words, naming themselves.
    webhooks.sms(str(patient.phone), f"Hier ist {patient.given_name} {patient.family_name}, bitte anrufen")
    alert_resolve(alert=data.alert, by=nurse, outcome="advised", note=f"Called {patient.given_name}, all fine")
    enrollment_end(enrollment=data.enrollment, by=nurse)
    patient.refresh_from_db()
    return Canary(patient=patient, enrollment=data.enrollment)


@pytest.fixture
def canary(population: Population, webhooks: Any, sms_settings: None) -> Canary:
    return _canary_patient(
        population, webhooks, given_name=GIVEN, family_name=FAMILY, mrn=MRN, phone=PHONE, sms_consent=True
    )


@pytest.fixture
def other_canary(population: Population, webhooks: Any, sms_settings: None) -> Canary:
    given, family, mrn, phone = OTHER_CANARIES
    return _canary_patient(
        population, webhooks, given_name=given, family_name=family, mrn=mrn, phone=phone, sms_consent=True
    )


@pytest.fixture
def admin(population: Population) -> Any:
    return population.staff["admin"]


def _zip(response: Any) -> tuple[dict[str, Any], str, bytes]:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        assert sorted(archive.namelist()) == ["data.json", "summary.html"]
        data = json.loads(archive.read("data.json"))
        summary = archive.read("summary.html").decode()
    return data, summary, raw


def _text_columns() -> list[tuple[type[models.Model], str]]:
    """Every text column of every table of every installed app: CharField (phone and
    e-mail fields are CharFields), TextField and JSONField."""
    columns = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField | models.JSONField):
                columns.append((model, field.attname))
    return columns


def _found(values: tuple[str, ...]) -> list[str]:
    """``model.column: value`` for each cell that holds one of ``values``."""
    needles = [value.lower() for value in values]
    hits = []
    for model, column in _text_columns():
        for pk, cell in model._default_manager.values_list("pk", column).iterator():
            text = cell if isinstance(cell, str) else json.dumps(cell, ensure_ascii=False, default=str)
            if text and any(needle in text.lower() for needle in needles):
                hits.append(f"{model._meta.label}.{column} (pk {pk}): {text[:80]}")
    return hits


def _database_rows() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but the audit trail's (a read may add to that)."""
    rows = {}
    for model in apps.get_models(include_auto_created=True):
        if model is AuditRecord or model._meta.proxy or not model._meta.managed:
            continue
        rows[model._meta.label] = list(model._default_manager.order_by("pk").values())
    return rows


def _audit_rows() -> list[dict[str, Any]]:
    return list(AuditRecord.objects.order_by("pk").values())


# --- export ------------------------------------------------------------------------------


def test_it_exports_every_kind_of_the_patients_data_and_nothing_of_another(canary, other_canary, admin):
    """H12: one patient's export holds their rows only (a second patient with canary
    values of their own is nowhere in it)."""
    patient = canary.patient
    response = api_client_for(admin).get(f"/api/v1/patients/{patient.pk}/export/", HTTP_ACCEPT="application/zip")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    data, summary, _raw = _zip(response)
    mine = {"patient_id": patient.pk}
    expected = {
        "check_ins": CheckIn.objects.filter(**mine).count(),
        "sms_outgoing": OutgoingMessage.objects.filter(**mine).count(),
        "sms_inbound": InboundMessage.objects.filter(**mine).count(),
        "message_thread": MessageHistoryEntry.objects.filter(**mine).count(),
        "alerts": Alert.objects.filter(**mine).count(),
        "appointments": Appointment.objects.filter(**mine).count(),
        "scheduled_check_ins": ScheduledCheckIn.objects.filter(**mine).count(),
        "observations": Observation.objects.filter(**mine).count(),
    }
    assert expected["check_ins"] == 2 and expected["sms_inbound"] == 1 and expected["sms_outgoing"] >= 2
    assert expected["alerts"] >= 1 and expected["appointments"] >= 1 and expected["observations"] == 1
    assert {key: len(data[key]) for key in expected} == expected
    for key in ("check_ins", "sms_outgoing", "sms_inbound", "alerts", "appointments", "observations"):
        assert {row["patient_id"] for row in data[key]} == {patient.pk}, key
    assert data["patient"]["mrn"] == MRN
    assert data["consent"]["sms_consent"] is True
    assert "Hier ist Zebulon Quixwhistle" in json.dumps(data, ensure_ascii=False)
    # The summary reads in the patient's language: the catalogue's German headings and
    # the protocol's German questions.
    assert "Ihre bei Vigil gespeicherten Daten" in summary
    assert "Hatten Sie seit Ihrer letzten Antwort" in summary
    assert MRN in summary and GIVEN in summary
    for value in OTHER_CANARIES:
        assert value not in summary and value not in json.dumps(data, ensure_ascii=False), value
    assert AuditRecord.objects.filter(object_type="patient_export", patient_id=patient.pk).count() == 1


def test_it_exports_from_the_staff_page_as_well(client, canary, admin):
    client.force_login(admin)
    page = client.get(f"/dashboard/patients/{canary.patient.pk}/data-rights/")
    assert page.status_code == 200
    assert f"/dashboard/patients/{canary.patient.pk}/data-rights/export/" in page.content.decode()
    response = client.get(f"/dashboard/patients/{canary.patient.pk}/data-rights/export/")
    assert response.status_code == 200
    data, _summary, _raw = _zip(response)
    assert data["patient"]["id"] == canary.patient.pk


# --- who may --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["export/", "erasure/", "consent-withdrawal/"])
def test_only_an_admin_of_the_patients_clinic_reaches_the_api(population, canary, path):
    """H12: another clinic's admin gets a 404 (the patient's existence not revealed);
    any other role a 403."""
    url = f"/api/v1/patients/{canary.patient.pk}/{path}"
    method = "post" if path == "consent-withdrawal/" else "get"
    other_admin = UserFactory(clinic=population.other_clinic, role=Role.ADMIN)
    assert getattr(api_client_for(other_admin), method)(url).status_code == 404
    for role in ("nurse", "surgeon", "coordinator"):
        assert getattr(api_client_for(population.staff[role]), method)(url).status_code == 403, role
    assert getattr(api_client_for(population.own.user), method)(url).status_code == 403
    assert getattr(api_client_for(None), method)(url).status_code == 401
    assert Patient.objects.get(pk=canary.patient.pk).consent_withdrawn_at is None
    # Asked for a ZIP, a refusal still answers in JSON, as the schema documents.
    refused = getattr(api_client_for(population.staff["nurse"]), method)(url, HTTP_ACCEPT="application/zip")
    assert refused["Content-Type"] == "application/json" and "detail" in refused.json()


def test_only_an_admin_of_the_patients_clinic_reaches_the_pages(client, population, canary):
    url = f"/dashboard/patients/{canary.patient.pk}/data-rights/"
    client.force_login(UserFactory(clinic=population.other_clinic, role=Role.ADMIN))
    assert client.get(url).status_code == 404
    assert client.get(url + "export/").status_code == 404
    client.force_login(population.staff["nurse"])
    assert client.get(url).status_code == 403
    assert client.post(url + "erase/", {"confirm_mrn": MRN}).status_code == 403


# --- erasure ----------------------------------------------------------------------------------


def test_erasure_before_the_retention_date_is_refused_with_the_date_and_changes_nothing(canary, admin):
    patient = canary.patient
    client = api_client_for(admin)
    status = retention_status(patient=patient)
    # A German patient of a clinic whose number is British (not configured): the
    # longest period, the default's 25 years, applies.
    assert status.countries == ["GB", "DE"] and status.years == 25
    assert status.retention_until == date(timezone.localdate().year + 25, *timezone.localdate().timetuple()[1:3])
    before = _database_rows()
    audit_before = _audit_rows()
    response = client.post(f"/api/v1/patients/{patient.pk}/erasure/", {"confirm_mrn": MRN}, format="json")
    assert response.status_code == 409
    assert response.json()["retention_until"] == status.retention_until.isoformat()
    assert status.retention_until.isoformat() in response.json()["detail"]
    assert response.json()["code"] == "retention_period"
    assert _database_rows() == before
    audit_after = _audit_rows()
    assert audit_after[: len(audit_before)] == audit_before
    # The refused attempt is in the audit trail (who tried, on whom), nothing else changed.
    assert [row["object_type"] for row in audit_after[len(audit_before) :]] == ["patient_erasure_refused"]


def test_erasure_on_the_page_before_the_date_is_refused_with_the_date(client, canary, admin):
    client.force_login(admin)
    until = retention_status(patient=canary.patient).retention_until
    response = client.post(f"/dashboard/patients/{canary.patient.pk}/data-rights/erase/", {"confirm_mrn": MRN})
    assert response.status_code == 409
    assert until.isoformat() in response.content.decode()
    assert Patient.objects.get(pk=canary.patient.pk).erased_at is None


def test_erasure_needs_the_mrn_typed_as_confirmation(canary, admin):
    response = api_client_for(admin).post(
        f"/api/v1/patients/{canary.patient.pk}/erasure/", {"confirm_mrn": "MRN-WRONG"}, format="json"
    )
    assert response.status_code == 400
    assert "confirm_mrn" in response.json()


def test_erasure_is_refused_while_the_follow_up_is_active(population, admin):
    response = api_client_for(admin).post(
        f"/api/v1/patients/{population.own.patient.pk}/erasure/",
        {"confirm_mrn": population.own.patient.mrn},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "follow_up_active"


def test_after_the_retention_date_erasure_leaves_no_identifying_value_and_the_statistics(
    canary, other_canary, admin, population
):
    """H13: after erasure no text column of any table holds the patient's name, phone or
    MRN; the per-rule statistics are unchanged; the audit trail is whole (every earlier
    row as it was, the erasure itself added, nothing identifying in it)."""
    patient = canary.patient
    assert _found(CANARIES), "the canaries must be in the database before"
    metrics_before = alert_metrics(clinic_id=population.clinic.pk)
    answers_before = list(CheckIn.objects.filter(patient_id=patient.pk).order_by("pk").values_list("answers", "level"))
    until = retention_status(patient=patient).retention_until
    audit_before = _audit_rows()
    with time_machine.travel(datetime.combine(until, datetime.min.time()) + timedelta(hours=12), tick=False):
        client = api_client_for(admin)  # a token of that day (tokens expire)
        audit_before += _audit_rows()[len(audit_before) :]
        response = client.post(f"/api/v1/patients/{patient.pk}/erasure/", {"confirm_mrn": MRN}, format="json")
        assert response.status_code == 200, response.content
        assert alert_metrics(clinic_id=population.clinic.pk) == metrics_before
    assert _found(CANARIES) == []
    # The other patient's data is all still there.
    assert len(_found(OTHER_CANARIES)) >= 4
    audit_after = _audit_rows()
    assert audit_after[: len(audit_before)] == audit_before
    erasure = [row for row in audit_after[len(audit_before) :] if row["object_type"] == "patient_erasure"]
    assert len(erasure) == 1 and erasure[0]["patient_id"] == patient.pk and erasure[0]["action"] == "delete"
    # Still append-only: the database refuses to rewrite a row of it.
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditRecord.objects.filter(pk=erasure[0]["id"]).update(actor_username="someone else")
    # The clinical record is kept, anonymised.
    assert (
        list(CheckIn.objects.filter(patient_id=patient.pk).order_by("pk").values_list("answers", "level"))
        == answers_before
    )
    assert Alert.objects.filter(patient_id=patient.pk).exclude(rule_id="").count() >= 1
    erased = Patient.objects.get(pk=patient.pk)
    assert erased.erased_at is not None and erased.sms_consent is False


def test_the_erased_patient_signs_in_no_more(canary, admin):
    patient = canary.patient
    patient_client = api_client_for(patient.user)
    assert patient_client.get("/api/v1/me/").status_code == 200
    until = retention_status(patient=patient).retention_until
    with time_machine.travel(datetime.combine(until, datetime.min.time()) + timedelta(days=1), tick=False):
        assert (
            api_client_for(admin)
            .post(f"/api/v1/patients/{patient.pk}/erasure/", {"confirm_mrn": MRN}, format="json")
            .status_code
            == 200
        )
    assert patient_client.get("/api/v1/me/").status_code == 401


def test_consent_withdrawn_allows_erasure_only_where_no_retention_duty_applies(settings, canary, admin, client):
    patient = canary.patient
    client.force_login(admin)
    response = client.post(f"/dashboard/patients/{patient.pk}/data-rights/consent-withdrawal/")
    assert response.status_code == 302
    assert retention_status(patient=patient).erasable is False  # a duty applies by default
    settings.VIGIL_RETENTION = {
        code: {**entry, "retention_duty": False} for code, entry in settings.VIGIL_RETENTION.items()
    } | {"GB": {"years": 10, "retention_duty": False, "basis": "test"}}
    assert retention_status(patient=patient).erasable is True
    response = client.post(f"/dashboard/patients/{patient.pk}/data-rights/erase/", {"confirm_mrn": MRN})
    assert response.status_code == 302
    assert Patient.objects.get(pk=patient.pk).erased_at is not None


# --- the nightly review ---------------------------------------------------------------------


def test_the_nightly_review_lists_patients_past_retention_and_erases_nothing(client, canary, admin):
    patient = canary.patient
    until = retention_status(patient=patient).retention_until
    assert retention_review_run(today=until - timedelta(days=1)).listed == 0
    with time_machine.travel(datetime.combine(until, datetime.min.time()) + timedelta(hours=3), tick=False):
        from followup.data_rights.tasks import retention_review_task

        assert retention_review_task.apply().get()["listed"] == 1
        client.force_login(admin)
        page = client.get("/dashboard/data-rights/")
    assert page.status_code == 200
    assert MRN in page.content.decode()
    fresh = Patient.objects.get(pk=patient.pk)
    assert fresh.erasure_due_since == until and fresh.erased_at is None and fresh.mrn == MRN


def test_the_api_states_the_retention_date_and_its_basis(settings, canary, admin, population):
    settings.VIGIL_RETENTION = settings.VIGIL_RETENTION | {"GB": {"years": 7, "retention_duty": True, "basis": "x"}}
    response = api_client_for(admin).get(f"/api/v1/patients/{canary.patient.pk}/erasure/")
    assert response.status_code == 200
    body = response.json()
    # The clinic's country (GB, 7 years here) and the patient's (DE, 10): the longer wins.
    assert [entry["country"] for entry in body["countries"]] == ["GB", "DE"]
    assert (
        body["retention_until"]
        == date(timezone.localdate().year + 10, *timezone.localdate().timetuple()[1:3]).isoformat()
    )
    assert body["erasable"] is False and body["follow_up_active"] is False
    assert AuditRecord.objects.filter(object_type="patient_data_rights", patient_id=canary.patient.pk).exists()


def test_erasure_on_a_shared_phone_leaves_the_other_patient_their_phone_and_messages(
    canary, population, webhooks, admin
):
    """H5: a phone shared with another patient stays theirs; what names the erased
    patient (the "who is answering?" question) goes."""
    sibling = patient_data_create(
        clinic=population.clinic,
        care_team=None,
        by=population.staff["nurse"],
        given_name="Philippa",
        family_name="Fernsby",
        mrn="MRN-SIBLING-2207",
        phone=PHONE,
    ).patient
    webhooks.sms(PHONE, "wer bin ich")  # two patients on the phone: the sender is asked who writes
    assert OutgoingMessage.objects.filter(to_phone=PHONE, body__contains=GIVEN).exclude(patient=canary.patient)
    until = retention_status(patient=canary.patient).retention_until
    with time_machine.travel(datetime.combine(until, datetime.min.time()) + timedelta(hours=12), tick=False):
        response = api_client_for(admin).post(
            f"/api/v1/patients/{canary.patient.pk}/erasure/", {"confirm_mrn": MRN}, format="json"
        )
        assert response.status_code == 200, response.content
    assert _found((GIVEN, FAMILY, MRN)) == []
    assert str(Patient.objects.get(pk=sibling.pk).phone) == PHONE
    assert InboundMessage.objects.filter(from_phone=PHONE, body="wer bin ich").exists()


def test_the_erased_patients_pages_still_open_and_name_nobody(client, canary, admin, population):
    """The anonymised record stays readable to staff: the patient, plan, alert and
    metrics pages open (no error on the emptied phone and names) and show none of the
    identifying values."""
    patient = canary.patient
    alert = Alert.objects.filter(patient_id=patient.pk).first()
    until = retention_status(patient=patient).retention_until
    with time_machine.travel(datetime.combine(until, datetime.min.time()) + timedelta(hours=12), tick=False):
        response = api_client_for(admin).post(
            f"/api/v1/patients/{patient.pk}/erasure/", {"confirm_mrn": MRN}, format="json"
        )
        assert response.status_code == 200
        client.force_login(admin)
        for url in (
            f"/dashboard/patients/{patient.pk}/",
            f"/plans/patients/{patient.pk}/",
            f"/dashboard/alerts/{alert.pk}/",
            "/dashboard/metrics/",
            f"/dashboard/patients/{patient.pk}/data-rights/",
        ):
            page = client.get(url)
            assert page.status_code == 200, url
            assert not any(value in page.content.decode() for value in CANARIES), url
        data, summary, _raw = _zip(client.get(f"/dashboard/patients/{patient.pk}/data-rights/export/"))
    assert len(data["check_ins"]) == 2 and data["patient"]["erased_at"] is not None
    assert not any(value in summary or value in json.dumps(data) for value in CANARIES)


def test_the_api_records_a_withdrawal_of_consent_once(canary, admin):
    client = api_client_for(admin)
    url = f"/api/v1/patients/{canary.patient.pk}/consent-withdrawal/"
    first = client.post(url)
    assert first.status_code == 200 and first.json()["consent_withdrawn"] is True
    assert first.json()["erasable"] is False  # a retention duty applies by default
    withdrawn_at = Patient.objects.get(pk=canary.patient.pk).consent_withdrawn_at
    assert client.post(url).status_code == 200
    assert Patient.objects.get(pk=canary.patient.pk).consent_withdrawn_at == withdrawn_at
    audited = AuditRecord.objects.filter(object_type="patient_consent_withdrawal", patient_id=canary.patient.pk)
    assert audited.count() == 1
