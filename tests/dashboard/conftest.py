"""Fixtures for the live dashboard, the feed, escalation and the auditor: an enrolled
patient of the clinic whose care team has a three-level on-call chain (surgeons with
phones), and a way to make a red alert through the real check-in path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from backend.models import CareTeam, OnCallShift, Patient, Role, User
from followup.models import Alert, Enrollment
from followup.services.checkins import checkin_submit
from followup.services.protocols import protocol_version_current
from tests.factories import CareTeamFactory, EpisodeFactory, PatientFactory, UserFactory
from tests.followup.checkins.checkin_helpers import answers

ORIGIN = b"http://testserver"


@pytest.fixture
def care_team(clinic) -> CareTeam:
    return CareTeamFactory(clinic=clinic)


@pytest.fixture
def chain(clinic, care_team) -> list[User]:
    """Three surgeons on call at levels 1, 2 and 3 around now."""
    now = timezone.now()
    people = []
    for level in (1, 2, 3):
        person = UserFactory(clinic=clinic, role=Role.SURGEON, phone=f"+44207946071{level}")
        OnCallShift.objects.create(
            care_team=care_team,
            user=person,
            level=level,
            starts_at=now - timedelta(days=30),
            ends_at=now + timedelta(days=30),
        )
        people.append(person)
    return people


def enroll(patient: Patient, *, discharged_days_ago: int = 2) -> Patient:
    discharge = timezone.localdate() - timedelta(days=discharged_days_ago)
    episode = EpisodeFactory(
        patient=patient,
        surgery_date=discharge - timedelta(days=7),
        discharge_date=discharge,
        baseline_weight_kg=Decimal("80.0"),
    )
    Enrollment.objects.create(
        episode=episode, patient=patient, protocol_version=protocol_version_current("post-hepatectomy")
    )
    return patient


@pytest.fixture
def make_patient(clinic, care_team) -> Callable[..., Patient]:
    def make(**fields: Any) -> Patient:
        fields.setdefault("clinic", clinic)
        fields.setdefault("care_team", care_team)
        return enroll(PatientFactory(**fields))

    return make


@pytest.fixture
def enrolled(make_patient) -> Patient:
    return make_patient()


def red_alert_raise(patient: Patient, **changes: Any) -> Alert:
    """A jaundice check-in through the real check-in path: a red alert opens."""
    result = checkin_submit(patient=patient, answers=answers(jaundice=True, **changes), channel="app")
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
