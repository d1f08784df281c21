"""The OpenAPI document against the live server (API.md: "/api/schema/ ... must match
what the server does"), fuzzed with schemathesis as a client author would.

The schema is loaded over HTTP from pytest-django's ``live_server`` and every request
goes over a real socket to it, through the whole middleware stack (the body-size
limit, the JSON 404 of a path that matches no route). As a nurse, every operation of
/api/schema/ gets ``VIGIL_SCHEMATHESIS_EXAMPLES`` cases (default 25) that fit the
schema and, when it takes any input, as many that do not. Half of the fitting cases
name the caller's own objects in the path, and half of the fitting bodies the caller's
own patient, episode and care team, so the success answers are checked too, not only
the 400s and 404s. As a patient, the patient's own operations get the same; the others,
where a patient's token is a 403, a few cases each.

Every response must pass the six checks: no server error, a documented status, the
declared content type, a body that validates against that status's schema, invalid
data refused (``negative_data_rejection``) and authentication enforced
(``ignored_auth``: each success is sent again without credentials and with bad ones).
Every error status is documented (``backend.openapi``): no status is forgiven by
convention.

The server runs in this process, in a thread, on the transactional test database (the
data is committed so that it can see it, and flushed after the test); what a case
writes stays for the next ones, as it would on a real server. Each case gets a fresh
token, deleted after it, so the logout operation cannot sign the rest of the run out.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from backend.models import Role
from backend.services import patient_user_get_or_create
from tests.factories import UserFactory
from tests.security.conftest import Population

MAX_EXAMPLES = int(os.environ.get("VIGIL_SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
SCHEMA_PATH = "/api/schema/?format=json"
# What a patient may call (API.md). Everywhere else a patient's token is a 403, walked
# for every route and actor by test_authorization_matrix.py; so the patient's run sends
# only a few cases there, and the nurse's run covers every operation in full.
PATIENT_OPERATIONS = {
    "GET /api/v1/check-ins/",
    "POST /api/v1/check-ins/",
    "GET /api/v1/check-ins/{id}/",
    "GET /api/v1/me/",
    "GET /api/v1/protocols/",
    "GET /api/v1/protocols/{slug}/",
    "POST /api/v1/auth/logout/",
}
NOT_THE_PATIENTS_EXAMPLES = 3


def _address(live_server: Any) -> str:
    # By address: "localhost" tries IPv6 first, and the server listens on IPv4 only.
    return live_server.url.replace("//localhost:", "//127.0.0.1:")


def _schema(base_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{base_url}{SCHEMA_PATH}")


def _own_path_parameters(path: str, population: Population) -> dict[str, Any] | None:
    """Path parameters naming the caller's own objects, so that fitting cases reach
    the success answers and not only 404s."""
    own = population.own
    ids = {
        "/api/v1/alerts/": own.alert.pk,
        "/api/v1/appointments/": own.appointment.pk,
        "/api/v1/check-ins/": own.check_in.pk,
        "/api/v1/clinics/": population.clinic.pk,
        "/api/v1/enrollments/": own.enrollment.pk,
        "/api/v1/episodes/": own.episode.pk,
        "/api/v1/patients/": own.patient.pk,
        "/api/v1/scheduled-check-ins/": own.scheduled_check_in.pk,
        "/api/v1/worklist/": own.worklist_item.pk,
    }
    if "{slug}" in path:
        return {"slug": own.enrollment.protocol_version.protocol.slug}
    if "{id}" not in path:
        return None
    return next(({"id": pk} for prefix, pk in ids.items() if path.startswith(prefix)), None)


def _with_own_ids(population: Population) -> Any:
    """A fitting case's body with the caller's own objects where it names one, so
    that creates reach the services and their success answers, not only a 400."""
    own = population.own
    ids = {
        "patient": own.patient.pk,
        "episode": own.episode.pk,
        "care_team": own.patient.care_team_id,
        "surgeon": population.staff["surgeon"].pk,
    }

    def substitute(case: Any) -> Any:
        if isinstance(case.body, dict):
            for name, value in ids.items():
                if name in case.body and value is not None:
                    case.body[name] = value
        return case

    return substitute


def _has_negatable_input(operation: Any) -> bool:
    definition = operation.definition.raw
    return bool(definition.get("parameters") or definition.get("requestBody"))


def _strategy(operation: Any, mode: GenerationMode, population: Population) -> Any:
    strategy = operation.as_strategy(generation_mode=mode)
    own = _own_path_parameters(operation.path, population)
    if mode is not GenerationMode.POSITIVE:
        return strategy
    if own is not None:
        strategy = st.one_of(strategy, operation.as_strategy(generation_mode=mode, path_parameters=own))
    if operation.definition.raw.get("requestBody"):
        strategy = st.one_of(strategy, strategy.map(_with_own_ids(population)))
    return strategy


def _run_all(
    base_url: str, user: Any, population: Population, *, full: set[str] | None = None
) -> tuple[list[str], dict[str, int]]:
    """Every operation, ``MAX_EXAMPLES`` cases in each mode (only those in ``full``
    when it is given, the others ``NOT_THE_PATIENTS_EXAMPLES``): the failures, one
    line per operation and mode, and the figures of the run."""
    schema = _schema(base_url)
    failures: list[str] = []
    figures = {"operations": 0, "cases": 0}
    per_operation: dict[str, int] = {}
    succeeded: set[str] = set()

    def make_check(strategy: Any, examples: int) -> Any:
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def check(case: Any) -> None:
            token, key = AuthToken.objects.create(user=user)
            headers = {"Authorization": f"Token {key}"}
            try:
                response = case.call(base_url=base_url, headers=headers)
                figures["cases"] += 1
                per_operation[case.operation.label] = per_operation.get(case.operation.label, 0) + 1
                if 200 <= response.status_code < 300:
                    succeeded.add(case.operation.label)
                case.validate_response(response, checks=CHECKS, headers=headers)
            finally:
                # knox reads every token of the user on each request: keep one.
                AuthToken.objects.filter(pk=token.pk).delete()

        return check

    seen: set[str] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        seen.add(operation.label)
        figures["operations"] += 1
        examples = MAX_EXAMPLES if full is None or operation.label in full else NOT_THE_PATIENTS_EXAMPLES
        modes = [GenerationMode.POSITIVE]
        if _has_negatable_input(operation):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            try:
                make_check(_strategy(operation, mode, population), examples)()
            except (Exception, BaseExceptionGroup) as error:  # one line per failing operation, then fail once
                first = str(error).strip().splitlines()
                failures.append(f"{operation.label} ({mode.value}): {' | '.join(first[:30])}")
    failures += [f"{label}: not in the schema any more" for label in sorted((full or set()) - seen)]
    failures += [
        f"{label}: {per_operation.get(label, 0)} cases sent, fewer than {MAX_EXAMPLES}"
        for label in sorted(seen & (full or seen))
        if per_operation.get(label, 0) < MAX_EXAMPLES
    ]
    figures["fewest"] = min(per_operation.get(label, 0) for label in seen & (full or seen))
    figures["succeeded"] = len(succeeded)
    print(f"\n  never a success: {', '.join(sorted(seen & (full or seen) - succeeded)) or 'none'}")
    return failures, figures


@pytest.mark.parametrize("who", ["nurse", "patient"])
def test_every_response_conforms_to_the_openapi_schema(live_server, population, who):
    if who == "nurse":
        failures, figures = _run_all(_address(live_server), population.staff["nurse"], population)
    else:
        patient = patient_user_get_or_create(population.own.patient)
        failures, figures = _run_all(_address(live_server), patient, population, full=PATIENT_OPERATIONS)
    print(
        f"\nas {who}: {figures['operations']} operations, {figures['cases']} cases "
        f"(at least {figures['fewest']} for each operation run in full, {figures['succeeded']} operations "
        f"answered a success at least once), {len(failures)} failures"
    )
    assert figures["operations"] > 40, "the schema lists too few operations: is /api/schema/ complete?"
    assert not failures, f"{len(failures)} operation(s) disagree with /api/schema/ as {who}:\n" + "\n".join(failures)


def test_schema_is_served_to_anyone_as_openapi_3(client):
    response = client.get(SCHEMA_PATH)
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_a_staff_user_of_each_role_can_read_the_schema_operations(live_server):
    # Roles do not change the document: one schema for every caller.
    for role in (Role.SURGEON, Role.COORDINATOR, Role.ADMIN):
        UserFactory(role=role)
    assert len(list(_schema(_address(live_server)).get_all_operations())) > 40
