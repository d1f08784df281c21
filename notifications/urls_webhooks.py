"""Twilio's webhooks (mounted under /webhooks/, see config/urls.py)."""

from django.urls import path

from notifications import webhooks

urlpatterns = [
    path("twilio/sms/", webhooks.twilio_sms_webhook, name="twilio-sms"),
    path("twilio/status/", webhooks.twilio_status_webhook, name="twilio-status"),
]
