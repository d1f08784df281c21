"""The fixture kit (its builders are in tests/factories.py; tests/README.md lists both):
the standing actors (a clinician of the clinic, one of another clinic, a patient) and
API clients signed in as each; an enrolled patient; the care team and its on-call
chain; a frozen clock; the fake Twilio server and signed webhook posts."""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
import time_machine
from asgiref.testing import ApplicationCommunicator as AsgirefApplicationCommunicator
from channels.testing.application import ApplicationCommunicator as ChannelsApplicationCommunicator
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from backend.models import CareTeam, OnCallShift, Patient, Role, User
from backend.services import patient_user_get_or_create
from followup.models import Enrollment, ProtocolVersion, ScheduledCheckIn
from followup.services.protocols import protocol_version_current
from notifications.backends import locmem
from notifications.ratelimit import sms_rate_reset
from tests.factories import (
    PUBLIC_BASE_URL,
    CareTeamFactory,
    ClinicFactory,
    EpisodeFactory,
    PatientFactory,
    UserFactory,
    Webhooks,
    enrolled_patient_create,
)
from tests.fake_twilio import FakeTwilio

# --- PostgreSQL: every pool connection a test takes is handed back -------------------------
# Django on PostgreSQL uses psycopg's pool (config/settings.py). A thread that uses the
# database and ends without closing its connection never hands it back: the pool counts it
# checked out for the rest of the run, and a full run once ran out of connections from
# tests/dashboard/test_escalation.py on. Every connection taken is noted with the thread
# that took it (and, with VIGIL_POOL_TRACE set, where); after each test (its fixtures torn
# down), any connection still out that a thread other than the main one took is reported
# and the test errors. VIGIL_POOL_TRACE=1 (with -s), or =a file's path, also writes the pool's figures
# after every test.

_POOL_TRACE = os.environ.get("VIGIL_POOL_TRACE", "")  # "1": to stderr (with -s); else a file to append to
_pool_taken: dict[int, tuple[str, int, str]] = {}  # id(connection) -> thread name, ident, where
_pool_taken_lock = threading.Lock()


def _pool_where() -> str:
    """The project's own frames of the current stack (the libraries' are many and alike)."""
    root = str(django_settings.BASE_DIR)
    frames = [
        frame
        for frame in traceback.extract_stack()[:-2]
        if frame.filename.startswith(root) and "site-packages" not in frame.filename
    ]
    return "".join(traceback.format_list(frames[-8:]))


def _pool_tracking_install() -> None:
    from psycopg_pool import ConnectionPool

    if getattr(ConnectionPool, "_vigil_tracked", False):
        return
    getconn, putconn = ConnectionPool.getconn, ConnectionPool.putconn

    def tracked_getconn(self: Any, timeout: float | None = None) -> Any:
        conn = getconn(self, timeout)
        thread = threading.current_thread()
        where = _pool_where() if _POOL_TRACE else ""
        with _pool_taken_lock:
            _pool_taken[id(conn)] = (thread.name, thread.ident or 0, where)
        return conn

    def tracked_putconn(self: Any, conn: Any) -> None:
        with _pool_taken_lock:
            _pool_taken.pop(id(conn), None)
        putconn(self, conn)

    ConnectionPool.getconn = tracked_getconn  # type: ignore[method-assign]
    ConnectionPool.putconn = tracked_putconn  # type: ignore[method-assign]
    ConnectionPool._vigil_tracked = True  # type: ignore[attr-defined]


_POOLED = django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and bool(
    django_settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
)
if _POOLED:
    _pool_tracking_install()
_pool_reported: set[int] = set()  # leaks already reported: each errs one test, not every later one


# channels.testing's communicators (WebsocketCommunicator) swap channels.db's
# close_old_connections for a no-op while they send or wait for output, so that a
# database_sync_to_async call run in the test's own thread (a sync test under
# async_to_sync) cannot close the test's connection inside its transaction. Every other
# thread lost its close with it: asgiref's single thread executor (thread-sensitive calls
# of an async test) and the event loop's executor (the feed's thread_sensitive=False reads
# and credential sweeps) kept their pool connections, and the loop's executor threads
# ended with each test's loop still holding theirs, so the pool never had them back.
# Here the swap closes old connections as channels.db does, in any thread but the main
# one, whose connection is the test's.
def _close_old_connections_off_the_main_thread() -> None:
    if threading.current_thread() is not threading.main_thread():
        close_old_connections()


async def _communicator_send_input(self: Any, message: Any) -> Any:
    with mock.patch("channels.db.close_old_connections", _close_old_connections_off_the_main_thread):
        return await AsgirefApplicationCommunicator.send_input(self, message)


async def _communicator_receive_output(self: Any, timeout: float = 1) -> Any:
    with mock.patch("channels.db.close_old_connections", _close_old_connections_off_the_main_thread):
        return await AsgirefApplicationCommunicator.receive_output(self, timeout)


