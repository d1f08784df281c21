"""Fixtures for plans, scheduling and the clock: episodes discharged on a given date in
a given zone, enrolled through the real enrollment service, and a frozen clock."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine

from backend.models import Patient, User
from followup.models import Enrollment, ProtocolVersion
from followup.services.enrollment import enrollment_create
from followup.services.protocols import protocol_version_current
from tests.factories import EpisodeFactory, PatientFactory


def local(day: date, at: str, tz: str) -> datetime:
    """An aware datetime at a local wall-clock time of a zone."""
    return datetime.combine(day, time.fromisoformat(at), tzinfo=zoneinfo.ZoneInfo(tz))


@pytest.fixture
def protocol_version(db) -> ProtocolVersion:
    return protocol_version_current("post-hepatectomy")


@pytest.fixture
def clock():
    """Freeze the clock at a moment and move it: ``clock.at(moment)``; ``clock.now``."""

    class Clock:
        def __init__(self) -> None:
            self._traveller: Any = None
            self.now: datetime | None = None

        def at(self, moment: datetime) -> datetime:
            self.stop()
            self._traveller = time_machine.travel(moment, tick=False)
            self._traveller.start()
            self.now = moment
            return moment

        def advance(self, delta: timedelta) -> datetime:
            assert self.now is not None
            return self.at(self.now + delta)

        def stop(self) -> None:
            if self._traveller is not None:
                self._traveller.stop()
                self._traveller = None

    clock = Clock()
    yield clock
    clock.stop()


@pytest.fixture
def make_enrollment(clinic, nurse, protocol_version) -> Callable[..., Enrollment]:
    """Enroll a new patient of the clinic discharged on ``discharge`` (surgery a week
    before) through ``enrollment_create``, at the clock's current time."""

    def make(
        *,
        discharge: date,
        tz: str = "Europe/Istanbul",
        patient: Patient | None = None,
        by: User | None = None,
        has_pulse_device: bool = False,
        **patient_fields: Any,
    ) -> Enrollment:
        if patient is None:
            patient = PatientFactory(clinic=clinic, timezone=tz, **patient_fields)
        episode = EpisodeFactory(patient=patient, surgery_date=discharge - timedelta(days=7), discharge_date=discharge)
        return enrollment_create(
            episode=episode, protocol_slug="post-hepatectomy", has_pulse_device=has_pulse_device, by=by or nurse
        )

    return make
