"""Helpers for the live dashboard, the feed, escalation and the auditor (the enrolled
patient and the on-call ``chain`` are the kit's, tests/conftest.py): a red alert made
through the real check-in path, a session cookie, and the pools closed at the end."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backend.models import Patient, User
from followup.models import Alert
from followup.services.checkins import checkin_submit
from tests.factories import red_answers

ORIGIN = b"http://testserver"


def red_alert_raise(patient: Patient, **changes: Any) -> Alert:
    """A jaundice check-in through the real check-in path: a red alert opens."""
    result = checkin_submit(patient_id=patient.pk, answers=red_answers(**changes), channel="app")
    return Alert.objects.get(pk=result.created_alert_ids[0])


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture(scope="session", autouse=True)
def _close_database_pools(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """The feed reads in executor threads; with psycopg's pool their connections stay
    open (a consumer's timer may still be reading as a test's event loop closes), and
    the test database could not be dropped at the end of the run."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        connections.close_all()  # hands this thread's connection back to the pool
        for connection in connections.all():
            if connection.vendor != "postgresql" or not connection.settings_dict.get("OPTIONS", {}).get("pool"):
                continue
            connection.close_pool()
            with connection._nodb_cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    [connection.settings_dict["NAME"]],
                )
