"""Fault 7 (H16): Redis (the broker) stopped while patients text the clinic.

The inbound webhook only stores a message and answers Twilio; a real worker handles
it. With the broker gone every message is still answered 200 and stored; once Redis
is back the beat's sweep hands the waiting messages to the worker, which handles each
once, one phone's messages in the order they came."""

from __future__ import annotations

import time

import requests

from notifications.models import InboundMessage, MessageHistoryEntry
from tests.faults.harness import log, wait_for

SMS_PATH = "/webhooks/twilio/sms/"


def _text(stack, fake_twilio, phone: str, body: str) -> tuple[int, str]:
    params = fake_twilio.inbound_sms_params(phone, body)
    url = stack.base_url + SMS_PATH
    response = requests.post(url, data=params, headers=fake_twilio.signed_inbound(url, params), timeout=30)
    return response.status_code, params["MessageSid"]


def _all_handled(sids: list[str]) -> bool:
    rows = InboundMessage.objects.filter(message_sid__in=sids)
    return rows.count() == len(sids) and not rows.filter(processed_at__isnull=True).exists()


def test_messages_texted_while_redis_is_down_are_stored_and_handled_once_in_order(stack, make_world, fake_twilio):
    world = make_world(patients=2, label="inbound")
    first, second = (str(patient.phone) for patient in world.patients)

    # The worker's path, healthy: stored by the webhook, handled by the real worker.
    status, sid = _text(stack, fake_twilio, first, "A question about my dressing")
    assert status == 200
    wait_for(lambda: _all_handled([sid]), timeout=60, what="the worker handling a message")

    log("INJECT: redis-server stopped while three messages arrive")
    stack.redis.stop()
    texts = [(first, "one"), (first, "two"), (second, "three")]
    during = [_text(stack, fake_twilio, phone, f"Still itching, message {body}") for phone, body in texts]
    stored = InboundMessage.objects.filter(message_sid__in=[sid for _, sid in during])
    assert [status for status, _ in during] == [200, 200, 200]
    assert stored.count() == 3 and stored.filter(processed_at__isnull=True).count() == 3
    time.sleep(2)
    log("HEAL: redis-server restarted (empty: the tasks sent before are gone)")
    stack.redis.start()

    sids = [sid for _, sid in during]
    wait_for(lambda: _all_handled(sids), timeout=120, what="the sweep and the worker handling the stored messages")
    rows = list(InboundMessage.objects.filter(message_sid__in=sids).order_by("id"))
    assert [row.handled_as for row in rows] == ["free_text"] * 3
    assert rows[0].processed_at <= rows[1].processed_at  # one phone: in the order texted
    assert MessageHistoryEntry.objects.filter(inbound__in=rows).count() == 3  # each handled once
