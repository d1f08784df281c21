"""One paging for every list and one error format for the whole API, documented in
/api/schema/ (backend.pagination, backend.exceptions, backend.openapi; API.md,
Conventions)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.test import APIClient

from backend.exceptions import api_exception_handler
from backend.models import Role
from followup.models import ScheduledCheckIn, WorklistItem
from notifications.models import MessageKind
from notifications.services import sms_enqueue
from tests.conftest import token_client
from tests.factories import PASSWORD, UserFactory, enrolled_patient_create

HUGE = "4023499408650561126400"
BAD_PAGING = [
    ("limit", HUGE),  # a 500 on SQLite (integer overflow) before the strict paging
    ("limit", "false"),
    ("limit", "-1"),
    ("limit", "0"),
    ("limit", "201"),
    ("limit", "5.0"),
    ("limit", "١٢"),  # Arabic-Indic digits: int() reads them, the contract does not
    ("offset", "m"),
    ("offset", "-1"),
    ("offset", str(2**63)),
]


@pytest.fixture
def schema(client) -> dict[str, Any]:
    return client.get("/api/schema/?format=json").json()


def _operations(schema: dict[str, Any]):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _list_paths(schema: dict[str, Any]) -> list[str]:
    return [
        path
        for path, method, operation in _operations(schema)
        if method == "get" and any(parameter["name"] == "limit" for parameter in operation.get("parameters", []))
    ]


@pytest.fixture
def listed(nurse, patient) -> dict[str, Any]:
    """Something in every list, so that a page is really read from the database."""
    enrollment = enrolled_patient_create(patient=patient, by=nurse)
    WorklistItem.objects.create(patient=patient, clinic=patient.clinic, kind="nurse_call", detail="call")
    sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body="Hello",
        kind=MessageKind.REPLY,
        idempotency_key=f"paging-{patient.pk}",
        patient=patient,
    )
    return {"patient": patient, "enrollment": enrollment}


def _concrete(path: str, patient_id: int) -> str:
    return path.replace("{id}", str(patient_id))


# --- paging ------------------------------------------------------------------------------------


def test_a_huge_limit_on_the_worklist_is_a_400_naming_it_not_a_500(nurse_client, listed):
    response = nurse_client.get(f"/api/v1/worklist/?limit={HUGE}")
    assert response.status_code == 400
    assert response.json() == {"limit": ["Ensure this value is less than or equal to 200."]}


def test_bad_paging_on_a_patients_messages_is_a_400_naming_both_parameters(nurse_client, listed):
    response = nurse_client.get(f"/api/v1/patients/{listed['patient'].pk}/messages/?limit=false&offset=m")
    assert response.status_code == 400
    assert response.json() == {"limit": ["A valid integer is required."], "offset": ["A valid integer is required."]}


def test_every_list_pages_the_same_way(schema, nurse_client, listed):
    paths = _list_paths(schema)
    assert len(paths) >= 10, paths
    for path in paths:
        url = _concrete(path, listed["patient"].pk)
        for name, value in BAD_PAGING:
            response = nurse_client.get(url, {name: value})
            assert response.status_code == 400, (url, name, value, response.status_code)
            body = response.json()
            assert list(body) == [name] and body[name] and all(isinstance(m, str) for m in body[name]), (url, body)
        page = nurse_client.get(url, {"limit": "1", "offset": "0"})
        assert page.status_code == 200, (url, page.content)
        assert set(page.json()) == {"count", "next", "previous", "results"}
        assert len(page.json()["results"]) <= 1


def test_a_page_is_the_window_asked_for(nurse_client, listed):
    everything = nurse_client.get("/api/v1/scheduled-check-ins/", {"limit": "200"}).json()
    assert everything["count"] >= 3
    second = nurse_client.get("/api/v1/scheduled-check-ins/", {"limit": "1", "offset": "1"}).json()
    assert [row["id"] for row in second["results"]] == [everything["results"][1]["id"]]
    assert "offset=2" in second["next"] and "limit=1" in second["next"]
    # Given empty is left out: the default page (50 from the start).
    default = nurse_client.get("/api/v1/scheduled-check-ins/", {"limit": "", "offset": ""}).json()
    assert [row["id"] for row in default["results"]] == [row["id"] for row in everything["results"][:50]]


def test_the_schema_gives_the_paging_bounds(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/worklist/"]["get"]["parameters"]}
    assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    assert parameters["offset"]["schema"]["minimum"] == 0


def _without_links(body: Any) -> Any:
    if isinstance(body, dict):
        return {key: value for key, value in body.items() if key not in ("next", "previous")}
    return body


def test_a_query_parameter_given_empty_is_left_out_as_the_schema_says(schema, nurse_client, listed):
    """``allowEmptyValue`` is on every query parameter but lists of choices: each one
    given empty answers like the list without it: the same status and body. Without
    it, a 200, or for a preview whose answer depends on the object's state (the protocol
    move of a patient already on the current version) a 400 naming the field."""
    for path, method, operation in _operations(schema):
        if method != "get":
            continue
        # {id} is the enrollment's on the enrollments' paths, the patient's elsewhere.
        object_id = listed["enrollment"].pk if path.startswith("/api/v1/enrollments/") else listed["patient"].pk
        url = _concrete(path, object_id).replace("{slug}", "post-hepatectomy")
        query = [parameter for parameter in operation.get("parameters", []) if parameter["in"] == "query"]
        if not query:
            continue
        client = nurse_client
        without = client.get(url)
        if without.status_code == 403:  # the clinic admin's (a patient's data rights)
            client = token_client(UserFactory(clinic=listed["patient"].clinic, role=Role.ADMIN))
            without = client.get(url)
        if without.status_code != 200:
            body = without.json()
            assert without.status_code == 400 and body and all(isinstance(m, list) for m in body.values()), (
                url,
                without.content,
            )
        for parameter in query:
            response = client.get(url, {parameter["name"]: ""})
            if parameter.get("allowEmptyValue"):
                assert (response.status_code, response["Content-Type"]) == (
                    without.status_code,
                    without["Content-Type"],
                ), (url, parameter["name"], response.content)
                if without["Content-Type"] == "application/json":
                    # The links to other pages carry the query as given.
                    assert _without_links(response.json()) == _without_links(without.json()), (url, parameter["name"])
            else:
                assert parameter["schema"]["type"] == "array", (url, parameter["name"])
                assert response.status_code == 400, (url, parameter["name"], response.content)


@pytest.mark.parametrize("value", ["2026-06-04", "2026-06-04T00:00:00", "2026-06-04T00:00+03:00", "yesterday"])
def test_a_time_filter_needs_date_time_and_offset(nurse_client, listed, value):
    response = nurse_client.get("/api/v1/scheduled-check-ins/", {"due_after": value})
    assert response.status_code == 400
    assert list(response.json()) == ["due_after"]


def test_a_time_filter_takes_rfc3339_in_either_case(nurse_client, listed):
    for value in ("2026-06-04T00:00:00+03:00", "2026-06-04t00:00:00.5z"):
        assert nurse_client.get("/api/v1/appointments/", {"starts_after": value}).status_code == 200


# --- one error format --------------------------------------------------------------------------


def _is_detail(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("detail"), str)


def test_an_api_path_that_matches_no_route_is_a_json_404(nurse_client):
    for url in ("/api/v1/no-such-thing/", "/api/v1/alerts/abc/", "/api/v1/patients/1/messages/x/"):
        response = nurse_client.get(url)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert _is_detail(response.json()), url


def test_a_page_that_matches_no_route_stays_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_unauthenticated_forbidden_not_found_have_a_detail(client, patient_client, nurse_client):
    assert client.get("/api/v1/worklist/").status_code == 401
    assert _is_detail(client.get("/api/v1/worklist/").json())
    forbidden = patient_client.get("/api/v1/worklist/")
    assert forbidden.status_code == 403 and _is_detail(forbidden.json())
    missing = nurse_client.get("/api/v1/worklist/999999/")
    assert missing.status_code == 404 and _is_detail(missing.json())


def test_a_body_too_large_is_a_413_with_a_detail(nurse_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = nurse_client.post("/api/v1/patients/", {"mrn": "x" * 500}, format="json")
    assert response.status_code == 413
    assert _is_detail(response.json())


def test_a_throttled_sign_in_is_a_429_with_retry_after_and_a_detail(db, nurse):
    client = APIClient()
    answers = [client.post("/api/v1/auth/token/", {"username": nurse.username, "password": "wrong"}) for _ in range(6)]
    assert [r.status_code for r in answers[:5]] == [400] * 5
    assert answers[0].json() == {"non_field_errors": [answers[0].json()["non_field_errors"][0]]}
    assert answers[5].status_code == 429
    assert int(answers[5]["Retry-After"]) > 0
    assert _is_detail(answers[5].json())
    # the right password is throttled too: nothing is revealed to a guesser
    assert client.post("/api/v1/auth/token/", {"username": nurse.username, "password": PASSWORD}).status_code == 429


def test_a_body_that_is_not_json_is_a_400_with_a_detail(nurse_client):
    response = nurse_client.generic("POST", "/api/v1/patients/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert _is_detail(response.json())


def test_errors_raised_outside_serializers_keep_the_shape():
    context: dict[str, Any] = {}
    by_field = api_exception_handler(DjangoValidationError({"due_at": ["Too late."]}), context)
    assert (by_field.status_code, by_field.data) == (400, {"due_at": ["Too late."]})
    no_field = api_exception_handler(DjangoValidationError("Not now."), context)
    assert (no_field.status_code, no_field.data) == (400, {"non_field_errors": ["Not now."]})
    bare = api_exception_handler(exceptions.ValidationError("Not like that."), context)
    assert (bare.status_code, bare.data) == (400, {"non_field_errors": ["Not like that."]})


# --- documented in the schema ------------------------------------------------------------------


def _error_schema(operation: dict[str, Any], code: str) -> str:
    response = operation["responses"][code]
    assert response["description"] and response["description"] != "No response body", code
    return response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]


def test_every_operation_documents_its_error_statuses_with_their_bodies(schema):
    components = schema["components"]["schemas"]
    assert {"Error", "FieldErrors", "ErrorMessages", "BadRequest", "Conflict"} <= set(components)
    for path, method, operation in _operations(schema):
        label = f"{method.upper()} {path}"
        codes = set(operation["responses"])
        signed_in = {} not in operation.get("security", [{}])
        parameters = [p for p in operation.get("parameters", []) if p["in"] != "path"]
        expected = set()
        if "requestBody" in operation or parameters:
            expected.add("400")
        if signed_in:
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
        if "requestBody" in operation:
            expected.add("413")
        if any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in parameters):
            expected.add("409")
        assert expected <= codes, (label, sorted(expected - codes))
        for code in codes:
            if code.startswith("4"):
                assert _error_schema(operation, code) in components, (label, code)
    assert "429" in schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]
    assert "Retry-After" in schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]["429"]["headers"]


def test_writes_that_take_an_idempotency_key_say_so(schema):
    for path in ("/api/v1/check-ins/", "/api/v1/appointments/", "/api/v1/enrollments/", "/api/v1/observations/"):
        operation = schema["paths"][path]["post"]
        header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
        assert header["in"] == "header" and header["schema"]["maxLength"] == 200
        assert _error_schema(operation, "409") == "Conflict"


def test_the_nurses_delete_of_a_scheduled_check_in_is_documented_as_the_cancel_it_is(schema, nurse_client, listed):
    operation = schema["paths"]["/api/v1/scheduled-check-ins/{id}/"]["delete"]
    assert "cancel" in operation["summary"].lower()
    assert "`cancelled`" in operation["description"] and "stays" in operation["description"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok.endswith("/ScheduledCheckInOutput")
    assert "204" not in operation["responses"]

    row = ScheduledCheckIn.objects.filter(patient=listed["patient"], status="scheduled").first()
    response = nurse_client.delete(f"/api/v1/scheduled-check-ins/{row.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == row.pk and response.json()["status"] == "cancelled"
    row.refresh_from_db()
    assert row.status == ScheduledCheckIn.Status.CANCELLED
