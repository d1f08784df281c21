import pytest
import yaml
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_names_each_check():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "channel_layer": "ok"},
    } | {key: value for key, value in response.json().items() if key not in ("status", "checks")}


def test_healthz_names_the_failing_check(monkeypatch):
    from backend import health

    def broken() -> str:
        raise ConnectionError("broker down")

    monkeypatch.setitem(health.CHECKS, "broker", broken)
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")
    assert response.json()["checks"]["database"] == "ok"


def test_schema_is_openapi3_and_covers_the_contract():
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path in [
        "/api/v1/auth/token/",
        "/api/v1/auth/logout/",
        "/api/v1/auth/patient-token/",
        "/api/v1/patients/",
        "/api/v1/patients/{id}/",
        "/api/v1/patients/{id}/enrollment-code/",
        "/api/v1/episodes/",
        "/api/v1/episodes/{id}/",
        "/api/v1/clinics/{id}/",
    ]:
        assert path in paths, path


def test_schema_is_valid_openapi(client):
    from openapi_spec_validator import validate

    validate(yaml.safe_load(client.get("/api/schema/").content))


def test_schema_json_format():
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_docs_page_serves_without_cdn():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert b"cdn.jsdelivr" not in response.content
