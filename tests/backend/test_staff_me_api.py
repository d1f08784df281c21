"""``GET/PATCH /api/v1/staff/me/`` (API.md): a staff member reads their profile and sets
their language, which every page and SMS to them then uses (issue 19)."""

from __future__ import annotations

from typing import Any

import pytest

from backend.models import Role, User

pytestmark = pytest.mark.django_db

URL = "/api/v1/staff/me/"


def test_a_staff_member_reads_their_profile(nurse: User, nurse_client: Any) -> None:
    response = nurse_client.get(URL)
    assert response.status_code == 200
    assert response.json() == {
        "id": nurse.pk,
        "username": nurse.username,
        "role": "nurse",
        "clinic": nurse.clinic_id,
        "language": "",
    }


def test_a_staff_member_sets_and_clears_their_language(nurse: User, nurse_client: Any) -> None:
    response = nurse_client.patch(URL, {"language": "az"}, format="json")
    assert response.status_code == 200 and response.json()["language"] == "az"
    nurse.refresh_from_db()
    assert nurse.language == "az"

    assert nurse_client.patch(URL, {"language": ""}, format="json").json()["language"] == ""
    nurse.refresh_from_db()
    assert nurse.language == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [({"language": "fr"}, "language"), ({"language": 7}, "language"), ({"role": "admin"}, "role")],
)
def test_an_unknown_language_or_another_field_is_a_400_that_changes_nothing(
    nurse: User, nurse_client: Any, body: dict[str, object], field: str
) -> None:
    response = nurse_client.patch(URL, body, format="json")
    assert response.status_code == 400 and field in response.json()
    nurse.refresh_from_db()
    assert nurse.language == "" and nurse.role == Role.NURSE


def test_a_patient_cannot_use_it(patient_client: Any) -> None:
    assert patient_client.get(URL).status_code == 403
