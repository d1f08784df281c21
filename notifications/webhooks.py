"""Twilio's webhooks: doorways that check the signature, call one service, answer fast.

The inbound SMS webhook only stores the message (``inbound_store``: one short
transaction) and answers; a worker handles it (``notifications.inbound``), so Twilio's
wait does not grow with what the message sets off (a conversation step, a check-in's
rules and alerts).

Both fail closed: without ``TWILIO_AUTH_TOKEN`` configured, or with a missing or wrong
``X-Twilio-Signature``, the answer is 403 and nothing is read. The signature covers the
exact URL Twilio called, which behind a proxy that terminates TLS is not the URL this
process sees, so it is rebuilt from ``PUBLIC_BASE_URL`` plus the request's path and
query. Bodies and numbers are never logged (H13).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from notifications.inbound import inbound_store
from notifications.status import sms_status_record

logger = logging.getLogger(__name__)

# Every reply to a patient goes through the outbox (recorded, tracked, listed), so the
# webhook's own answer says nothing.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _twiml() -> HttpResponse:
    return HttpResponse(EMPTY_TWIML, content_type="text/xml; charset=utf-8")


def twilio_signature_valid(request: HttpRequest) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    return bool(RequestValidator(token).validate(url, request.POST, signature))


@csrf_exempt
@require_POST
def twilio_sms_webhook(request: HttpRequest) -> HttpResponse:
    if not twilio_signature_valid(request):
        logger.warning("inbound sms webhook: signature missing or invalid (403)")
        return HttpResponseForbidden()
    message_sid = request.POST.get("MessageSid") or request.POST.get("SmsSid") or ""
    if not message_sid:
        return HttpResponseBadRequest()
    inbound_store(
        message_sid=message_sid,
        from_phone=request.POST.get("From", ""),
        to_phone=request.POST.get("To", ""),
        body=request.POST.get("Body", ""),
        messaging_service_sid=request.POST.get("MessagingServiceSid", ""),
    )
    return _twiml()


@csrf_exempt
@require_POST
def twilio_status_webhook(request: HttpRequest) -> HttpResponse:
    if not twilio_signature_valid(request):
        logger.warning("status callback: signature missing or invalid (403)")
        return HttpResponseForbidden()
    raw_code = request.POST.get("ErrorCode", "")
    raw_outbox = request.GET.get("m", "")
    sms_status_record(
        message_sid=request.POST.get("MessageSid") or request.POST.get("SmsSid") or "",
        twilio_status=request.POST.get("MessageStatus") or request.POST.get("SmsStatus") or "",
        error_code=int(raw_code) if raw_code.isdigit() else None,
        outbox_id=int(raw_outbox) if raw_outbox.isdigit() else None,
    )
    # An unknown sid is answered 200 too: Twilio has nothing to retry.
    return _twiml()
