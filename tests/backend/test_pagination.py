"""Keyset paging (backend.pagination): ``next``/``previous`` carry a signed cursor, a
page is a WHERE on the list's sort key and a LIMIT, so paging sees every row once while
rows are added and a deep page costs what the first does; offset stays for the clients
that use it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.pagination import BAD_CURSOR, CURSOR_AND_OFFSET
from followup.models import Alert
from tests.factories import LabResultFactory

LIST = "/api/v1/observations/"  # newest first: -observed_at, -id


def _labs(patient, nurse, hours_ago: list[float]) -> list[int]:
    now = timezone.now()
    return [
        LabResultFactory(patient=patient, entered_by=nurse, observed_at=now - timedelta(hours=hours)).pk
        for hours in hours_ago
    ]


def _ids(page: dict[str, Any]) -> list[int]:
    return [row["id"] for row in page["results"]]


def _cursor(link: str) -> str:
    return parse_qs(urlsplit(link).query)["cursor"][0]


def _walk(client, first: str, *, between=None) -> tuple[list[int], list[dict[str, Any]]]:
    """Follow ``next`` from ``first`` to the end; ``between(n)`` runs after page n."""
    seen: list[int] = []
    pages = []
    url: str | None = first
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        pages.append(page)
        seen += _ids(page)
        if between is not None:
            between(len(pages))
        url = page["next"]
    return seen, pages


def test_paging_by_cursor_gives_every_row_once_while_rows_are_added(nurse_client, nurse, patient):
    before = _labs(patient, nurse, [float(hours) for hours in range(1, 12)])
    added: list[int] = []

    def insert(page_number: int) -> None:
        # A newer row (lands on a page already read), one in the middle of what is
        # left, and one older than everything (lands on the last page).
        added.extend(_labs(patient, nurse, [0.1 * page_number, 6.5 + 0.1 * page_number, 100 + page_number]))

    seen, pages = _walk(nurse_client, f"{LIST}?patient={patient.pk}&limit=3", between=insert)

    assert len(seen) == len(set(seen)), "a row came twice"
    assert set(before) <= set(seen), "a row there from the start was skipped"
    assert all("cursor=" in page["next"] and "offset" not in page["next"] for page in pages[:-1])
    # count is the list's size when the page was read, the rows added so far included.
    assert [page["count"] for page in pages] == [len(before) + 3 * number for number in range(len(pages))]


def test_previous_goes_back_to_the_same_rows(nurse_client, nurse, patient):
    _labs(patient, nurse, [float(hours) for hours in range(1, 8)])
    first = nurse_client.get(LIST, {"limit": 3}).json()
    assert first["previous"] is None
    second = nurse_client.get(first["next"]).json()
    third = nurse_client.get(second["next"]).json()
    assert third["next"] is None and len(third["results"]) == 1
    back = nurse_client.get(third["previous"]).json()
    assert _ids(back) == _ids(second)
    back_again = nurse_client.get(back["previous"]).json()
    assert _ids(back_again) == _ids(first)
    assert back_again["previous"] is None


def test_every_list_pages_by_cursor_to_the_rows_offset_gives(nurse_client, nurse, patient, enrolled):
    """Each list's own order (alerts by an annotation, red first) works as a keyset."""
    _labs(patient, nurse, [1.0, 2.0, 2.0, 3.0])
    for index, severity in enumerate(["amber", "red", "amber", "red", "amber"]):
        Alert.objects.create(
            patient=patient,
            clinic=patient.clinic,
            rule_id=f"rule_{index}",
            rule_version="1",
            rule_title="A rule",
            severity=severity,
            action="call",
            evidence=[],
        )
    for url in (LIST, "/api/v1/alerts/", "/api/v1/patients/", "/api/v1/enrollments/", "/api/v1/episodes/"):
        everything = nurse_client.get(url, {"limit": 200}).json()
        seen, _pages = _walk(nurse_client, f"{url}?limit=2")
        assert seen == _ids(everything), url


def test_a_deep_page_runs_the_same_queries_as_the_first(nurse_client, nurse, patient):
    _labs(patient, nurse, [float(hours) for hours in range(1, 61)])
    url: str = f"{LIST}?limit=5"
    with CaptureQueriesContext(connection) as first_queries:
        page = nurse_client.get(url).json()
    for _ in range(9):
        page = nurse_client.get(page["next"]).json()
    with CaptureQueriesContext(connection) as deep_queries:
        deep = nurse_client.get(page["next"]).json()
    assert len(deep["results"]) == 5 and deep["count"] == 60
    assert len(deep_queries) == len(first_queries)
    assert not any("OFFSET" in query["sql"].upper() for query in deep_queries.captured_queries)


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "", "x" * 2000, "eyJwIjoiLyJ9:1vS0Ua:AAAA", "🙂"],
    ids=["garbage", "empty-left-out", "too-long", "forged", "emoji"],
)
def test_a_bad_cursor_is_a_400_naming_cursor(nurse_client, nurse, patient, cursor):
    _labs(patient, nurse, [1.0])
    response = nurse_client.get(LIST, {"cursor": cursor})
    if cursor == "":
        assert response.status_code == 200  # given empty is left out
        return
    assert response.status_code == 400
    assert response.json() == {"cursor": [BAD_CURSOR]}


def test_a_cursor_of_another_list_or_tampered_is_a_400(nurse_client, nurse, patient, enrolled):
    _labs(patient, nurse, [1.0, 2.0, 3.0])
    link = nurse_client.get(LIST, {"limit": 1}).json()["next"]
    cursor = _cursor(link)
    assert nurse_client.get("/api/v1/alerts/", {"cursor": cursor}).json() == {"cursor": [BAD_CURSOR]}
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert nurse_client.get(LIST, {"cursor": tampered}).json() == {"cursor": [BAD_CURSOR]}
    both = nurse_client.get(LIST, {"cursor": cursor, "offset": 1})
    assert both.status_code == 400 and both.json() == {"cursor": [CURSOR_AND_OFFSET]}
    twice = nurse_client.get(f"{LIST}?cursor={cursor}&cursor={cursor}")
    assert twice.status_code == 400 and list(twice.json()) == ["cursor"]


def test_offset_clients_keep_offset_links(nurse_client, nurse, patient):
    _labs(patient, nurse, [1.0, 2.0, 3.0, 4.0])
    page = nurse_client.get(LIST, {"limit": 2, "offset": 1}).json()
    assert "offset=3" in page["next"] and "cursor" not in page["next"]
    assert "cursor" not in page["previous"]


def test_the_schema_documents_the_cursor(client):
    schema = client.get("/api/schema/?format=json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/check-ins/"]["get"]["parameters"]}
    assert parameters["cursor"]["schema"]["type"] == "string"
    assert "400" in parameters["cursor"]["description"]
