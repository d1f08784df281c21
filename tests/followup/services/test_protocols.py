"""Protocol versions: the files are published as stored versions, a changed file makes
a new version, a patient stays on theirs (judged by its STORED rules), the system
check names a bad file, and the protocols API serves questions, schedule and rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from followup import checks
from followup.models import Enrollment, ProtocolVersion
from followup.protocols import DEFAULT_DATA_DIR
from followup.services.checkins import checkin_submit
from followup.services.protocols import protocol_definition, protocol_version_current
from tests.factories import green_answers

pytestmark = pytest.mark.django_db

SLUG = "post-hepatectomy"
FEVER_HIGH = '{answer: temperature_c, ">=": 38.5}'


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    shutil.copytree(DEFAULT_DATA_DIR / SLUG, tmp_path / SLUG)
    return tmp_path


def edit(data_dir: Path, name: str, old: str, new: str) -> None:
    path = data_dir / SLUG / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_files_are_published_once_with_their_texts(protocol_version):
    assert protocol_version_current(SLUG) == protocol_version
    assert ProtocolVersion.objects.count() == 1
    assert protocol_version.version == "2026.2" and protocol_version.is_current
    stored = protocol_version.texts.files["rules.yaml"]
    assert stored == (DEFAULT_DATA_DIR / SLUG / "rules.yaml").read_text(encoding="utf-8")
    assert protocol_definition(protocol_version).ruleset.get("jaundice").severity == "red"


def test_a_comment_does_not_make_a_new_version(data_dir):
    first = protocol_version_current(SLUG, data_dir=data_dir)
    edit(data_dir, "rules.yaml", "# --- fever", "# A reviewer's note.\n# --- fever")
    assert protocol_version_current(SLUG, data_dir=data_dir) == first


def test_a_changed_rule_publishes_a_new_version_and_enrolled_patients_keep_theirs(data_dir, make_enrolled):
    """H3: a threshold change goes live as a new version; a patient enrolled before
    is still judged by the version they were enrolled on, from its stored texts."""
    old = protocol_version_current(SLUG, data_dir=data_dir)
    before = make_enrolled()
    Enrollment.objects.filter(patient=before).update(protocol_version=old)

    edit(data_dir, "rules.yaml", FEVER_HIGH, '{answer: temperature_c, ">=": 39.0}')
    new = protocol_version_current(SLUG, data_dir=data_dir)
    assert new != old and new.is_current
    assert new.version == f"2026.2+{new.content_hash[:8]}"
    old.refresh_from_db()
    assert not old.is_current
    after = make_enrolled()
    Enrollment.objects.filter(patient=after).update(protocol_version=new)

    shutil.rmtree(data_dir)  # the stored texts are all an old version needs
    judged_old = checkin_submit(patient_id=before.pk, answers=green_answers(temperature_c=38.6), channel="app")
    judged_new = checkin_submit(patient_id=after.pk, answers=green_answers(temperature_c=38.6), channel="app")
    assert judged_old.level == "red"
    assert judged_new.level == "green"
    assert judged_old.check_in.protocol_version == old


def test_files_changed_back_make_the_earlier_version_current_again(data_dir):
    first = protocol_version_current(SLUG, data_dir=data_dir)
    original = (data_dir / SLUG / "rules.yaml").read_text(encoding="utf-8")
    edit(data_dir, "rules.yaml", FEVER_HIGH, '{answer: temperature_c, ">=": 39.0}')
    second = protocol_version_current(SLUG, data_dir=data_dir)
    (data_dir / SLUG / "rules.yaml").write_text(original, encoding="utf-8")
    again = protocol_version_current(SLUG, data_dir=data_dir)
    assert again == first and again.is_current
    assert ProtocolVersion.objects.get(pk=second.pk).is_current is False
    assert ProtocolVersion.objects.count() == 2


def test_system_check_names_the_bad_file_and_entry(data_dir, monkeypatch):
    """H3: an invalid rule file stops `manage.py check`, naming file and rule."""
    edit(data_dir, "rules.yaml", "answer: jaundice, is: true}", "answer: yellowness, is: true}")
    monkeypatch.setattr(checks, "DEFAULT_DATA_DIR", data_dir)
    errors = checks.protocol_files_check()
    assert len(errors) == 1
    assert errors[0].id == "followup.E001"
    assert "rules.yaml" in errors[0].msg and "rule 'jaundice'" in errors[0].msg
    assert "yellowness" in errors[0].msg
    with pytest.raises(SystemCheckError, match="rule 'jaundice'"):
        call_command("check")


def test_system_check_passes_on_the_shipped_protocols():
    assert checks.protocol_files_check() == []


# --- API ------------------------------------------------------------------------------------


def test_staff_read_questions_texts_review_status_schedule_and_rules(nurse_client, db):
    """H6: each text carries its review status per language."""
    listing = nurse_client.get("/api/v1/protocols/")
    assert listing.status_code == 200
    assert [row["slug"] for row in listing.json()["results"]] == [SLUG]
    body = nurse_client.get(f"/api/v1/protocols/{SLUG}/").json()
    assert body["version"] == "2026.2"
    temperature = next(q for q in body["questions"] if q["id"] == "temperature_c")
    assert temperature["type"] == "number" and temperature["unit"] == "°C"
    assert temperature["range"] == {"min": 34.0, "max": 43.0}
    assert set(temperature["text"]) == {"en", "tr", "de", "ru", "uk", "az"}
    assert temperature["review_status"]["tr"] in ("draft", "reviewed")
    wound = next(q for q in body["questions"] if q["id"] == "wound")
    assert [choice["value"] for choice in wound["choices"]] == ["normal", "red", "discharge", "opened"]
    assert body["schedule"]["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    assert any(rule["id"] == "phlf_50_50" for rule in body["rules"])
    assert nurse_client.get("/api/v1/protocols/no-such-protocol/").status_code == 404


def test_a_patient_reads_the_protocol_version_they_are_enrolled_on(enrolled, patient_client, data_dir):
    enrolled_on = Enrollment.objects.get(patient=enrolled).protocol_version
    edit(data_dir, "rules.yaml", FEVER_HIGH, '{answer: temperature_c, ">=": 39.0}')
    protocol_version_current(SLUG, data_dir=data_dir)  # a newer version is current now
    listing = patient_client.get("/api/v1/protocols/").json()
    assert [(row["slug"], row["version"]) for row in listing["results"]] == [(SLUG, enrolled_on.version)]
    assert patient_client.get(f"/api/v1/protocols/{SLUG}/").json()["version"] == enrolled_on.version


def test_a_patient_not_enrolled_sees_no_protocol(patient_client, patient):
    assert patient_client.get("/api/v1/protocols/").json()["results"] == []
    assert patient_client.get(f"/api/v1/protocols/{SLUG}/").status_code == 404


def test_anonymous_is_401(anonymous_client):
    assert anonymous_client.get("/api/v1/protocols/").status_code == 401
