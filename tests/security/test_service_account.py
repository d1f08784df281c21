"""The clinic's hospital-system service account (role ``integration``): a token from
``manage.py create_service_account``, printed once, that opens only the endpoints
guarded by ``IsClinicIntegration`` and is refused by every other route of the
authorisation matrix (H12)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from backend.models import AuditRecord, Role, User
from backend.permissions import IsClinicIntegration
from backend.service_accounts import service_account_issue
from tests.factories import ClinicFactory, UserFactory
from tests.security.test_authorization_matrix import CASES, LOGIN, OK, ROUTES, _verdict

pytestmark = pytest.mark.django_db


class _IntegrationOnly(APIView):
    permission_classes = [IsClinicIntegration]

    def post(self, request: Any) -> Response:
        return Response({"clinic": request.user.clinic_id})


def _post_as(token: str | None) -> int:
    request = APIRequestFactory().post("/probe/", {}, format="json")
    if token is not None:
        request.META["HTTP_AUTHORIZATION"] = f"Token {token}"
    return _IntegrationOnly.as_view()(request).status_code


def issue(clinic: Any, *args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command("create_service_account", str(clinic.pk), *args, stdout=out, stderr=err)
    return out.getvalue().strip()


def test_the_command_creates_one_account_per_clinic_and_prints_the_token_once():
    clinic = ClinicFactory()
    token = issue(clinic)
    user = User.objects.get(role=Role.INTEGRATION)
    assert user.clinic_id == clinic.pk and not user.has_usable_password() and not user.phone
    assert not user.is_clinic_staff and not user.is_patient and user.is_clinic_integration
    # Stored as a digest only: the printed token is not in the database.
    assert not AuthToken.objects.filter(digest=token).exists()
    assert _post_as(token) == 200
    assert AuditRecord.objects.filter(object_type="service_account_token", clinic_id=clinic.pk).exists()


def test_a_new_token_revokes_the_earlier_unless_kept():
    clinic = ClinicFactory()
    first = issue(clinic)
    second = issue(clinic)
    assert User.objects.filter(role=Role.INTEGRATION).count() == 1
    assert _post_as(first) == 401 and _post_as(second) == 200
    third = issue(clinic, "--keep-existing")
    assert _post_as(second) == 200 and _post_as(third) == 200


def test_the_command_refuses_an_unknown_clinic_and_a_bad_lifetime():
    with pytest.raises(CommandError, match="no single clinic"):
        call_command("create_service_account", "999999", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="--days"):
        call_command("create_service_account", str(ClinicFactory().pk), "--days", "0", stdout=StringIO())


def test_the_permission_refuses_staff_patients_and_anonymous(clinic, nurse, patient_client):
    from tests.security.conftest import token_for

    assert _post_as(None) == 401
    assert _post_as(token_for(nurse)) == 403
    admin = UserFactory(clinic=clinic, role=Role.ADMIN)
    assert _post_as(token_for(admin)) == 403
    issued = service_account_issue(clinic=clinic)
    issued.user.is_active = False
    issued.user.save()
    assert _post_as(issued.token) == 401


def _call_as_integration(population: Any, key: str, method: str, user: User, token: str) -> Any:
    route = ROUTES[key]
    url = route.path or reverse(route.url_name or key, kwargs=route.kwargs(population))
    if route.page:
        client: Any = Client()
        client.force_login(user)
    else:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    if method == "GET":
        return client.get(url, route.query(population))
    if method == "DELETE":
        return client.delete(url)
    if route.page or key.startswith("twilio"):
        return getattr(client, method.lower())(url, data=route.body)
    return getattr(client, method.lower())(url, data=route.body, format="json")


def _meant_for_integration(key: str) -> bool:
    # The endpoints the service account exists for (issue 21: POST /fhir/Bundle, and the
    # same transaction posted to the FHIR base, POST /fhir/).
    return key in ("fhir:bundle", "fhir:system")


def test_the_service_account_is_refused_by_every_route_of_the_matrix(population):
    """H12: with the clinic's own service-account token, every API and staff page that is
    not public and not meant for it answers 401/403/404/405 (or the sign-in redirect),
    never its data."""
    issued = service_account_issue(clinic=population.clinic)
    let_in, checked = [], 0
    for key, method in CASES:
        route = ROUTES[key]
        if route.expect["anonymous"] == OK or _meant_for_integration(key):
            continue
        with transaction.atomic():
            verdict = _verdict(_call_as_integration(population, key, method, issued.user, issued.token))
            transaction.set_rollback(True)
        checked += 1
        if verdict not in (401, 403, 404, 405, LOGIN):
            let_in.append(f"{method} {key}: {verdict}")
    assert checked > 50
    assert not let_in, "the service account got past:\n  " + "\n  ".join(let_in)
