"""The one set of strict input fields (backend/serializers.py) every API uses: the same
input gets the same answer in the check-ins API and the plans API (API.md: types are
strict; a time without its offset is refused, not guessed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rest_framework import serializers

from backend.serializers import AwareDateTimeField, StrictCharField, StrictIntegerField


@pytest.mark.parametrize("value", ["5", 5.0, 5.5, True, None, "five"])
def test_a_whole_number_is_a_json_integer_and_nothing_else(value: object) -> None:
    with pytest.raises(serializers.ValidationError):
        StrictIntegerField().run_validation(value)


def test_a_json_integer_is_taken() -> None:
    assert StrictIntegerField(min_value=1).run_validation(5) == 5


@pytest.mark.parametrize("value", ["2026-11-23T09:30:00", "23.11.2026 09:30", 1700000000, "2026-11-23T09:30:00+99:00"])
def test_a_time_needs_its_offset(value: object) -> None:
    with pytest.raises(serializers.ValidationError):
        AwareDateTimeField().run_validation(value)


def test_a_time_with_its_offset_is_the_same_instant_in_utc() -> None:
    parsed = AwareDateTimeField().run_validation("2026-11-23T09:30:00+03:00")
    assert parsed == datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
    assert parsed.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("value", [12, True, ["a"]])
def test_text_is_a_json_string(value: object) -> None:
    with pytest.raises(serializers.ValidationError):
        StrictCharField().run_validation(value)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/check-ins/", "/api/v1/scheduled-check-ins/"])
def test_both_apis_refuse_a_float_for_a_patient_id(nurse_client, path: str) -> None:
    response = nurse_client.post(path, {"patient": 1.0}, format="json")
    assert response.status_code == 400
    assert response.json()["patient"] == ["A whole number is required."]
