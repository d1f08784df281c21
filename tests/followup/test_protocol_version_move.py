"""Protocol versions: a new version becomes current for new enrollments only; a
patient enrolled on version 2026.1 stays on it (and is judged by it) until a nurse
moves them; the move replays version 2026.2's rules on their history first and shows
what would have fired differently (H3), then re-plans (72 h surveillance windows) and
is audited."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from backend.models import AuditRecord
from followup.models import Alert, Enrollment, ProtocolVersion, ScheduledCheckIn
from followup.protocols import DEFAULT_DATA_DIR
from followup.services.observations import observation_create
from followup.services.protocol_moves import protocol_move, protocol_replay
from followup.services.protocols import protocol_version_current
from tests.factories import EnrollmentFactory, enrolled_patient_create

pytestmark = pytest.mark.django_db

SLUG = "post-hepatectomy"


@pytest.fixture
def v1(tmp_path: Path) -> ProtocolVersion:
    """Version 2026.1 published as it was before version 2 (its files as kept)."""
    directory = tmp_path / SLUG
    shutil.copytree(DEFAULT_DATA_DIR / SLUG / "versions" / "2026.1", directory)
    version = protocol_version_current(SLUG, data_dir=tmp_path)
    assert version.version == "2026.1" and version.is_current
    return version


def lab(patient, nurse, code, value, unit, minutes_ago, **extra):
    return observation_create(
        patient=patient,
        code=code,
        value=value,
        unit=unit,
        observed_at=timezone.now() - timedelta(minutes=minutes_ago),
        entered_by=nurse,
        **extra,
    )


@pytest.fixture
def on_v1(v1, clinic, care_team, nurse):
    """A patient enrolled while 2026.1 was current (day 9 after surgery), then version
    2026.2 published; an ALT of 210 U/L with the lab's upper limit 45 and a CEA
    doubling inside the normal range, judged by 2026.1."""
    from tests.factories import EpisodeFactory, PatientFactory

    patient = PatientFactory(clinic=clinic, care_team=care_team)
    today = timezone.localdate()
    episode = EpisodeFactory(
        patient=patient, surgery_date=today - timedelta(days=9), discharge_date=today - timedelta(days=2)
    )
    enrollment = EnrollmentFactory(episode=episode, protocol_version=v1)
    v2 = protocol_version_current(SLUG)
    assert v2.version == "2026.2"
    lab(patient, nurse, "alt_u_l", 210, "U/L", 30, reference_high=45)
    lab(patient, nurse, "cea_ng_ml", 0.8, "ng/mL", 20)
    lab(patient, nurse, "cea_ng_ml", 1.6, "ng/mL", 10)
    return enrollment


def test_a_new_version_is_current_for_new_enrollments_and_the_enrolled_keep_theirs(on_v1, v1, nurse):
    v1.refresh_from_db()
    assert not v1.is_current
    current = ProtocolVersion.objects.get(protocol__slug=SLUG, is_current=True)
    assert current.version == "2026.2"
    newcomer = enrolled_patient_create(discharged_days_ago=2, by=nurse)
    assert newcomer.protocol_version == current
    on_v1.refresh_from_db()
    assert on_v1.protocol_version == v1
    # Each is judged by their own version: the v1 patient's ALT 210 fired the fixed
    # 200 U/L and the CEA doubling fired; the same results on v2 open nothing.
    assert set(Alert.objects.filter(patient=on_v1.patient).values_list("rule_id", flat=True)) == {
        "transaminases_high",
        "cea_rising",
    }
    assert all(alert.rule_version == "2026.1" for alert in Alert.objects.filter(patient=on_v1.patient))
    lab(newcomer.patient, nurse, "alt_u_l", 210, "U/L", 5, reference_high=45)
    assert not Alert.objects.filter(patient=newcomer.patient).exists()


def test_the_replay_shows_what_the_new_version_would_have_fired_and_changes_nothing(on_v1):
    target = ProtocolVersion.objects.get(protocol__slug=SLUG, is_current=True)
    replay = protocol_replay(enrollment=on_v1, target=target)
    assert replay.lab_results == 3
    disappear = {(item.kind, rule) for item in replay.differences for rule in item.as_dict()["disappear"]}
    assert disappear == {("observation", "transaminases_high"), ("observation", "cea_rising")}
    assert all(not item.as_dict()["appear"] for item in replay.differences)
    on_v1.refresh_from_db()
    assert on_v1.protocol_version.version == "2026.1"


def test_moving_replays_then_moves_re_plans_and_audits(on_v1, nurse):
    target = ProtocolVersion.objects.get(protocol__slug=SLUG, is_current=True)
    result = protocol_move(enrollment=on_v1, target=target, by=nurse)
    assert {item.kind for item in result.replay.differences} == {"observation"}
    on_v1.refresh_from_db()
    assert on_v1.protocol_version == target
    assert AuditRecord.objects.filter(
        object_type="enrollment_protocol_version", object_id=str(on_v1.pk), actor_user_id=nurse.pk
    ).exists()
    surveillance = ScheduledCheckIn.objects.filter(enrollment=on_v1, phase="surveillance")
    assert surveillance.exists()
    assert set(surveillance.values_list("window_minutes", flat=True)) == {72 * 60}
    # From now on the patient is judged by 2026.2.
    before = Alert.objects.count()
    lab(on_v1.patient, nurse, "alt_u_l", 215, "U/L", 1, reference_high=45)
    assert Alert.objects.count() == before


def test_the_api_previews_and_moves_within_the_clinic_only(on_v1, nurse_client, other_nurse_client):
    url = f"/api/v1/enrollments/{on_v1.pk}/protocol-move/"
    assert other_nurse_client.get(url).status_code == 404
    assert other_nurse_client.post(url, {}, format="json").status_code == 404
    preview = nurse_client.get(url)
    assert preview.status_code == 200, preview.json()
    body = preview.json()
    assert body["current_version"]["version"] == "2026.1" and body["target_version"]["version"] == "2026.2"
    assert sorted(rule for item in body["differences"] for rule in item["disappear"]) == [
        "cea_rising",
        "transaminases_high",
    ]
    assert Enrollment.objects.get(pk=on_v1.pk).protocol_version.version == "2026.1"
    assert nurse_client.post(url, {"version": "x"}, format="json").json() == {
        "version": ["A version id (a whole number) is required."]
    }
    moved = nurse_client.post(url, {}, format="json")
    assert moved.status_code == 200 and moved.json()["moved"] is True
    assert Enrollment.objects.get(pk=on_v1.pk).protocol_version.version == "2026.2"
    again = nurse_client.post(url, {}, format="json")
    assert again.status_code == 400 and "version" in again.json()
