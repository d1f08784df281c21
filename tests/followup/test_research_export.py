"""The research export (issue 21): check-ins, alerts and outcomes of the admin's clinic
as CSV, pseudonymised: every row counted, no identifying value of any patient (name,
phone, MRN, a calendar date, a free-text note) anywhere in the file, nothing of another
clinic, pseudonyms that do not carry over to the next export, and the export audited
per patient. Only the clinic admin may make it (H12 for the role check)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from backend.models import AuditRecord, Role
from backend.services import patient_user_get_or_create
from followup.models import Alert, CheckIn
from followup.research_export import research_export_build
from tests.conftest import token_client
from tests.factories import UserFactory, green_answers

pytestmark = pytest.mark.django_db


def check_in(patient, **answers) -> dict:
    client = token_client(patient_user_get_or_create(patient))
    response = client.post("/api/v1/check-ins/", {"answers": green_answers(**answers)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def admin(clinic):
    return UserFactory(clinic=clinic, role=Role.ADMIN)


@pytest.fixture
def followed(make_enrolled, other_clinic):
    """Two patients of the clinic with check-ins and a resolved red alert with a note
    naming the patient; one patient of another clinic with a check-in."""
    ayse = make_enrolled(given_name="Ayşegül", family_name="Karadeniz", mrn="HX-448812")
    ivan = make_enrolled(given_name="Ivanna", family_name="Shevchuk", mrn="UA-90017")
    check_in(ayse)
    check_in(ayse, jaundice=True)
    check_in(ivan)
    alert = Alert.objects.get(patient=ayse)
    Alert.objects.filter(pk=alert.pk).update(
        status=Alert.Status.RESOLVED,
        outcome=Alert.Outcome.RECALLED,
        complication_grade="II",
        resolved_at=alert.created_at + timedelta(minutes=42),
        resolution_note="Called Ayşegül Karadeniz at home, came in",
    )
    return {"patients": [ayse, ivan]}


def unzip(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_counts_every_row_and_holds_no_identifying_value(admin, followed):
    export = research_export_build(clinic_id=admin.clinic_id, by=admin)
    files = unzip(export.content)
    assert set(files) == {"README.txt", "check_ins.csv", "alerts.csv", "outcomes.csv"}
    patients = followed["patients"]
    check_ins, alerts, outcomes = (rows(files[name]) for name in ("check_ins.csv", "alerts.csv", "outcomes.csv"))
    assert len(check_ins) == CheckIn.objects.filter(patient__in=patients).count() == 3
    assert len(alerts) == Alert.objects.filter(patient__in=patients).count() == 1
    assert len(outcomes) == 2  # one episode each
    assert export.counts == {"check_ins": 3, "alerts": 1, "outcomes": 2}

    [alert] = alerts
    assert (alert["severity"], alert["outcome"], alert["complication_grade"]) == ("red", "recalled", "II")
    assert alert["minutes_to_resolve"] == "42" and alert["day_after_discharge"].isdigit()
    assert sorted(row["level"] for row in check_ins) == ["green", "green", "red"]
    assert {row["answer.jaundice"] for row in check_ins} == {"true", "false"}
    by_patient = {row["patient"]: row for row in outcomes}
    assert sorted(int(row["check_ins"]) for row in by_patient.values()) == [1, 2]
    assert sorted(row["recalled"] for row in by_patient.values()) == ["0", "1"]

    everything = "\n".join(files.values())
    for patient in patients:
        episode = patient.episodes.get()
        identifying = [
            patient.given_name,
            patient.family_name,
            patient.mrn,
            str(patient.phone),
            str(patient.phone).lstrip("+"),
            episode.surgery_date.isoformat(),
            episode.discharge_date.isoformat(),
            timezone.now().date().isoformat(),
        ]
        for value in identifying:
            assert value not in everything, value
        # The pseudonym is not the id.
        assert str(patient.pk) not in {row["patient"] for row in check_ins}
    assert "Called" not in everything  # the free-text note


def test_another_clinics_patients_are_not_in_it_and_pseudonyms_do_not_carry_over(
    admin, followed, other_clinic, make_enrolled
):
    stranger = make_enrolled(given_name="Zeynep", family_name="Aksoy")
    stranger.clinic = other_clinic
    stranger.save()
    check_in(stranger)
    first = rows(unzip(research_export_build(clinic_id=admin.clinic_id, by=admin).content)["check_ins.csv"])
    second = rows(unzip(research_export_build(clinic_id=admin.clinic_id, by=admin).content)["check_ins.csv"])
    assert len(first) == len(second) == 3
    assert {row["patient"] for row in first}.isdisjoint({row["patient"] for row in second})
    assert len({row["patient"] for row in first}) == 2


def test_the_export_is_audited_per_patient_without_naming_them(admin, followed):
    export = research_export_build(clinic_id=admin.clinic_id, by=admin)
    records = AuditRecord.objects.filter(object_type="research_export", actor_user_id=admin.pk)
    assert {record.patient_id for record in records} == {patient.pk for patient in followed["patients"]}
    assert {record.object_id for record in records} == {export.export_id}
    assert {record.clinic_id for record in records} == {admin.clinic_id}


def test_the_admin_downloads_it_and_other_roles_cannot(admin, clinic, followed):
    client = Client()
    client.force_login(admin)
    assert client.get("/research-export/").status_code == 200
    response = client.post("/research-export/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    assert len(rows(unzip(response.content)["check_ins.csv"])) == 3
    assert AuditRecord.objects.filter(object_type="research_export", path="/research-export/").count() == 2

    for role in (Role.NURSE, Role.SURGEON, Role.COORDINATOR):
        other = Client()
        other.force_login(UserFactory(clinic=clinic, role=role))
        assert other.get("/research-export/").status_code == 403
        assert other.post("/research-export/").status_code == 403


def test_the_command_writes_the_file(admin, followed, tmp_path, capsys):
    out = tmp_path / "export.zip"
    call_command("research_export", "--by", admin.username, "--out", str(out))
    assert "3 check_ins, 1 alerts, 2 outcomes" in capsys.readouterr().out
    assert oct(out.stat().st_mode)[-3:] == "600"
    assert len(rows(unzip(out.read_bytes())["alerts.csv"])) == 1
