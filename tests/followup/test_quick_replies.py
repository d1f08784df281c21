"""Quick replies are clinic data: the examples seeded in six languages for a clinic
that has none, each clinic's admin seeing and editing only their own (H12)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.core.management import call_command
from django.test import RequestFactory

from backend.models import Clinic, Role
from followup.models import QuickReply
from followup.services.quick_replies import quick_reply_list
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_seed_gives_each_clinic_without_quick_replies_the_two_examples_in_six_languages(
    clinic: Clinic, other_clinic: Clinic
) -> None:
    QuickReply.objects.create(clinic=other_clinic, language="en", text="Our own words.")
    call_command("quick_replies_seed", stdout=StringIO())
    assert QuickReply.objects.filter(clinic=clinic).count() == 12
    assert quick_reply_list(clinic_id=clinic.pk, language="az") == [
        "Bu gün sizə zəng edəcəyik.",
        "Xahiş edirik, sabah saat … klinikaya gəlin.",
    ]
    assert quick_reply_list(clinic_id=other_clinic.pk, language="en") == ["Our own words."]
    call_command("quick_replies_seed", stdout=StringIO())  # a second run writes nothing
    assert QuickReply.objects.filter(clinic=clinic).count() == 12


def test_a_clinic_admin_sees_and_adds_only_their_own_clinics_quick_replies(
    clinic: Clinic, other_clinic: Clinic
) -> None:
    mine = QuickReply.objects.create(clinic=clinic, language="tr", text="Bugün arayacağız.")
    QuickReply.objects.create(clinic=other_clinic, language="tr", text="Başka klinik.")
    admin_user: Any = UserFactory(clinic=clinic, role=Role.ADMIN, is_staff=True)
    request = RequestFactory().get("/admin/followup/quickreply/")
    request.user = admin_user
    model_admin = site._registry[QuickReply]
    assert list(model_admin.get_queryset(request)) == [mine]
    assert "clinic" in model_admin.get_exclude(request)
    added = QuickReply(clinic=other_clinic, language="tr", text="Yarın gelin.")
    model_admin.save_model(request, added, form=None, change=False)
    assert added.clinic_id == clinic.pk
