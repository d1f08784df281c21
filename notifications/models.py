"""The SMS outbox: every outgoing message is a row, written in the same transaction as
the event that caused it, and delivered after commit by a Celery task."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from backend.models import Clinic, Patient, User


class MessageStatus(models.TextChoices):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    # Not sent because of opt-out or quiet hours that never ended for it.
    SUPPRESSED = "suppressed"


class MessageKind(models.TextChoices):
    ENROLLMENT_CODE = "enrollment_code"
    CHECK_IN = "check_in"
    REMINDER = "reminder"
    ADVICE = "advice"
    RECALL = "recall"
    STAFF_PAGE = "staff_page"
    REPLY = "reply"


class OutgoingMessage(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="outgoing_messages")
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="outgoing_messages"
    )
    staff_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="pages")
    to_phone = models.CharField(max_length=20)
    body = models.TextField()
    # What staff see in the message history: one-time codes masked.
    display_body = models.TextField()
    kind = models.CharField(max_length=24, choices=MessageKind.choices)
    status = models.CharField(max_length=12, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    idempotency_key = models.CharField(max_length=200, unique=True)
    send_after = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    twilio_sid = models.CharField(max_length=64, blank=True, db_index=True)
    error_code = models.IntegerField(null=True, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The relay's and the sweeper's query: what is still to be delivered.
            models.Index(
                fields=["status", "send_after"],
                name="outbox_undelivered",
                condition=Q(status__in=["queued", "sending"]),
            ),
            models.Index(fields=["patient", "id"]),
        ]

    def __str__(self) -> str:
        return f"OutgoingMessage {self.pk} ({self.kind}, {self.status})"


class Event(models.Model):
    """A dashboard event. The id is the installation-wide `seq`: one increasing sequence
    that a reconnecting client resumes from (`?since=`). The database is the source of
    truth; the channel layer only carries rows already stored."""

    seq = models.BigAutoField(primary_key=True)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=32)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["clinic", "seq"])]

    def __str__(self) -> str:
        return f"Event {self.seq} ({self.type})"
