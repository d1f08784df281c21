"""The check-in suites use the kit's fixtures (tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def make_enrolled_patient(make_enrolled):
    """The kit's ``make_enrolled`` under its old name: kept only until
    test_checkin_query_budget.py (being edited by another change) is switched over."""
    return make_enrolled
