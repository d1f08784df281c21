"""H12: a filter by id never reveals that another clinic's or another patient's object
exists (API.md: every filter by id on every list answers the same for an id of another
clinic, or another patient, as for an id that does not exist; issue 16).

The lists and their id filters are read from the OpenAPI document, as a client author
would read them: every GET without a path parameter whose 200 is a paginated list, and
every integer (or UUID) query parameter of it that names an entity (``patient``,
``episode``, ``care_team``, ``alert``, ``check_in``, ``..._id``). A new list or a new
id filter is walked without touching this file; one naming an entity this file cannot
find in the population fails, so that someone teaches it here.

Each id filter is called as a nurse and as a patient with the id of another clinic's
object (and, for the patient, another patient's of the same clinic), with an id that
no row has, and with the largest id a database holds: status and body must be the
same (the id itself left out of the comparison)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.db.models import Max, Model

from backend.filters import ID_MAX
from backend.models import Role
from tests.factories import CareTeamFactory, UserFactory
from tests.security.conftest import PatientData, Population, api_client_for, patient_data_create

PAGING = {"limit", "offset", "page", "page_size", "cursor"}
ID_TYPES = {"integer", "number"}


@dataclass(frozen=True)
class IdFilter:
    path: str
    param: str


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` (if any) followed inside ``schema``."""
    while "$ref" in node:
        target: Any = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _entity_names() -> set[str]:
    """Every model's name and every relation's name, without underscores."""
    names: set[str] = set()
    for model in apps.get_models():
        names.add(model._meta.model_name)
        names.update(field.name.replace("_", "") for field in model._meta.get_fields() if field.is_relation)
    return names


def names_an_entity(param: str) -> bool:
    return param.endswith("_id") or param.replace("_", "") in _entity_names()


def paginated_lists_and_id_filters(client: Any) -> list[IdFilter]:
    """From /api/schema/: (list path, id filter) pairs."""
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    found: list[IdFilter] = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path:
            continue
        parameters = [*operations.get("parameters", []), *get.get("parameters", [])]
        if any(parameter.get("in") == "path" for parameter in parameters):
            continue
        ok = get.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
        body = _resolve(schema, ok.get("schema", {}))
        if not {"count", "results"} <= set(body.get("properties", {})):
            continue  # not a paginated list
        for parameter in parameters:
            parameter = _resolve(schema, parameter)
            if parameter.get("in") != "query" or parameter["name"] in PAGING:
                continue
            kind = _resolve(schema, parameter.get("schema", {}))
            is_id = kind.get("type") in ID_TYPES or kind.get("format") == "uuid"
            if is_id and names_an_entity(parameter["name"]):
                found.append(IdFilter(path, parameter["name"]))
    return found


def entity_of(data: PatientData, param: str) -> Model:
    """The object of ``data``'s patient that ``?param=`` names: one of the patient's
    own rows (patient, episode, alert, check_in, ...) or one they hang from
    (care_team, clinic, surgeon)."""
    name = param.removesuffix("_id")
    for holder in (data, data.patient, data.episode):
        value = getattr(holder, name, None)
        if isinstance(value, Model):
            return value
    pytest.fail(
        f"?{param}= names an entity that tests/security/test_id_filters_reveal_nothing.py "
        "cannot find in the population: teach entity_of() where that object is."
    )


def nonexistent_ids(obj: Model) -> list[Any]:
    highest = type(obj)._default_manager.aggregate(top=Max("pk"))["top"]
    if isinstance(highest, int):
        return [highest + 1000, ID_MAX]
    return [uuid.uuid4()]


def normalised(body: Any, value: Any) -> Any:
    """The body with the id asked for left out of its texts (an error may quote it).
    A number inside a dotted one (the protocol version "2026.2" of patient 2) is not
    that id."""
    if isinstance(body, dict):
        return {key: normalised(item, value) for key, item in body.items()}
    if isinstance(body, list):
        return [normalised(item, value) for item in body]
    if isinstance(body, str):
        return re.sub(rf"(?<![0-9a-f-])(?<![0-9]\.){re.escape(str(value))}(?![0-9a-f-])(?!\.[0-9])", "<id>", body)
    return body


def answer(client: Any, path: str, param: str, value: Any) -> tuple[int, Any]:
    response = client.get(path, {param: str(value)})
    try:
        body = response.json()
    except ValueError:
        body = response.content.decode(errors="replace")
    return response.status_code, normalised(body, value)


@pytest.fixture
def other_clinics_data(population: Population) -> PatientData:
    """The same range of data as the population's patients, in the other clinic."""
    clinic = population.other_clinic
    return patient_data_create(
        clinic=clinic,
        care_team=CareTeamFactory(clinic=clinic),
        by=UserFactory(clinic=clinic, role=Role.SURGEON),
    )


