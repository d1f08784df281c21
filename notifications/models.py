"""The SMS outbox: every outgoing message is a row, written in the same transaction as
the event that caused it, and delivered after commit by a Celery task."""

from __future__ import annotations

from django.core.exceptions import ValidationError
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
    # The answer to STOP / START / HELP (the STOP confirmation is the one message an
    # opted-out patient still gets).
    KEYWORD_REPLY = "keyword_reply"


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
    # H6: the protocol question this SMS asks, so a reply is read against the question
    # the patient actually saw, and staff can tell which wording was sent.
    question_id = models.CharField(max_length=64, blank=True)
    conversation = models.ForeignKey(
        "SmsConversation", null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    appointment = models.ForeignKey(
        "followup.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="sms_messages"
    )
    # H11: if this message cannot be delivered, staff must phone the patient (recalls
    # and red advice): a failure raises an amber `sms_unreachable` alert.
    reach_alert = models.BooleanField(default=False)
    # Sent even to a patient who opted out: only the confirmation of their STOP (and
    # the HELP answer carriers require).
    opt_out_exempt = models.BooleanField(default=False)
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


class AppendOnlyModel(models.Model):
    """Rows that are history: written once, never changed or deleted by the app."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None:
            raise ValidationError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValidationError(f"{type(self).__name__} rows are append-only.")


class DeliveryAttempt(AppendOnlyModel):
    """One try at handing an outbox row to the SMS provider, with what came of it.

    Append-only: the message row holds the current state, these rows the story
    (how many tries, which Twilio code, when a crashed send was found and how it was
    settled). No body and no number here: the message row has them."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted"  # the provider took it (sid known)
        TRANSIENT_ERROR = "transient_error"  # refused for now; retried later
        PERMANENT_ERROR = "permanent_error"  # refused for good; the message failed
        UNKNOWN = "unknown"  # no answer (read timeout): may have been sent, to be verified
        SUPPRESSED = "suppressed"  # the patient opted out before it went
        INTERRUPTED = "interrupted"  # found stuck in `sending` (worker killed)
        FOUND_AT_PROVIDER = "found_at_provider"  # verification: the provider had it
        NOT_AT_PROVIDER = "not_at_provider"  # verification: it never arrived; resent
        VERIFY_FAILED = "verify_failed"  # the provider could not be asked; retried later

    message = models.ForeignKey(OutgoingMessage, on_delete=models.PROTECT, related_name="delivery_attempts")
    number = models.PositiveSmallIntegerField(help_text="The message's attempt counter when this was recorded.")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    twilio_sid = models.CharField(max_length=64, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    retry_after_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["message", "id"])]

    def __str__(self) -> str:
        return f"Delivery attempt {self.number} of message {self.message_id}: {self.outcome}"


