"""backend.token_auth: a token that authenticated once is answered from the cache, and
revoking it (sign-out, a deleted token, a deactivated user, expiry) takes effect at
once (H12). Issue 17: the check-in path's authentication costs no SQL statement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from backend.models import Role, User
from backend.services import patient_user_get_or_create
from backend.token_auth import patient_id_of

pytestmark = pytest.mark.django_db

ME = "/api/v1/staff/me/"


def _client(user: User, **create: object) -> tuple[APIClient, AuthToken]:
    instance, key = AuthToken.objects.create(user=user, **create)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client, instance


def _auth_queries(client: APIClient, path: str = ME) -> tuple[int, int]:
    """(status, statements that touched the token table)."""
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    return status, sum('"knox_authtoken"' in query["sql"] for query in queries.captured_queries)


def test_a_remembered_token_reads_no_token_row(nurse):
    client, _token = _client(nurse)
    assert _auth_queries(client) == (200, 2)  # knox: the token with its user, the user's others
    assert _auth_queries(client) == (200, 0)


def test_sign_out_ends_a_remembered_token_at_once(nurse):
    client, _token = _client(nurse)
    assert client.get(ME).status_code == 200
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get(ME).status_code == 401
    assert not AuthToken.objects.filter(user=nurse).exists()


def test_a_deleted_token_is_refused_at_once(nurse):
    client, token = _client(nurse)
    assert client.get(ME).status_code == 200
    AuthToken.objects.filter(pk=token.pk).delete()
    assert client.get(ME).status_code == 401


def test_a_deactivated_user_is_refused_at_once(nurse):
    client, _token = _client(nurse)
    assert client.get(ME).status_code == 200
    nurse.is_active = False
    nurse.save(update_fields=["is_active"])
    assert client.get(ME).status_code == 401


def test_a_role_change_is_seen_at_once(nurse):
    client, _token = _client(nurse)
    assert client.get(ME).status_code == 200
    nurse.role = Role.PATIENT
    nurse.save(update_fields=["role"])
    assert client.get(ME).status_code == 403


def test_an_expired_token_is_refused_though_remembered(nurse, clock):
    clock.at(timezone.now())
    client, _token = _client(nurse, expiry=timedelta(minutes=30))
    assert client.get(ME).status_code == 200
    clock.advance(timedelta(minutes=31))
    assert client.get(ME).status_code == 401


def test_the_cache_never_holds_the_password_and_a_rebuilt_user_cannot_blank_it(nurse):
    nurse.set_password("a long passphrase 42")
    nurse.save()
    client, token = _client(nurse)
    assert client.get(ME).status_code == 200
    remembered = cache.get(f"auth-token:{token.digest}")
    assert remembered is not None and "password" not in remembered["user"]
    assert nurse.password not in repr(remembered)
    # A request on the remembered token that saves its user (a PATCH of the profile).
    assert client.patch(ME, {"language": "tr"}, format="json").status_code == 200
    nurse.refresh_from_db()
    assert nurse.language == "tr"
    assert nurse.check_password("a long passphrase 42")


def test_a_patient_token_carries_the_patient_id_not_the_row(enrolled):
    user = patient_user_get_or_create(enrolled)
    client, token = _client(user)
    assert client.get("/api/v1/me/").status_code == 200
    assert cache.get(f"auth-token:{token.digest}")["patient_id"] == enrolled.pk
    assert patient_id_of(user) == enrolled.pk


def test_a_token_of_another_user_never_answers_for_this_one(nurse, other_nurse):
    mine, _ = _client(nurse)
    theirs, _ = _client(other_nurse)
    assert mine.get(ME).json()["username"] == nurse.username
    assert theirs.get(ME).json()["username"] == other_nurse.username
    assert mine.get(ME).json()["username"] == nurse.username


def test_with_the_cache_away_a_token_authenticates_from_the_database(nurse, settings):
    """A Redis outage must not turn requests into 500s (H1: a red check-in during an
    outage is still stored); tests/faults/test_redis_outage.py shows it end to end."""
    client, _token = _client(nurse)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    assert client.get(ME).status_code == 200
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get(ME).status_code == 401
