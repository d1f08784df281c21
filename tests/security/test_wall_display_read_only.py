"""A wall display only watches (issue 20): the dashboard it opens and the card JSON its
script fetches carry no action to take (no acknowledge, no resolve, no form but signing
out, no link to a page it may not open), while a nurse's carry them all. Its writes are
refused anyway (tests/security/test_idle_and_sessions.py); here nothing offers them.
H12: staff act only within their role."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from backend.models import Role
from followup.models import Alert
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ACTION = re.compile(r"/acknowledge/|/resolve/|/reply/|setlang|ack-form|resolve-form")


def signed_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alerts(enrolled, nurse) -> list[Alert]:  # type: ignore[no-untyped-def]
    def alert(rule_id: str, ack_code: str, **fields) -> Alert:  # type: ignore[no-untyped-def]
        return Alert.objects.create(
            patient=enrolled,
            clinic_id=enrolled.clinic_id,
            rule_id=rule_id,
            rule_version="1",
            rule_title=rule_id.capitalize(),
            severity="red",
            evidence=[{"field": rule_id, "value": True, "condition": f"{rule_id} is true"}],
            ack_code=ack_code,
            **fields,
        )

    return [alert("jaundice", "W001"), alert("fever", "W002", status=Alert.Status.ACKNOWLEDGED, acknowledged_by=nurse)]


def _forms(page: str) -> list[str]:
    return re.findall(r"<form\b[^>]*>", page)


def test_the_dashboard_of_a_wall_display_offers_no_action(clinic, nurse, alerts):
    display = UserFactory(clinic=clinic, role=Role.WALL_DISPLAY, phone="")
    watched = signed_in(display).get("/dashboard/")
    assert watched.status_code == 200
    page = watched.content.decode()
    # It shows the alerts all the same.
    assert all(f'data-alert-id="{alert.pk}"' in page for alert in alerts)
    assert not ACTION.search(page), ACTION.search(page)
    assert [form for form in _forms(page) if "logout" not in form] == []
    assert '<button type="submit"' in page  # signing out is still there
    for link in ("/plans/today/", "/profile/", "/dashboard/metrics/"):
        assert f'href="{link}"' not in page, link

    # The control: a nurse's page carries every one of them.
    nurses = signed_in(nurse).get("/dashboard/").content.decode()
    assert f"/dashboard/alerts/{alerts[0].pk}/acknowledge/" in nurses
    assert f"/dashboard/alerts/{alerts[1].pk}/resolve/" in nurses
    assert 'href="/plans/today/"' in nurses and "setlang" in nurses


def test_the_card_json_of_a_wall_display_carries_no_action(clinic, nurse, alerts):
    display = signed_in(UserFactory(clinic=clinic, role=Role.WALL_DISPLAY, phone=""))
    for alert in alerts:
        card = display.get(f"/dashboard/alerts/{alert.pk}/card/")
        assert card.status_code == 200
        body = card.json()
        assert body["id"] == alert.pk and body["patient"]["mrn"] == alert.patient.mrn
        assert "acknowledge_url" not in body and "resolve_url" not in body
        assert not ACTION.search(json.dumps(body))
        mine = signed_in(nurse).get(f"/dashboard/alerts/{alert.pk}/card/").json()
        assert mine["acknowledge_url"].endswith(f"/{alert.pk}/acknowledge/")
        assert mine["resolve_url"].endswith(f"/{alert.pk}/resolve/")
