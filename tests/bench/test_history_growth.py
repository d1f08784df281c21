"""bench/history_growth.py's parts on a small size: its histories sit inside the rule
windows, its check-in is green whatever the history, the statements do not grow with
the history, and bench/run.py turns its figures into a row."""

from __future__ import annotations

import pytest
from django.utils import timezone

from bench import history_growth
from bench.run import history_growth_rows
from bench.seeding import clinic_create, enrolled_patients_create
from followup.models import CheckIn


@pytest.mark.django_db
def test_a_check_in_costs_the_same_statements_with_5_and_500_past_check_ins():
    clinic = clinic_create(name="History growth test clinic")
    small, large = enrolled_patients_create(clinic=clinic, count=2, discharged_days_ago=40)
    history_growth.history_create(patient_id=small, size=5)
    history_growth.history_create(patient_id=large, size=500)
    oldest = CheckIn.objects.filter(patient_id=large).order_by("taken_at").first()
    assert timezone.now() - oldest.taken_at < history_growth.SPACING * 501  # 12 an hour: inside 72 h
    _, few, level_small = history_growth.submit(small)
    _, many, level_large = history_growth.submit(large)
    assert level_small == level_large == "green"
    assert few == many
    assert len(history_growth.bounded_read(large).check_ins) <= 4
    assert history_growth.whole_history_judge(large).level == "green"


def test_run_py_reads_its_figures_into_one_row():
    data = {
        "sizes": [
            {"check_ins": 10, "checkin_submit_ms": 20.0, "statements": [7]},
            {"check_ins": 10000, "checkin_submit_ms": 21.0, "statements": [7]},
        ],
        "ratio": 1.05,
        "baseline_ratio": 40.0,
        "same_statements": True,
    }
    (row,) = history_growth_rows(data)
    assert row.figure.startswith("2 check-in with 10,000 vs 10 past check-ins")
    assert row.verdict == "met"
    (missed,) = history_growth_rows({**data, "ratio": 1.3})
    assert missed.verdict == "MISSED"
