"""Fixtures of the fault suite: one stack (web, worker, beat, a dedicated Redis,
PostgreSQL behind a proxy, the fake Twilio server) for the session, healed before
each test; the database of the suite re-created and migrated at the start.

Runs on PostgreSQL only (`make test-faults`): the faults it injects are PostgreSQL's
and Redis's, and the embedded default has neither."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from tests.fake_twilio import FakeTwilio
from tests.faults.harness import Stack, database_recreate


def _require_postgresql() -> dict:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.fail(
            "The fault suite runs on PostgreSQL + Redis: set DATABASE_URL=postgres://... and REDIS_URL "
            "(make test-faults does, see the Makefile)",
            pytrace=False,
        )
    if os.environ.get("DJANGO_SETTINGS_MODULE") != "tests.faults.settings":
        pytest.fail("Run the fault suite with DJANGO_SETTINGS_MODULE=tests.faults.settings (make test-faults)")
    return db


@pytest.fixture(scope="session")
def faults_database(django_db_blocker):
    _require_postgresql()
    return database_recreate()


@pytest.fixture(scope="session")
def fake_twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="session")
def _stack(faults_database, fake_twilio, django_db_blocker):
    stack = Stack(fake_twilio)
    try:
        stack.start()
    except Exception:
        print(stack.tails())
        stack.stop()
        raise
    yield stack
    stack.stop()


@pytest.fixture(autouse=True)
def orm(django_db_blocker):
    """The test process reads and writes the suite's database directly (committed
    rows, visible to the processes under test), not through pytest-django's
    transactional test database."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def stack(_stack, request):
    _stack.ensure_healthy()
    yield _stack
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(_stack.tails())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


@pytest.fixture
def make_world(stack):
    """A clinic of the test's own (tests.faults.world), remembered by the stack so
    every process log can be searched for its people's numbers and names."""
    from tests.faults.world import world_create

    def make(**kwargs):
        world = world_create(**kwargs)
        stack.worlds.append(world)
        return world

    return make


def pytest_collection_modifyitems(config, items):
    """The PHI-in-logs check reads the logs every other fault left: it runs last."""
    items.sort(key=lambda item: item.name == "test_process_logs_carry_no_phi")