class SmsConversation(models.Model):
    """A check-in asked by SMS, one question at a time.

    The state lives here, not in a worker: each inbound reply moves it one step in a
    transaction, so a retried webhook or a restarted worker finds it as it was. The
    answers given so far stay on the row whatever happens (completed, expired,
    stopped), for the nurse who calls the patient."""

    class State(models.TextChoices):
        ACTIVE = "active"
        COMPLETED = "completed"  # submitted as a check-in
        INCOMPLETE = "incomplete"  # (before H16) a required answer could not be read twice
        EXPIRED = "expired"  # the check-in window closed first: missed
        STOPPED = "stopped"  # the patient texted STOP
        SUPERSEDED = "superseded"  # a newer check-in started before this one ended
        HANDED_OVER = "handed_over"  # three misses in a row, or the patient asked for a call
        REPLACED = "replaced"  # the same check-in was answered on the web or in the app
        ENROLLMENT_ENDED = "enrollment_ended"  # the follow-up ended under it

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="sms_conversations")
    scheduled_check_in = models.OneToOneField(
        "followup.ScheduledCheckIn", on_delete=models.PROTECT, related_name="sms_conversation"
    )
    protocol_version = models.ForeignKey("followup.ProtocolVersion", on_delete=models.PROTECT, related_name="+")
    phase = models.CharField(max_length=12)
    language = models.CharField(max_length=2)
    # Skip-logic facts frozen when the conversation starts (the episode's drain, the
    # enrollment's pulse device), so an edit mid-way cannot reshuffle the questions.
    drain_at_discharge = models.BooleanField(default=False)
    has_pulse_device = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    current_question = models.CharField(max_length=64, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    skipped = models.JSONField(default=list, blank=True)
    reask_count = models.PositiveSmallIntegerField(default=0)
    # Replies not understood in a row, across questions: the third hands over (H16).
    miss_streak = models.PositiveSmallIntegerField(default=0)
    # The red advice already went out mid-way (an answer was judged red as it came):
    # the end of the conversation does not send it a second time.
    red_advice_sent = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    last_answer_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    check_in = models.ForeignKey(
        "followup.CheckIn", null=True, blank=True, on_delete=models.PROTECT, related_name="sms_conversations"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            # Replies are matched to "the" conversation of a patient: never two at once.
            models.UniqueConstraint(
                fields=["patient"], condition=Q(state="active"), name="sms_one_active_conversation_per_patient"
            )
        ]
        indexes = [
            # conversations_expire's query: active conversations by deadline.
            models.Index(fields=["expires_at"], name="sms_conversation_active", condition=Q(state="active")),
        ]

    def __str__(self) -> str:
        return f"SMS conversation {self.pk} ({self.state})"


class InboundMessage(models.Model):
    """An SMS Twilio delivered to our webhook, claimed by its MessageSid.

    The webhook only inserts this row (unique on the sid, so Twilio's retries of one
    message are stored once) and answers; a worker handles it later
    (``notifications.inbound``). Until then ``processed_at`` is empty. A row whose
    handling kept failing is given up (``handling_failed_at``) and put before staff.
    Once handled, for a number that matches nobody nothing but the claim is kept (no
    number, no body)."""

    class HandledAs(models.TextChoices):
        PENDING = "pending"
        STOP = "stop"
        START = "start"
        HELP = "help"
        ACK = "ack"
        STAFF_OTHER = "staff_other"
        ANSWER = "answer"
        RECALL_CONFIRMATION = "recall_confirmation"
        FREE_TEXT = "free_text"
        HELD = "held"  # a shared phone: waiting to learn which patient wrote
        PATIENT_CHOICE = "patient_choice"
        UNKNOWN_NUMBER = "unknown_number"
        # The handling failed every try: staff were told to read it (never dropped).
        FAILED = "failed"

    message_sid = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(auto_now_add=True)
    to_phone = models.CharField(max_length=20, blank=True)
    from_phone = models.CharField(max_length=20, blank=True)
    body = models.TextField(blank=True)
    clinic = models.ForeignKey(Clinic, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="inbound_messages"
    )
    staff_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(
        SmsConversation, null=True, blank=True, on_delete=models.PROTECT, related_name="inbound_messages"
    )
    handled_as = models.CharField(max_length=20, choices=HandledAs.choices, default=HandledAs.PENDING)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Failed tries of the handling (the worker's transaction rolled back), the last
    # one's time and exception class (never its message: it may quote the body, H13).
    handling_attempts = models.PositiveSmallIntegerField(default=0)
    handling_attempted_at = models.DateTimeField(null=True, blank=True)
    handling_error = models.CharField(max_length=100, blank=True)
    handling_failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The worker's "oldest unhandled message of this phone" and the sweep's
            # "unhandled for too long": both read only rows still to be handled.
            models.Index(
                fields=["from_phone", "id"],
                name="inbound_unhandled",
                condition=Q(processed_at__isnull=True, handling_failed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"Inbound SMS {self.pk} ({self.handled_as})"


class SharedPhoneChoice(models.Model):
    """Which patient is writing from a phone that several patients share (H5).

    Pending (no `chosen_patient`): we asked "who is answering?" and hold the messages
    that came in; nothing is recorded for anyone until the sender picks. Chosen:
    messages from the phone go to that patient until `expires_at` (each message
    extends it), or until a check-in for another patient on the phone starts."""

    phone = models.CharField(max_length=20, db_index=True)
    candidates = models.JSONField(help_text="Patient ids in the order offered (1, 2, ...).")
    held = models.JSONField(default=list, help_text="Ids of inbound messages waiting for the answer.")
    language = models.CharField(max_length=2, default="en")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    chosen_patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    chosen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Shared phone choice {self.pk}"


class MessageHistoryEntry(models.Model):
    """One line of a patient's SMS history, in or out.

    Inbound and outbound messages live in two tables with two id sequences; this
    row gives both one increasing id, which is what the messages API lists and what
    `?since_id=` resumes from."""

    class Direction(models.TextChoices):
        INBOUND = "inbound"
        OUTBOUND = "outbound"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="sms_history")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    outgoing = models.OneToOneField(
        OutgoingMessage, null=True, blank=True, on_delete=models.PROTECT, related_name="history_entry"
    )
    inbound = models.ForeignKey(
        InboundMessage, null=True, blank=True, on_delete=models.PROTECT, related_name="history_entries"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["patient", "id"])]
        constraints = [
            models.UniqueConstraint(fields=["patient", "inbound"], name="sms_history_inbound_once_per_patient"),
            models.CheckConstraint(
                condition=(Q(direction="outbound", outgoing__isnull=False, inbound__isnull=True))
                | Q(direction="inbound", outgoing__isnull=True, inbound__isnull=False),
                name="sms_history_one_message",
            ),
        ]

    def __str__(self) -> str:
        return f"SMS history {self.pk} ({self.direction})"
