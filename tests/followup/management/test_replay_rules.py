"""manage.py replay_rules: what a candidate rule file would change, per rule, and what
the alerts it would drop had led to (H3)."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from followup.models import Alert
from followup.protocols import DEFAULT_DATA_DIR
from followup.services.alert_review import alert_resolve
from followup.services.checkins import checkin_submit
from followup.services.observations import observation_create
from tests.factories import green_answers

pytestmark = pytest.mark.django_db

SLUG = "post-hepatectomy"


@pytest.fixture
def candidate(tmp_path: Path) -> Path:
    """fever_high raised from 38.5 to 39.0 (the amber fever band up to it); right_upper_pain
    (amber) made red; albumin_low lowered from 25 to 18 g/L."""
    directory = tmp_path / SLUG
    shutil.copytree(DEFAULT_DATA_DIR / SLUG, directory)
    rules = directory / "rules.yaml"
    text = rules.read_text(encoding="utf-8")
    text = text.replace('{answer: temperature_c, ">=": 38.5}', '{answer: temperature_c, ">=": 39.0}', 1)
    text = text.replace('{answer: temperature_c, "<": 38.5}', '{answer: temperature_c, "<": 39.0}', 1)
    text = text.replace('{lab: albumin_g_l, "<": 25}', '{lab: albumin_g_l, "<": 18}', 1)
    upper = text.index("- id: right_upper_pain\n")
    text = text[:upper] + text[upper:].replace("severity: amber", "severity: red", 1)
    rules.write_text(text, encoding="utf-8")
    return directory


def replay(path: Path, *extra: str) -> str:
    out = StringIO()
    call_command("replay_rules", "--protocol", str(path), "--since", "2020-01-01", *extra, stdout=out)
    return out.getvalue()


@pytest.fixture
def history(make_enrolled, nurse):
    """Three high fevers (38.6: fired under today's rules, not under the candidate's),
    one of them recalled; one 39.2 fever that fires either way; one right upper pain;
    an albumin of 20 g/L."""
    patients = [make_enrolled() for _ in range(3)]
    for patient in patients:
        checkin_submit(patient_id=patient.pk, answers=green_answers(temperature_c=38.6), channel="app")
    recalled = Alert.objects.filter(rule_id="fever_high").order_by("id").first()
    alert_resolve(alert=recalled, by=nurse, outcome="recalled", complication_grade="II")
    checkin_submit(patient_id=make_enrolled().pk, answers=green_answers(temperature_c=39.2), channel="app")
    checkin_submit(
        patient_id=patients[0].pk,
        answers=green_answers(right_upper_pain=True),
        channel="app",
    )
    observation_create(
        patient=patients[0],
        code="albumin_g_l",
        value=20,
        unit="g/L",
        observed_at=timezone.now() - timedelta(hours=1),
        entered_by=nurse,
    )
    return patients


def test_replay_reports_disappearing_alerts_and_their_recalls(history, candidate):
    """H3: a threshold change shows what it would have missed, recalls included."""
    report = json.loads(replay(candidate, "--format", "json"))
    assert report["check_ins"] == 5 and report["lab_results"] == 1
    rules = {row["rule_id"]: row for row in report["rules"]}
    fever_high = rules["fever_high"]
    assert fever_high["fired_now"] == 4 and fever_high["fired_candidate"] == 1
    assert fever_high["disappear"] == 3
    assert fever_high["alerts_lost"] == 3
    assert fever_high["alerts_lost_recalled"] == 1
    assert fever_high["alerts_lost_grade_ii_plus"] == 1
    # Under the candidate, 38.6 without chills is the amber fever instead.
    assert rules["fever"]["appear"] == 3 and rules["fever"]["patients_appear"] == 3
    upper = rules["right_upper_pain"]
    assert upper["severity_changed"] == 1
    assert upper["severity_now"] == "amber" and upper["severity_candidate"] == "red"
    albumin = rules["albumin_low"]
    assert albumin["disappear"] == 1 and albumin["alerts_lost"] == 1 and albumin["alerts_lost_recalled"] == 0


def test_replay_prints_a_table_of_changed_rules(history, candidate):
    text = replay(candidate / "rules.yaml")
    assert "Replayed 5 check-ins and 1 lab results" in text
    fever_line = next(line for line in text.splitlines() if line.startswith("fever_high "))
    assert fever_line.split()[:10] == ["fever_high", "red", "4", "1", "0", "3", "0", "3", "1", "1"]
    assert any(line.startswith("right_upper_pain ") and "amber->red" in line for line in text.splitlines())
    assert not any(line.startswith("jaundice ") for line in text.splitlines())


def test_replaying_the_current_rules_changes_nothing(history):
    assert "No rule would fire differently." in replay(DEFAULT_DATA_DIR / SLUG)


def test_a_candidate_that_does_not_load_is_refused_naming_the_rule(candidate):
    """H3."""
    rules = candidate / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("answer: jaundice,", "answer: yellowness,", 1))
    with pytest.raises(CommandError, match="rule 'jaundice'") as refused:
        replay(candidate)
    assert str(candidate / "rules.yaml") in str(refused.value)


def test_a_bad_date_is_refused(candidate):
    with pytest.raises(CommandError, match="--since"):
        call_command("replay_rules", "--protocol", str(candidate), "--since", "last week")
