"""The SMS outbox: every outgoing message is a row, written in the same transaction as
the event that caused it, and delivered after commit by a Celery task."""

from __future__ import annotations

from collections.abc import Collection

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import RegexValidator
from django.db import models, router
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

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


# A Twilio Messaging Service SID: "MG" and 32 hex digits.
MESSAGING_SERVICE_SID = RegexValidator(
    r"^MG[0-9a-fA-F]{32}$", _("A Messaging Service SID is MG followed by 32 hexadecimal digits.")
)
E164_NUMBER = RegexValidator(r"^\+[1-9][0-9]{6,14}$", _("Enter the number in E.164 form, e.g. +905301234567."))
CALLING_CODE = RegexValidator(r"^[1-9][0-9]{0,3}$", _("Enter a country calling code without +, e.g. 90 or 994."))


class SendingIdentity(models.Model):
    """Whom a clinic's SMS come from: a number (E.164) or a Twilio Messaging Service.

    A clinic may have one per destination country (``country_code``, e.g. 90 for
    Turkish patients and 994 for Azerbaijani ones) and one default for every other
    country. ``sms_enqueue`` picks, when a message is queued, the clinic's active
    identity for the destination's country, else its default, else the installation's
    ``TWILIO_FROM_NUMBER`` / ``TWILIO_MESSAGING_SERVICE_SID``, and stores what it
    picked on the outbox row.

    Inbound SMS are routed by the identity the patient texted (the form's ``To``, or
    its ``MessagingServiceSid``): only that clinic's patients and staff are matched.
    Inactive identities still route (patients keep old numbers in their phones);
    they are never sent from. A number or a service belongs to one clinic only."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="sending_identities")
    country_code = models.CharField(
        _("destination country calling code"),
        max_length=4,
        blank=True,
        validators=[CALLING_CODE],
        help_text=_("Messages to numbers of this country go from this identity (90, 994). Empty: the default."),
    )
    is_default = models.BooleanField(
        _("clinic default"), default=False, help_text=_("Used for every country without an identity of its own.")
    )
    from_number = models.CharField(_("from number"), max_length=20, blank=True, validators=[E164_NUMBER])
    messaging_service_sid = models.CharField(
        _("Messaging Service SID"), max_length=34, blank=True, validators=[MESSAGING_SERVICE_SID]
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["clinic_id", "id"]
        verbose_name = _("sending identity")
        verbose_name_plural = _("sending identities")
        constraints = [
            models.CheckConstraint(
                condition=(Q(from_number="") & ~Q(messaging_service_sid=""))
                | (~Q(from_number="") & Q(messaging_service_sid="")),
                name="sending_identity_number_or_service",
                violation_error_message=_("Give either a from number or a Messaging Service SID, not both."),
            ),
            models.CheckConstraint(
                condition=Q(is_default=True) | ~Q(country_code=""),
                name="sending_identity_country_or_default",
                violation_error_message=_("An identity without a country must be the clinic's default."),
            ),
            # Inbound routing by number: one number, one clinic.
            models.UniqueConstraint(
                fields=["from_number"],
                condition=~Q(from_number=""),
                name="sending_identity_number_once",
                violation_error_message=_("This number is already a sending identity."),
            ),
            models.UniqueConstraint(
                fields=["messaging_service_sid"],
                condition=~Q(messaging_service_sid=""),
                name="sending_identity_service_once",
                violation_error_message=_("This Messaging Service is already a sending identity."),
            ),
            models.UniqueConstraint(
                fields=["clinic"],
                condition=Q(is_default=True, active=True),
                name="sending_identity_one_default",
                violation_error_message=_("The clinic has an active default identity already."),
            ),
            models.UniqueConstraint(
                fields=["clinic", "country_code"],
                condition=Q(active=True) & ~Q(country_code=""),
                name="sending_identity_one_per_country",
                violation_error_message=_("The clinic has an active identity for this country already."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_number or self.messaging_service_sid} ({self.country_code or 'default'})"

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        """Each constraint's message under the field it is about (the admin's form and
        the API name the field), not among the form-wide errors."""
        errors: dict[str, list[str]] = {}
        for constraint in self._meta.constraints:
            try:
                constraint.validate(type(self), self, exclude=exclude, using=router.db_for_write(type(self)))
            except ValidationError as error:
                field = _CONSTRAINT_FIELDS.get(constraint.name, NON_FIELD_ERRORS)
                errors.setdefault(field, []).extend(error.messages)
        if errors:
            raise ValidationError(errors)


_CONSTRAINT_FIELDS = {
    "sending_identity_number_or_service": "from_number",
    "sending_identity_country_or_default": "country_code",
    "sending_identity_number_once": "from_number",
    "sending_identity_service_once": "messaging_service_sid",
    "sending_identity_one_default": "is_default",
    "sending_identity_one_per_country": "country_code",
}


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
    # The sender, chosen by sms_enqueue in the INSERT itself (a sending identity of the
    # clinic, else the installation's settings) and read back (db_default: RETURNING).
    # Both empty (rows from before): the backend's own settings.
    from_number = models.CharField(max_length=20, blank=True, db_default="")
    messaging_service_sid = models.CharField(max_length=34, blank=True, db_default="")
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
    # No index of its own: (clinic, seq) below serves every read by clinic, and a
    # second index cost every event's INSERT (issue 17).
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="events", db_index=False)
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
    # Set when stored if ``To`` (or the Messaging Service) is a clinic's sending
    # identity: the message is that clinic's, and only its patients and staff are
    # matched. Otherwise (the installation's number) the clinic of whoever wrote.
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
    # The clinic whose sending identity the phone texted: its choice is its own (a
    # family phone known at two clinics picks separately at each). Empty: the
    # installation's number, where patients of every clinic are offered.
    clinic = models.ForeignKey(Clinic, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
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