ChannelsApplicationCommunicator.send_input = _communicator_send_input  # type: ignore[method-assign]
ChannelsApplicationCommunicator.receive_output = _communicator_receive_output  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _pool_connections_handed_back(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not _POOLED:
        return
    from django.db import connections

    pool = type(connections["default"])._connection_pools.get("default")
    if pool is None:
        return
    # The main thread's connections are the test runner's: its test connection, and those
    # of other contexts in the same thread (Playwright's sync API runs the test in a
    # greenlet, asgiref gives a sync_to_async call its own). The leak guarded against is
    # a thread of the test's that ends, or idles, holding one.
    main = threading.main_thread().ident
    deadline = time.monotonic() + 5.0
    while True:
        with _pool_taken_lock:
            out = {key: taken for key, taken in _pool_taken.items() if taken[1] != main and key not in _pool_reported}
        # A thread that is still finishing (a server's last request) gets a moment.
        if not out or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    stats = pool.get_stats()
    if _POOL_TRACE:
        line = (
            f"[pool] {request.node.nodeid} size={stats.get('pool_size')} available={stats.get('pool_available')}"
            f" waiting={stats.get('requests_waiting')} out={[(name, ident) for name, ident, _ in out.values()]}\n"
        )
        if _POOL_TRACE == "1":
            sys.stderr.write(line)
        else:
            with open(_POOL_TRACE, "a") as trace:
                trace.write(line + "".join(where for _, _, where in out.values()))
    if not out:
        return
    _pool_reported.update(out)
    alive = {thread.ident for thread in threading.enumerate()}
    lines = [
        f"- taken by thread {name!r} ({'still running' if ident in alive else 'ended'})"
        + (f", at:\n{where}" if where else "")
        for name, ident, where in out.values()
    ]
    pytest.fail(
        f"{len(out)} PostgreSQL pool connection(s) still checked out after {request.node.nodeid}"
        f" (pool size {stats.get('pool_size')}, available {stats.get('pool_available')}): a thread used the"
        " database and did not close its connection (django.db.connections.close_all() at its end)."
        " VIGIL_POOL_TRACE=1 shows where each was taken.\n" + "\n".join(lines),
        pytrace=False,
    )


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache (Redis); each test starts from zero.
    cache.clear()


# Staff two-factor sign-in and the idle sign-out are off for the suite by default: its
# tests sign staff in with force_login or a username and password, which the second
# factor would refuse, and move clocks past any idle time. The tests of those controls
# (tests/security/test_two_factor.py, test_idle_and_sessions.py) switch them on. The
# servers a test starts (daphne, celery) inherit the switch; settings accept it off
# only in a test run (VIGIL_TEST_RUN, set by `make test`), DEBUG or the demo.
if django_settings.TEST_RUN:
    os.environ.setdefault("VIGIL_STAFF_2FA", "0")


@pytest.fixture(autouse=True)
def _staff_sign_in_controls_off(settings: Any) -> None:
    settings.STAFF_TWO_FACTOR = False
    settings.STAFF_IDLE_SIGN_OUT = False


@pytest.fixture
def clinic(db):
    return ClinicFactory()


@pytest.fixture
def other_clinic(db):
    return ClinicFactory()


@pytest.fixture
def nurse(clinic):
    return UserFactory(clinic=clinic, role=Role.NURSE)


@pytest.fixture
def surgeon(clinic):
    return UserFactory(clinic=clinic, role=Role.SURGEON)


@pytest.fixture
def other_nurse(other_clinic):
    return UserFactory(clinic=other_clinic, role=Role.NURSE)


@pytest.fixture
def patient(clinic):
    return PatientFactory(clinic=clinic)


@pytest.fixture
def other_patient(clinic):
    return PatientFactory(clinic=clinic)


@pytest.fixture
def episode(patient):
    return EpisodeFactory(patient=patient)


def token_client(user) -> APIClient:
    _instance, key = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def make_client():
    return token_client


@pytest.fixture
def nurse_client(nurse):
    return token_client(nurse)


@pytest.fixture
def other_nurse_client(other_nurse):
    return token_client(other_nurse)


@pytest.fixture
def patient_client(patient):
    return token_client(patient_user_get_or_create(patient))


@pytest.fixture
def anonymous_client():
    return APIClient()


# --- an enrolled patient ----------------------------------------------------------------------


@pytest.fixture
def protocol_version(db) -> ProtocolVersion:
    """The current version of the default protocol (post-hepatectomy)."""
    return protocol_version_current("post-hepatectomy")


@pytest.fixture
def care_team(clinic) -> CareTeam:
    return CareTeamFactory(clinic=clinic)


@pytest.fixture
def make_enrolled(clinic, care_team, protocol_version) -> Callable[..., Patient]:
    """``make_enrolled(**kw)``: a patient of the clinic and its care team, enrolled on
    the default protocol (``enrolled_patient_create``: discharged two days ago unless
    ``discharged_days_ago``/``discharge`` say otherwise; ``drain``, ``pulse``; any other
    keyword is a patient field, ``patient=`` enrolls an existing one)."""

    def make(*, patient: Patient | None = None, **fields: Any) -> Patient:
        patient_fields = {key: fields.pop(key) for key in list(fields) if key not in _ENROLLMENT_ARGS}
        patient_fields.setdefault("care_team", care_team)
        if patient is None:
            patient_fields.setdefault("clinic", clinic)
        return enrolled_patient_create(patient=patient, **fields, **patient_fields).patient

    return make


_ENROLLMENT_ARGS = {"discharge", "discharged_days_ago", "drain", "pulse", "by"}


@pytest.fixture
def enrolled(patient, make_enrolled) -> Patient:
    """The standing patient, enrolled (discharged two days ago)."""
    return make_enrolled(patient=patient)


@pytest.fixture
def make_enrollment(clinic, nurse, protocol_version) -> Callable[..., Enrollment]:
    """``make_enrollment(discharge=..., tz=...)``: a new patient of the clinic living in
    ``tz``, enrolled through ``enrollment_create`` by the nurse at the clock's current
    time (the plan scheduled); returns the enrollment."""

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
        return enrolled_patient_create(patient=patient, discharge=discharge, pulse=has_pulse_device, by=by or nurse)

    return make


@pytest.fixture
def make_due_check_in() -> Callable[..., ScheduledCheckIn]:
    """``make_due_check_in(patient)``: a check-in of the patient's active enrollment,
    announced and due ``minutes_ago`` minutes ago."""

    def make(
        patient: Patient, *, channel: str = "sms", minutes_ago: int = 5, window_minutes: int = 720
    ) -> ScheduledCheckIn:
        enrollment = Enrollment.objects.get(patient=patient, status=Enrollment.Status.ACTIVE)
        return ScheduledCheckIn.objects.create(
            patient=patient,
            enrollment=enrollment,
            due_at=timezone.now() - timedelta(minutes=minutes_ago),
            window_minutes=window_minutes,
            channel=channel,
            status=ScheduledCheckIn.Status.SENT,
            announced_at=timezone.now(),
        )

    return make


# --- who is on call ----------------------------------------------------------------------------


def _on_call(care_team: CareTeam, user: User, level: int) -> User:
    now = timezone.now()
    OnCallShift.objects.create(
        care_team=care_team,
        user=user,
        level=level,
        starts_at=now - timedelta(days=30),
        ends_at=now + timedelta(days=30),
    )
    return user


@pytest.fixture
def on_call_surgeon(clinic, care_team) -> User:
    """Level 1 of the care team's chain around now: red alerts page this phone."""
    return _on_call(care_team, UserFactory(clinic=clinic, role=Role.SURGEON, phone="+442079460777"), 1)


@pytest.fixture
def chain(clinic, care_team) -> list[User]:
    """Three surgeons on call at levels 1, 2 and 3 around now."""
    return [
        _on_call(care_team, UserFactory(clinic=clinic, role=Role.SURGEON, phone=f"+44207946071{level}"), level)
        for level in (1, 2, 3)
    ]


# --- the clock ---------------------------------------------------------------------------------


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


# --- the fake Twilio and signed webhooks -------------------------------------------------------


@pytest.fixture(scope="session")
def running_fake() -> Iterator[FakeTwilio]:
    """The fake Twilio server (tests/fake_twilio), one for the session."""
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake(running_fake: FakeTwilio) -> Iterator[FakeTwilio]:
    """The fake Twilio, its record emptied; waits for its in-flight requests after."""
    running_fake.reset()
    yield running_fake
    running_fake.wait_idle(timeout=15)


@pytest.fixture
def sms_settings(settings: Any, running_fake: FakeTwilio) -> Iterator[None]:
    """Webhooks signed with the fake's token; sends go to the in-memory backend unless a
    test switches to the real twilio client (``twilio_backend``). Autouse in the SMS
    suites' conftest files."""
    settings.TWILIO_AUTH_TOKEN = running_fake.auth_token
    settings.TWILIO_ACCOUNT_SID = running_fake.account_sid
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    settings.SMS_BACKEND = "notifications.backends.locmem.LocmemBackend"
    settings.TWILIO_FROM_NUMBER = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    locmem.reset()
    yield
    locmem.reset()


@pytest.fixture
def twilio_backend(settings: Any, fake: FakeTwilio) -> FakeTwilio:
    """The real twilio client, talking to the fake Twilio server (no rate wait to speak
    of: tests of the rate set their own)."""
    settings.SMS_BACKEND = "notifications.backends.twilio.TwilioBackend"
    settings.TWILIO_API_BASE_URL = fake.base_url
    settings.TWILIO_FROM_NUMBER = fake.phone_number
    settings.TWILIO_TIMEOUT = 2.0
    settings.SMS_RATE_PER_SECOND = 1000.0
    sms_rate_reset(number=fake.phone_number)
    return fake


@pytest.fixture
def webhooks(client: Client, running_fake: FakeTwilio) -> Webhooks:
    """Signed posts to our Twilio webhooks (``webhooks.sms(from_, body)``, ``.status(...)``)."""
    return Webhooks(client, running_fake)
