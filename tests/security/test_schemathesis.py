"""The OpenAPI document against the server (API.md: "/api/schema/ ... must match what
the server does"), property-based with schemathesis through the WSGI app.

For every operation of /api/schema/, generated requests (bounded: a few examples
each, no deadline) are sent as a nurse and as a patient; each response must not be a
server error and must conform to the schema: a documented status code, the declared
content type and a body that validates against the response schema. Each case gets
a fresh token, so the logout operation cannot sign the rest of the run out.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.models import Role
from backend.services import patient_user_get_or_create
from tests.factories import UserFactory
from tests.security.conftest import token_for

MAX_EXAMPLES = int(os.environ.get("VIGIL_SCHEMATHESIS_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# API.md's conventions give every endpoint these answers (bad input, unauthenticated, not
# allowed, not yours, body too large, throttled). The document does not list them on
# each operation; they are accepted here, and counted in the test output, while any
# other undocumented status is a failure.
CONVENTION_STATUSES = {400, 401, 403, 404, 413, 429}


def _schema() -> Any:
    from config.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def _keep_test_connection():
    """Django's test client stops each request from closing the database connection
    (it is the test's transaction); schemathesis' WSGI client calls the app directly,
    so the same is done here."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _run_all(user: Any) -> list[str]:
    schema = _schema()
    failures: list[str] = []
    convention_only: dict[str, set[int]] = {}
    operations = 0

    def make_check(operation: Any) -> Any:
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            headers = {"Authorization": f"Token {token_for(user)}"}
            # Each case in a savepoint: a failing request cannot poison the next one.
            with transaction.atomic():
                response = case.call(headers=headers)
                transaction.set_rollback(True)
            checks = CHECKS
            documented = {str(code) for code in (operation.definition.raw.get("responses") or {})}
            if response.status_code in CONVENTION_STATUSES and str(response.status_code) not in documented:
                convention_only.setdefault(operation.label, set()).add(response.status_code)
                checks = [c for c in CHECKS if c not in (status_code_conformance, response_schema_conformance)]
            case.validate_response(response, checks=checks, headers=headers)

        return check

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        check = make_check(operation)

        try:
            check()
        except (Exception, BaseExceptionGroup) as error:  # one line per failing operation, then fail once
            first = str(error).strip().splitlines()
            failures.append(f"{operation.label}: {' | '.join(first[:6])}")
    assert operations > 10, "the schema lists too few operations: is /api/schema/ complete?"
    print(f"\n{operations} operations, {MAX_EXAMPLES} examples each")
    for label, statuses in sorted(convention_only.items()):
        print(f"  undocumented convention status {sorted(statuses)}: {label}")
    return failures


@pytest.mark.usefixtures("_keep_test_connection")
@pytest.mark.parametrize("who", ["nurse", "patient"])
def test_every_response_conforms_to_the_openapi_schema(population, who):
    user = population.staff["nurse"] if who == "nurse" else patient_user_get_or_create(population.own.patient)
    failures = _run_all(user)
    assert not failures, f"{len(failures)} operation(s) disagree with /api/schema/ as {who}:\n" + "\n".join(failures)


def test_schema_is_served_to_anyone_as_openapi_3(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_a_staff_user_of_each_role_can_read_the_schema_operations(db):
    # Roles do not change the document: one schema for every caller.
    for role in (Role.SURGEON, Role.COORDINATOR, Role.ADMIN):
        UserFactory(role=role)
    assert _schema().get_all_operations