def walk(population: Population, client: Any, foreign: dict[str, PatientData]) -> tuple[list[IdFilter], list[str]]:
    """Every id filter asked with each foreign object's id and with ids no row has."""
    id_filters = paginated_lists_and_id_filters(client)
    differences: list[str] = []
    for id_filter in id_filters:
        own_status, _ = answer(client, id_filter.path, id_filter.param, entity_of(population.own, id_filter.param).pk)
        for whose, data in foreign.items():
            theirs = entity_of(data, id_filter.param)
            if theirs.pk == entity_of(population.own, id_filter.param).pk:
                continue  # shared by both patients (their care team): not another's
            expected = answer(client, id_filter.path, id_filter.param, theirs.pk)
            if expected[0] >= 500:
                differences.append(f"{id_filter.path}?{id_filter.param}= {whose}: {expected[0]}")
            for made_up in nonexistent_ids(theirs):
                got = answer(client, id_filter.path, id_filter.param, made_up)
                if got != expected:
                    differences.append(
                        f"{id_filter.path}?{id_filter.param}=: {whose} id -> {expected}; "
                        f"nonexistent id {made_up} -> {got}"
                    )
        # An own id works where the list is the caller's (a patient gets 403 on staff lists).
        assert own_status in (200, 403), (id_filter, own_status)
    return id_filters, differences


def test_the_walk_finds_every_known_list_and_id_filter(population):
    """The discovery itself: the id filters known today are all found (a list whose
    filter is missing from the schema would be walked by nobody)."""
    client = api_client_for(population.staff["nurse"])
    found = {(f.path, f.param) for f in paginated_lists_and_id_filters(client)}
    assert {
        ("/api/v1/patients/", "care_team"),
        ("/api/v1/episodes/", "patient"),
        ("/api/v1/enrollments/", "patient"),
        ("/api/v1/enrollments/", "episode"),
        ("/api/v1/scheduled-check-ins/", "patient"),
        ("/api/v1/appointments/", "patient"),
        ("/api/v1/worklist/", "patient"),
        ("/api/v1/alerts/", "patient"),
        ("/api/v1/check-ins/", "patient"),
        ("/api/v1/observations/", "patient"),
    } <= found


def test_a_nurse_gets_the_same_answer_for_another_clinics_id_and_a_nonexistent_one(population, other_clinics_data):
    client = api_client_for(population.staff["nurse"])
    id_filters, differences = walk(population, client, {"another clinic's": other_clinics_data})
    assert id_filters
    assert differences == []


def test_a_patient_gets_the_same_answer_for_another_patients_id_and_a_nonexistent_one(population, other_clinics_data):
    client = api_client_for(population.own.user)
    id_filters, differences = walk(
        population, client, {"another patient's": population.other, "another clinic's": other_clinics_data}
    )
    assert id_filters
    assert differences == []


def test_a_nurse_filtering_by_an_own_id_gets_its_rows(population):
    """The walk is not vacuous: each id filter does narrow the list to the id's rows."""
    client = api_client_for(population.staff["nurse"])
    for id_filter in paginated_lists_and_id_filters(client):
        own = entity_of(population.own, id_filter.param)
        response = client.get(id_filter.path, {id_filter.param: own.pk})
        assert response.status_code == 200, id_filter
        assert response.json()["count"] >= 1, id_filter


@pytest.mark.parametrize("actor", ["nurse", "patient"])
def test_an_id_no_database_holds_is_a_400_naming_the_filter(population, actor):
    """Not a 500 (a 20-digit id overflowed SQLite's integer), on every id filter; a
    patient gets the same 400 on a list they may read, the 403 on a staff list."""
    client = api_client_for(population.user_of(actor))
    for id_filter in paginated_lists_and_id_filters(client):
        for value in (ID_MAX + 1, "99999999999999999999999", "0", "5.0", "abc"):
            response = client.get(id_filter.path, {id_filter.param: value})
            if actor == "patient" and response.status_code == 403:
                continue
            assert response.status_code == 400, (id_filter, value, response.status_code)
            assert id_filter.param in response.content.decode(), (id_filter, value)


# --- the defect of issue 16, by itself ----------------------------------------------------------


def test_episodes_by_patient_answer_the_same_for_another_clinics_patient_and_a_nonexistent_one(
    population, other_clinics_data
):
    """GET /api/v1/episodes/?patient= was 200 and an empty list for another clinic's
    patient but 400 "Select a valid choice" for an id that does not exist."""
    client = api_client_for(population.staff["nurse"])
    own = client.get("/api/v1/episodes/", {"patient": population.own.patient.pk}).json()
    assert [row["id"] for row in own["results"]] == [population.own.episode.pk]
    theirs = client.get("/api/v1/episodes/", {"patient": other_clinics_data.patient.pk})
    nobodys = client.get("/api/v1/episodes/", {"patient": other_clinics_data.patient.pk + 1000})
    assert theirs.status_code == nobodys.status_code == 200
    assert theirs.json() == nobodys.json()
    assert theirs.json()["count"] == 0 and theirs.json()["results"] == []


def test_patients_by_care_team_answer_the_same_for_another_clinics_team_and_a_nonexistent_one(
    population, other_clinics_data
):
    client = api_client_for(population.staff["nurse"])
    team = other_clinics_data.patient.care_team
    theirs = client.get("/api/v1/patients/", {"care_team": team.pk})
    nobodys = client.get("/api/v1/patients/", {"care_team": team.pk + 1000})
    assert theirs.status_code == nobodys.status_code == 200
    assert theirs.json() == nobodys.json()
    assert theirs.json()["count"] == 0
