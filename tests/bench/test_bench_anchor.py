"""The bench anchor (bench/anchor/): the bare endpoint `make bench` measures Vigil
against works, and config/urls.py mounts it only with VIGIL_BENCH_ANCHOR=1."""

from __future__ import annotations

import importlib

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import clear_url_caches, include, path

from backend.models import AuditRecord
from bench.anchor.views import ANCHOR_GROUP
from bench.seeding import bench_answers

urlpatterns = [path("bench/anchor/", include("bench.anchor.urls"))]
URL = "/bench/anchor/check-ins/"


@pytest.mark.urls(__name__)
def test_it_stores_one_row_and_sends_one_event_after_commit(nurse_client, django_capture_on_commit_callbacks, db):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(ANCHOR_GROUP, channel)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = nurse_client.post(URL, {"answers": bench_answers(3), "scheduled_check_in": None}, format="json")
        assert response.status_code == 201, response.content
        assert len(callbacks) == 1
        row = AuditRecord.objects.get(object_type="bench_anchor")
        assert response.json() == {"id": row.pk, "level": "green"}
        message = async_to_sync(layer.receive)(channel)
        assert message["event"] == {"type": "check_in.received", "data": {"id": row.pk}}
    finally:
        async_to_sync(layer.group_discard)(ANCHOR_GROUP, channel)


@pytest.mark.urls(__name__)
def test_it_validates_the_answers_like_a_plain_serializer(nurse_client, db):
    answers = {**bench_answers(3), "temperature_c": "hot"}
    del answers["jaundice"]
    response = nurse_client.post(URL, {"answers": answers}, format="json")
    assert response.status_code == 400
    assert set(response.json()["answers"]) == {"temperature_c", "jaundice"}
    assert not AuditRecord.objects.filter(object_type="bench_anchor").exists()


@pytest.mark.urls(__name__)
def test_it_refuses_a_request_without_a_token(anonymous_client, db):
    response = anonymous_client.post(URL, {"answers": bench_answers(3)}, format="json")
    assert response.status_code == 401


def test_it_is_mounted_only_when_the_setting_is_on(settings):
    import config.urls

    def routed() -> bool:
        return any(str(pattern.pattern) == "bench/anchor/" for pattern in config.urls.urlpatterns)

    try:
        settings.BENCH_ANCHOR = False
        importlib.reload(config.urls)
        assert not routed()
        settings.BENCH_ANCHOR = True
        importlib.reload(config.urls)
        assert routed()
    finally:
        settings.BENCH_ANCHOR = False
        importlib.reload(config.urls)
        clear_url_caches()
