"""H12: the authorisation matrix, generated from the URL configuration.

Every route of config.urls (API, router routes, pages, webhooks, admin) and every
websocket route of config.websocket_urls must have a row in ROUTES below, saying what
each kind of caller gets: anonymous, a patient on their own object, another patient
on it, each staff role of the clinic, and a nurse of another clinic. A route without a
row fails `test_every_route_has_a_row_in_the_matrix`, so a new endpoint cannot reach
CI without someone deciding who may call it.

Expectations: ``OK`` means the caller got past authentication and permission (any
2xx or 3xx other than the sign-in redirect, or a 400/409 about the body: the check
was passed and the input judged); ``LOGIN`` is the staff pages' redirect to sign-in;
401, 403 and 404 are exact. Detail routes are called on the first patient's objects,
so "another patient" and "another clinic" must get 404 there, never a hint that the
object exists. Each caller's request runs in a savepoint that is rolled back, so one
caller's write never changes what the next one sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from backend.models import Role, User
from followup.links import checkin_link_token
from notifications.models import SendingIdentity
from tests.factories import UserFactory
from tests.security.conftest import ACTORS, Population, api_client_for
from tests.ws_tickets import ws_ticket

OK = "ok"
LOGIN = "login"

STAFF = ("nurse", "surgeon", "coordinator", "admin")


def profile(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(ACTORS, OK)
    for actor, expected in overrides.items():
        base[actor] = expected
    return base


PUBLIC = profile()
AUTHENTICATED = profile(anonymous=401)
STAFF_LIST = profile(anonymous=401, patient=403, other_patient=403)
STAFF_OBJECT = profile(anonymous=401, patient=403, other_patient=403, other_nurse=404)
EITHER_OBJECT = profile(anonymous=401, other_patient=404, other_nurse=404)
PATIENT_ONLY = profile(anonymous=401, nurse=403, surgeon=403, coordinator=403, admin=403, other_nurse=403)
# Twilio's webhooks trust only Twilio's signature: without one every caller is refused.
WEBHOOK = dict.fromkeys(ACTORS, 403)
# A patient signed in with a session (they have no password; only a forced login in
# a test can do it) is authenticated but not staff: 403.
PAGE_STAFF = profile(anonymous=LOGIN, patient=403, other_patient=403)
PAGE_STAFF_OBJECT = profile(anonymous=LOGIN, patient=403, other_patient=403, other_nurse=404)
NOT_YOURS = profile(
    anonymous=401, patient=403, other_patient=403, nurse=404, surgeon=404, coordinator=404, admin=404, other_nurse=404
)
PAGE_NOT_YOURS = {**NOT_YOURS, "anonymous": LOGIN}
PAGE_ADMIN = profile(
    anonymous=LOGIN, patient=403, other_patient=403, nurse=403, surgeon=403, coordinator=403, other_nurse=403
)
# The clinic admin's APIs (data rights): the role is checked before the object, so
# every other caller is refused without learning whether the patient exists.
API_ADMIN = profile(
    anonymous=401, patient=403, other_patient=403, nurse=403, surgeon=403, coordinator=403, other_nurse=403
)
# The patient app's pages (issue 18): patients only, each on their own data.
PATIENT_PAGE = profile(anonymous=LOGIN, nurse=403, surgeon=403, coordinator=403, admin=403, other_nurse=403)
PATIENT_PAGE_OBJECT = {**PATIENT_PAGE, "other_patient": 404}
# Django's admin: only superusers / is_staff users; clinic roles are not admin users.
ADMIN = dict.fromkeys(ACTORS, LOGIN)


@dataclass
class Route:
    methods: tuple[str, ...]
    expect: dict[str, Any]
    kwargs: Callable[[Population], dict[str, Any]] = field(default=lambda p: {})
    body: dict[str, Any] = field(default_factory=dict)
    page: bool = False  # session-signed pages instead of token APIs
    url_name: str | None = None  # reverse() this name instead of the row's key
    query: Callable[[Population], dict[str, Any]] = field(default=lambda p: {})  # GET's query string
    path: str | None = None  # a route without a name (a catch-all): this URL instead of reverse()


own = lambda attr: lambda p: {"pk": getattr(p.own, attr).pk}  # noqa: E731


def page_kwargs(**names: str) -> Callable[[Population], dict[str, Any]]:
    def build(p: Population) -> dict[str, Any]:
        return {key: (getattr(p.own, attr).pk) for key, attr in names.items()}

    return build


def _sending_identity(clinic: Any) -> int:
    identity, _created = SendingIdentity.objects.get_or_create(
        clinic=clinic, is_default=True, defaults={"from_number": "+902125550999"}
    )
    return identity.pk


ROUTES: dict[str, Route] = {
    # --- health, schema, docs: anyone ---
    "healthz": Route(("GET",), PUBLIC),
    "schema": Route(("GET",), PUBLIC),
    "docs": Route(("GET",), PUBLIC),
    # --- sign-in ---
    "auth-token": Route(("POST",), PUBLIC, body={"username": "nobody", "password": "wrong"}),
    "auth-patient-token": Route(("POST",), PUBLIC, body={"phone": "+442079460999", "code": "000000"}),
    "auth-logout": Route(("POST",), AUTHENTICATED),
    # Own sessions and tokens, and websocket tickets (issue 20): staff only; another
    # member's session or token (or one that does not exist) is a 404.
    "auth-sessions": Route(("GET",), STAFF_LIST),
    "auth-session-end": Route(("DELETE",), NOT_YOURS, kwargs=lambda p: {"pk": 999_999}),
    "auth-token-end": Route(("DELETE",), NOT_YOURS, kwargs=lambda p: {"token_id": "0" * 16}),
    "ws-tickets": Route(("POST",), STAFF_LIST),
    # --- clinic core (staff) ---
    "staff-me": Route(("GET", "PATCH"), STAFF_LIST),
    "clinic-detail": Route(("GET",), STAFF_OBJECT, kwargs=lambda p: {"pk": p.clinic.pk}),
    "patient-list": Route(("GET", "POST"), STAFF_LIST),
    "patient-detail": Route(("GET", "PATCH"), STAFF_OBJECT, kwargs=own("patient")),
    "patient-enrollment-code": Route(("POST",), STAFF_OBJECT, kwargs=own("patient")),
    # GET the thread; POST a staff reply (an empty body is a 400 once permission passed).
    "patient-messages": Route(("GET", "POST"), STAFF_OBJECT, kwargs=own("patient"), body={"body": ""}),
    # The clinic's sending identities (issue 19): its administrator only.
    "sending-identities": Route(("GET", "POST"), API_ADMIN),
    "sending-identity": Route(("GET", "PATCH"), API_ADMIN, kwargs=lambda p: {"pk": _sending_identity(p.clinic)}),
    "episode-list": Route(("GET", "POST"), STAFF_LIST),
    "episode-detail": Route(("GET", "PATCH"), STAFF_OBJECT, kwargs=own("episode")),
    # --- plans ---
    "enrollment-list": Route(("GET", "POST"), STAFF_LIST),
    "enrollment-detail": Route(("GET",), STAFF_OBJECT, kwargs=own("enrollment")),
    "enrollment-end": Route(("POST",), STAFF_OBJECT, kwargs=own("enrollment")),
    # Already on the current version: a 400 about the version once permission passed.
    "enrollment-protocol-move": Route(("GET", "POST"), STAFF_OBJECT, kwargs=own("enrollment")),
    "scheduled-check-in-list": Route(("GET", "POST"), STAFF_LIST),
    "scheduled-check-in-detail": Route(("GET", "PATCH", "DELETE"), STAFF_OBJECT, kwargs=own("scheduled_check_in")),
    "scheduled-check-in-send-now": Route(("POST",), STAFF_OBJECT, kwargs=own("scheduled_check_in")),
    "appointment-list": Route(("GET", "POST"), STAFF_LIST),
    "appointment-detail": Route(("GET", "PATCH"), STAFF_OBJECT, kwargs=own("appointment")),
    "worklist-item-list": Route(("GET",), STAFF_LIST),
    "worklist-item-detail": Route(("GET",), STAFF_OBJECT, kwargs=own("worklist_item")),
    "worklist-item-done": Route(("POST",), STAFF_OBJECT, kwargs=own("worklist_item")),
    "me": Route(("GET",), PATIENT_ONLY),
    # --- check-ins, alerts, observations, protocols ---
    "check-ins": Route(("GET", "POST"), AUTHENTICATED),
    "check-in-detail": Route(("GET",), EITHER_OBJECT, kwargs=own("check_in")),
    "alerts": Route(("GET",), STAFF_LIST),
    "alert-metrics": Route(("GET",), STAFF_LIST),
    "alert-detail": Route(("GET",), STAFF_OBJECT, kwargs=own("alert")),
    "alert-acknowledge": Route(("POST",), STAFF_OBJECT, kwargs=own("alert")),
    "alert-resolve": Route(("POST",), STAFF_OBJECT, kwargs=own("alert"), body={"outcome": "advised"}),
    "observations": Route(("GET", "POST"), STAFF_LIST),
    "protocols": Route(("GET",), AUTHENTICATED),
    "protocol-detail": Route(("GET",), AUTHENTICATED, kwargs=lambda p: {"slug": "post-hepatectomy"}),
    # --- Twilio webhooks ---
    "twilio-sms": Route(("POST",), WEBHOOK, body={"From": "+442079460999", "Body": "hi", "MessageSid": "SMx"}),
    "twilio-status": Route(("POST",), WEBHOOK, body={"MessageSid": "SMx", "MessageStatus": "delivered"}),
    # --- staff pages (session) ---
    "plans-login": Route(("GET",), PUBLIC, page=True),
    # The second step of signing in needs the first: everyone else is sent back to it.
    "sign-in-code": Route(("GET", "POST"), dict.fromkeys(ACTORS, LOGIN), page=True),
    "sign-in-enrol": Route(("GET", "POST"), dict.fromkeys(ACTORS, LOGIN), page=True),
    "sign-in-recovery-codes": Route(("GET",), dict.fromkeys(ACTORS, LOGIN), page=True),
    "own-sessions": Route(("GET",), PAGE_STAFF, page=True),
    "own-session-end": Route(("POST",), PAGE_NOT_YOURS, page=True, kwargs=lambda p: {"session_id": 999_999}),
    "own-token-end": Route(("POST",), PAGE_NOT_YOURS, page=True, kwargs=lambda p: {"token_id": "0" * 16}),
    # Without an authenticator there are no recovery codes to renew.
    "own-recovery-codes-renew": Route(("POST",), PAGE_NOT_YOURS, page=True),
    # The clinic admin's: lost devices and locked accounts of their own clinic's staff.
    "staff-security": Route(("GET",), PAGE_ADMIN, page=True),
    "staff-two-factor-reset": Route(
        ("POST",), PAGE_ADMIN, page=True, kwargs=lambda p: {"user_id": p.staff["nurse"].pk}
    ),
    "staff-unlock": Route(("POST",), PAGE_ADMIN, page=True, kwargs=lambda p: {"user_id": p.staff["nurse"].pk}),
    "staff-enrolment-code": Route(("POST",), PAGE_ADMIN, page=True, kwargs=lambda p: {"user_id": p.staff["nurse"].pk}),
    # The clinic admin's audit viewer (issue 20) and research export (issue 21).
    "audit-viewer": Route(("GET",), PAGE_ADMIN, page=True),
    "research-export": Route(("GET", "POST"), PAGE_ADMIN, page=True),
    # Signing out sends everyone back to the sign-in page.
    "plans-logout": Route(("POST",), dict.fromkeys(ACTORS, LOGIN), page=True),
    "set_language": Route(("POST",), PUBLIC, page=True, body={"language": "tr"}),
    "staff-profile": Route(("GET", "POST"), PAGE_STAFF, page=True),
    "plans-today": Route(("GET",), PAGE_STAFF, page=True),
    "plans-patients": Route(("GET",), PAGE_STAFF, page=True),
    "plans-worklist-done": Route(("POST",), PAGE_STAFF_OBJECT, page=True, kwargs=page_kwargs(item_id="worklist_item")),
    "plans-patient": Route(("GET",), PAGE_STAFF_OBJECT, page=True, kwargs=page_kwargs(patient_id="patient")),
    "plans-enroll": Route(("POST",), PAGE_STAFF_OBJECT, page=True, kwargs=page_kwargs(patient_id="patient")),
    "plans-check-in-add": Route(("POST",), PAGE_STAFF_OBJECT, page=True, kwargs=page_kwargs(patient_id="patient")),
    "plans-check-in-move": Route(
        ("POST",),
        PAGE_STAFF_OBJECT,
        page=True,
        kwargs=page_kwargs(patient_id="patient", check_in_id="scheduled_check_in"),
    ),
    "plans-check-in-cancel": Route(
        ("POST",),
        PAGE_STAFF_OBJECT,
        page=True,
        kwargs=page_kwargs(patient_id="patient", check_in_id="scheduled_check_in"),
    ),
    "plans-check-in-send-now": Route(
        ("POST",),
        PAGE_STAFF_OBJECT,
        page=True,
        kwargs=page_kwargs(patient_id="patient", check_in_id="scheduled_check_in"),
    ),
    # The patient's own quiet hours (issue 19); empty fields hand them back to the clinic's.
    "plans-patient-quiet-hours": Route(
        ("POST",), PAGE_STAFF_OBJECT, page=True, kwargs=page_kwargs(patient_id="patient")
    ),
    "plans-appointment-add": Route(("POST",), PAGE_STAFF_OBJECT, page=True, kwargs=page_kwargs(patient_id="patient")),
    "plans-appointment-move": Route(
        ("POST",),
        PAGE_STAFF_OBJECT,
        page=True,
        kwargs=page_kwargs(patient_id="patient", appointment_id="appointment"),
    ),
    "plans-appointment-cancel": Route(
        ("POST",),
        PAGE_STAFF_OBJECT,
        page=True,
        kwargs=page_kwargs(patient_id="patient", appointment_id="appointment"),
    ),
    # --- the live dashboard (session) ---
    "dashboard": Route(("GET",), PAGE_STAFF, page=True),
    "dashboard-metrics": Route(("GET",), PAGE_STAFF, page=True),
    "dashboard-alert": Route(("GET",), PAGE_STAFF_OBJECT, page=True, kwargs=page_kwargs(alert_id="alert")),
    "dashboard-alert-card": Route(("GET",), PAGE_STAFF_OBJECT, page=True, kwargs=page_kwargs(alert_id="alert")),
    "dashboard-alert-acknowledge": Route(("POST",), PAGE_STAFF_OBJECT, page=True, kwargs=page_kwargs(alert_id="alert")),
    "dashboard-alert-resolve": Route(
        ("POST",), PAGE_STAFF_OBJECT, page=True, kwargs=page_kwargs(alert_id="alert"), body={"outcome": "advised"}
    ),
    "dashboard-patient": Route(("GET",), PAGE_STAFF_OBJECT, page=True, kwargs=page_kwargs(patient_id="patient")),
    # A nurse's SMS reply from the patient's thread (issue 19); an empty body is refused.
    "dashboard-patient-reply": Route(
        ("POST",), PAGE_STAFF_OBJECT, page=True, kwargs=page_kwargs(patient_id="patient"), body={"body": ""}
    ),
    # The signed link an SMS carries is the credential: whoever holds it may answer.
    "patient-checkin-form": Route(
        ("GET",),
        PUBLIC,
        page=True,
        kwargs=lambda p: {"token": checkin_link_token(scheduled_check_in_id=p.own.scheduled_check_in.pk)},
    ),
    # --- the patient app (issue 18): the signed-in patient's own pages; staff 403, another
    # patient's object 404, anonymous to the app's sign-in ---
    "patient-app-sign-in": Route(("GET", "POST"), PUBLIC, page=True, body={"phone": "+442079460999", "code": "1"}),
    "patient-app-sign-out": Route(("POST",), dict.fromkeys(ACTORS, LOGIN), page=True),
    "patient-app-home": Route(("GET",), PATIENT_PAGE, page=True),
    "patient-app-check-in": Route(("GET",), PATIENT_PAGE, page=True),
    "patient-app-history": Route(("GET",), PATIENT_PAGE, page=True),
    "patient-app-plan": Route(("GET",), PATIENT_PAGE, page=True),
    "patient-app-messages": Route(("GET", "POST"), PATIENT_PAGE, page=True, body={"body": ""}),
    "patient-app-result": Route(("GET",), PATIENT_PAGE_OBJECT, page=True, kwargs=own("check_in")),
    # The app's door for answers queued offline: the app's session only (an empty body is
    # a 400 to a patient, past the door); no login challenge, so anonymous is a 403.
    "patient-app-check-in-api": Route(
        ("POST",),
        profile(anonymous=403, nurse=403, surgeon=403, coordinator=403, admin=403, other_nurse=403),
        page=True,
    ),
    "patient-app-confirm": Route(("POST",), PATIENT_PAGE_OBJECT, page=True, kwargs=own("appointment")),
    "patient-app-decline": Route(("POST",), PATIENT_PAGE_OBJECT, page=True, kwargs=own("appointment")),
    # What makes the app installable: the manifest (in the patient's language when signed
    # in) and the service worker are static to anyone, no patient's data in them.
    "patient-app-manifest": Route(("GET",), PUBLIC, page=True),
    "patient-app-service-worker": Route(("GET",), PUBLIC, page=True),
    # The app's Web Push subscriptions: patients only (an empty body is a 400).
    "push-subscriptions": Route(("GET", "POST", "DELETE"), PATIENT_ONLY),
    # --- a patient's data rights (issue 20): the clinic admin only ---
    "patient-export": Route(("GET",), API_ADMIN, kwargs=own("patient")),
    "patient-erasure": Route(("GET", "POST"), API_ADMIN, kwargs=own("patient"), body={"confirm_mrn": "not-it"}),
    "patient-consent-withdrawal": Route(("POST",), API_ADMIN, kwargs=own("patient")),
    "data-rights-due": Route(("GET",), PAGE_ADMIN, page=True),
    "data-rights-patient": Route(("GET",), PAGE_ADMIN, page=True, kwargs=page_kwargs(patient_id="patient")),
    "data-rights-export": Route(("GET",), PAGE_ADMIN, page=True, kwargs=page_kwargs(patient_id="patient")),
    "data-rights-erase": Route(
        ("POST",), PAGE_ADMIN, page=True, kwargs=page_kwargs(patient_id="patient"), body={"confirm_mrn": "not-it"}
    ),
    "data-rights-consent-withdrawal": Route(("POST",), PAGE_ADMIN, page=True, kwargs=page_kwargs(patient_id="patient")),
    # --- FHIR R4 (issue 21): staff and patients read within their scope (another clinic's
    # or another patient's Patient is a 404, a search for them an empty searchset); the
    # CapabilityStatement is public; an empty Bundle is a 400 once permission passed ---
    "fhir:metadata": Route(("GET",), PUBLIC),
    "fhir:patient": Route(("GET",), EITHER_OBJECT, kwargs=own("patient")),
    "fhir:patient-everything": Route(("GET",), EITHER_OBJECT, kwargs=own("patient")),
    "fhir:questionnaire": Route(("GET",), AUTHENTICATED, kwargs=lambda p: {"pk": p.own.enrollment.protocol_version_id}),
    "fhir:bundle": Route(("POST",), AUTHENTICATED),
    "fhir:system": Route(("POST",), AUTHENTICATED),
    **{
        f"fhir:{resource.lower()}": Route(
            ("GET",), AUTHENTICATED, query=lambda p: {"patient": f"Patient/{p.own.patient.pk}"}
        )
        for resource in ("Observation", "QuestionnaireResponse", "Flag", "Appointment", "CarePlan")
    },
    # Any other path under /fhir/ is an OperationOutcome 404, to everyone.
    "fhir/^.*$": Route(("GET",), dict.fromkeys(ACTORS, 404), path="/fhir/Medication"),
    # --- Django's admin: every admin URL, checked on its index ---
    "admin:*": Route(("GET",), ADMIN, page=True, url_name="admin:index"),
}

# Websocket routes: whether the handshake is accepted.
WEBSOCKET_ROUTES: dict[str, dict[str, bool]] = {
    "ws/alerts/": {
        "anonymous": False,
        "patient": False,
        "other_patient": False,
        "nurse": True,
        "surgeon": True,
        "coordinator": True,
        "admin": True,
        "other_nurse": True,  # accepted, and scoped to the other clinic's events
    },
}


# --- walking the URL configuration -------------------------------------------------------------


def http_route_keys() -> dict[str, str]:
    """Every HTTP route: its matrix key (its name; admin's under one key) -> its pattern."""
    keys: dict[str, str] = {}

    def walk(patterns: list[Any], prefix: str, namespace: str | None) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = entry.namespace or namespace
                if namespace and entry.namespace:
                    inner = f"{namespace}:{entry.namespace}"
                walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                route = prefix + str(entry.pattern)
                name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
                if (name and name.split(":")[0] == "admin") or route.startswith("admin/"):
                    key = "admin:*"
                else:
                    key = name or route
                keys.setdefault(key, route)

    walk(get_resolver().url_patterns, "", None)
    return keys


def websocket_route_keys() -> set[str]:
    from config.websocket_urls import websocket_urlpatterns

    return {str(entry.pattern) for entry in websocket_urlpatterns}


def test_every_route_has_a_row_in_the_matrix():
    routes = http_route_keys()
    missing = sorted(f"{key}  ({routes[key]})" for key in routes if key not in ROUTES)
    stale = sorted(key for key in ROUTES if key not in routes)
    assert not missing, "routes without a row in the authorisation matrix:\n  " + "\n  ".join(missing)
    assert not stale, f"matrix rows for routes that no longer exist: {stale}"
    ws_routes = websocket_route_keys()
    assert ws_routes == set(WEBSOCKET_ROUTES), f"websocket routes vs matrix: {ws_routes} vs {set(WEBSOCKET_ROUTES)}"


# --- calling every route as every actor ---------------------------------------------------------


def _call(population: Population, route: Route, key: str, method: str, actor: str) -> Any:
    return _call_as(population, route, key, method, population.user_of(actor))


def _call_as(population: Population, route: Route, key: str, method: str, user: User | None) -> Any:
    url = route.path or reverse(route.url_name or key, kwargs=route.kwargs(population))
    if route.page:
        client = Client()
        if user is not None:
            client.force_login(user)
    else:
        client = api_client_for(user)
    if method == "GET":
        return client.get(url, route.query(population))
    if method == "DELETE":
        return client.delete(url)
    if route.page or key.startswith("twilio"):
        return getattr(client, method.lower())(url, data=route.body)
    return getattr(client, method.lower())(url, data=route.body, format="json")


SIGN_IN_PAGES = ("/login/", "/login/code/", "/app/sign-in/", "/admin/login/")


def _verdict(response: Any) -> Any:
    status = response.status_code
    if status in (301, 302, 303):
        # To a sign-in page (staff, the patient app, Django's admin); not to a page whose
        # name merely says sign-in (the admin's /profile/staff-sign-in/).
        location = urlsplit(response.get("Location", "")).path
        if location in SIGN_IN_PAGES:
            return LOGIN
        return OK
    if status in (401, 403, 404, 405):
        return status
    if status >= 500:
        return f"server error {status}"
    return OK


CASES = [(key, method) for key, route in ROUTES.items() for method in route.methods]


@pytest.mark.parametrize(("key", "method"), CASES, ids=[f"{m} {k}" for k, m in CASES])
def test_route_answers_each_caller_as_the_matrix_says(population, key, method):
    route = ROUTES[key]
    got: dict[str, Any] = {}
    for actor in ACTORS:
        with transaction.atomic():
            got[actor] = _verdict(_call(population, route, key, method, actor))
            transaction.set_rollback(True)
    expected = {actor: route.expect[actor] for actor in ACTORS}
    assert got == expected, f"{method} {key}: got {got}"


# The wall display (issue 20) watches its clinic's dashboard: the page and the cards it
# draws live alerts with, nothing else (no API, no other page, no POST).
WALL_DISPLAY_MAY = {("dashboard", "GET"), ("dashboard-alert-card", "GET")}


def test_a_wall_display_gets_the_dashboard_and_nothing_else(population):
    """H12: signed in as the clinic's wall display (a session for pages, a token for the
    APIs, though it is never given one), every route of the matrix that is not public
    refuses it, but the dashboard and its cards."""
    wall = UserFactory(clinic=population.clinic, role=Role.WALL_DISPLAY, phone="")
    got: dict[tuple[str, str], Any] = {}
    for key, method in CASES:
        if ROUTES[key].expect["anonymous"] == OK and (key, method) not in WALL_DISPLAY_MAY:
            continue  # public: anyone, the wall display too
        with transaction.atomic():
            got[(key, method)] = _verdict(_call_as(population, ROUTES[key], key, method, wall))
            transaction.set_rollback(True)
    let_in = sorted(
        f"{m} {k}: {v}"
        for (k, m), v in got.items()
        if v not in (401, 403, 404, 405, LOGIN) and (k, m) not in WALL_DISPLAY_MAY
    )
    assert not let_in, "the wall display got past:\n  " + "\n  ".join(let_in)
    assert {case: got[case] for case in WALL_DISPLAY_MAY} == dict.fromkeys(WALL_DISPLAY_MAY, OK)


# --- websockets ---------------------------------------------------------------------------------


async def _ws_accepted(path: str, ticket: str | None) -> bool:
    from config.asgi import application

    query = f"?ticket={ticket}" if ticket else ""
    communicator = WebsocketCommunicator(application, f"/{path}{query}")
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return bool(connected)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", sorted(WEBSOCKET_ROUTES))
def test_websocket_route_accepts_only_the_matrix_callers(population, path):
    got = {}
    for actor in ACTORS:
        user = population.user_of(actor)
        # A program's ticket (no Origin), bought with the actor's token; a patient or
        # an anonymous caller gets none (403/401) and connects without one.
        ticket = ws_ticket(user, origin=None) if user is not None and user.is_clinic_staff else None
        got[actor] = async_to_sync(_ws_accepted)(path, ticket)
    assert got == WEBSOCKET_ROUTES[path]
