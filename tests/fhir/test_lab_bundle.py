"""POST /fhir/Bundle with a hospital's lab results (issue 21, must-show 2)."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.bundle import Bundle

from followup.models import Alert, Observation
from notifications.models import MessageKind, OutgoingMessage
from tests.fhir.fhir_kit import bundle, post_bundle, six_labs

pytestmark = pytest.mark.django_db


def test_it_stores_six_results_in_si_with_ranges_and_fires_phlf_once(
    integration_client, clinic, day5_patient, on_call_surgeon
):
    """H15 (units converted on entry, never assumed) and H3/H7 (a resent result pages
    nobody again): bilirubin 3.1 mg/dL and INR 1.8 on day 5 fire phlf_50_50."""
    response = post_bundle(integration_client, bundle(six_labs(clinic, "H-0042")))
    assert response.status_code == 200, response.json()
    assert response["Content-Type"].startswith("application/fhir+json")
    reply = response.json()
    assert Bundle.model_validate(reply).type == "transaction-response"
    assert [entry["response"]["status"] for entry in reply["entry"]] == ["201 Created"] * 6

    stored = {o.code: o for o in Observation.objects.filter(patient=day5_patient)}
    assert len(stored) == 6
    bilirubin = stored["bilirubin_umol_l"]
    assert (bilirubin.value, bilirubin.unit) == (pytest.approx(53.01), "µmol/L")
    assert (bilirubin.entered_value, bilirubin.entered_unit) == (3.1, "mg/dL")
    assert bilirubin.reference_high == pytest.approx(20.52) and bilirubin.reference_low == pytest.approx(3.42)
    assert stored["albumin_g_l"].value == pytest.approx(32.0) and stored["albumin_g_l"].reference_low == pytest.approx(
        35.0
    )
    assert stored["inr"].value == 1.8 and stored["alt_u_l"].reference_high == 45
    assert bilirubin.source_system == "urn:oid:2.16.840.1.113883.3.9999.lab" and bilirubin.source_id == "R-0001"

    phlf = Alert.objects.get(patient=day5_patient, rule_id="phlf_50_50")
    assert phlf.severity == "red"
    pages = OutgoingMessage.objects.filter(kind=MessageKind.STAFF_PAGE).count()
    assert pages >= 1
    occurrences = phlf.occurrences.count()
    alerts = Alert.objects.count()

    again = post_bundle(integration_client, bundle(six_labs(clinic, "H-0042")))
    assert again.status_code == 200, again.json()
    assert [entry["response"]["status"] for entry in again.json()["entry"]] == ["200 OK"] * 6
    assert Observation.objects.filter(patient=day5_patient).count() == 6
    assert OutgoingMessage.objects.filter(kind=MessageKind.STAFF_PAGE).count() == pages
    assert Alert.objects.count() == alerts and phlf.occurrences.count() == occurrences


def test_a_batch_takes_each_entry_on_its_own(integration_client, clinic, day5_patient):
    entries = six_labs(clinic, "H-0042")
    entries[3]["resource"]["valueQuantity"]["code"] = entries[3]["resource"]["valueQuantity"]["unit"] = "mmol/mol"
    response = post_bundle(integration_client, bundle(entries, "batch"))
    assert response.status_code == 200
    statuses = [entry["response"]["status"] for entry in response.json()["entry"]]
    assert statuses == ["201 Created"] * 3 + ["400 Bad Request"] + ["201 Created"] * 2
    assert "entry 3" in response.json()["entry"][3]["response"]["outcome"]["issue"][0]["diagnostics"]
    assert Observation.objects.filter(patient=day5_patient).count() == 5


def test_another_clinics_service_account_posts_nothing_for_this_clinic(other_clinic, clinic, day5_patient):
    """H12: the account's own clinic's MRN system is the only one it can name."""
    from backend.models import Role
    from tests.conftest import token_client
    from tests.factories import UserFactory

    other = token_client(UserFactory(clinic=other_clinic, role=Role.INTEGRATION))
    response = post_bundle(other, bundle(six_labs(clinic, "H-0042")))
    assert response.status_code == 400
    assert "not this clinic's MRN system" in response.json()["issue"][0]["diagnostics"]
    assert not Observation.objects.exists()


def test_an_account_that_is_neither_staff_patient_nor_integration_posts_nothing(clinic, day5_patient):
    from backend.models import Role
    from tests.conftest import token_client
    from tests.factories import UserFactory

    wall = token_client(UserFactory(clinic=clinic, role=Role.WALL_DISPLAY, phone=""))
    response = post_bundle(wall, bundle(six_labs(clinic, "H-0042")))
    assert response.status_code == 403 and response.json()["resourceType"] == "OperationOutcome"
    assert not Observation.objects.exists()


def test_the_token_create_service_account_issues_posts_labs(clinic, day5_patient):
    """End to end with the account and token as the clinic's admin issues them."""
    from rest_framework.test import APIClient

    from backend.service_accounts import service_account_issue

    issued = service_account_issue(clinic=clinic, days=30, keep_existing=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued.token}")
    response = post_bundle(client, bundle(six_labs(clinic, "H-0042")))
    assert response.status_code == 200, response.json()
    assert Observation.objects.filter(patient=day5_patient, entered_by=issued.user).count() == 6
    assert client.get(f"/fhir/Patient/{day5_patient.pk}").status_code == 403
