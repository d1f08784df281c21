"""The clinical workflow's data: protocol versions, enrollments and their plans,
scheduled check-ins, appointments, check-ins, observations, alerts and the nurses'
worklist. Times are stored in UTC; local times are computed from the patient's zone."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from backend.models import Clinic, Episode, Patient, User
from followup.history_sql import AnswerNumber


class Protocol(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.slug


class ProtocolVersion(models.Model):
    """One published version of a protocol's files, stored whole so that a patient
    enrolled on it keeps being judged by it after the files change (until a nurse moves
    them), and every alert can name the exact rules that fired."""

    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=40)
    content_hash = models.CharField(max_length=64)
    # The source files are in ProtocolVersionTexts, not here (see there).
    published_at = models.DateTimeField(auto_now_add=True)
    is_current = models.BooleanField(default=True)

    class Meta:
        ordering = ["protocol", "-published_at"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "content_hash"], name="protocol_version_content_unique"),
            models.UniqueConstraint(
                fields=["protocol"], condition=Q(is_current=True), name="protocol_one_current_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.protocol_id} v{self.version}"


class ProtocolVersionTexts(models.Model):
    """A published version's source files as published: {"protocol.yaml": "...",
    "rules.yaml": "..."}. Apart from the version row because every check-in, alert,
    enrollment and worklist read joins its version: about 70 KB of YAML per joined row
    cost more than the rest of a check-in's reads together. The texts are read once per
    version per process, into the definition cache (``protocol_definition``)."""

    version = models.OneToOneField(ProtocolVersion, on_delete=models.PROTECT, primary_key=True, related_name="texts")
    files = models.JSONField()

    def __str__(self) -> str:
        return f"texts of {self.version_id}"


class Enrollment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        ENDED = "ended"

    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="enrollments")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="enrollments")
    protocol_version = models.ForeignKey(ProtocolVersion, on_delete=models.PROTECT, related_name="enrollments")
    has_pulse_device = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    enrolled_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["episode"], condition=Q(status="active"), name="one_active_enrollment_per_episode"
            )
        ]

    def __str__(self) -> str:
        return f"Enrollment {self.pk} (patient {self.patient_id})"


class Channel(models.TextChoices):
    SMS = "sms"
    APP = "app"


class ScheduledCheckIn(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        SENT = "sent"
        COMPLETED = "completed"
        MISSED = "missed"
        CANCELLED = "cancelled"

    class Origin(models.TextChoices):
        PLAN = "plan"
        NURSE = "nurse"
        RULE = "rule"  # e.g. the extra check-in 12 h after an amber fever

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="scheduled_check_ins")
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.PROTECT, related_name="scheduled_check_ins"
    )
    due_at = models.DateTimeField()
    window_minutes = models.PositiveIntegerField(default=720)
    # When the reminder goes, in minutes after due_at, when the protocol's schedule says
    # (v2: 24 h into a 72 h surveillance window); null: half of what is left of the
    # window after the announcement.
    reminder_minutes = models.PositiveIntegerField(null=True, blank=True)
    channel = models.CharField(max_length=4, choices=Channel.choices, default=Channel.SMS)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    phase = models.CharField(max_length=12, default="acute")
    day = models.IntegerField(null=True, blank=True, help_text="days since discharge")
    origin = models.CharField(max_length=6, choices=Origin.choices, default=Origin.PLAN)
    announced_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The plan item this row was generated from ("check_in:d016", the schedule
    # template's stable key): recomputing the plan after the discharge date or the
    # time zone changed (H14) matches rows by it. Blank for check-ins added by hand.
    plan_key = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # The beat tick's query: open check-ins by due time (announce, remind, miss).
            models.Index(fields=["due_at"], name="checkin_open_due", condition=Q(status__in=["scheduled", "sent"])),
            models.Index(fields=["patient", "due_at"]),
        ]
        constraints = [
            # One row per plan item: a retried enrollment or recompute cannot double it.
            models.UniqueConstraint(
                fields=["enrollment", "plan_key"], condition=~Q(plan_key=""), name="checkin_one_row_per_plan_item"
            )
        ]

    def __str__(self) -> str:
        return f"Scheduled check-in {self.pk} ({self.status})"


class Appointment(models.Model):
    class Kind(models.TextChoices):
        CLINIC_VISIT = "clinic_visit"
        TELEMEDICINE = "telemedicine"
        LAB = "lab"
        IMAGING = "imaging"
        RECALL = "recall"

    class Status(models.TextChoices):
        PROPOSED = "proposed"
        SCHEDULED = "scheduled"
        CONFIRMED = "confirmed"
        ATTENDED = "attended"
        MISSED = "missed"
        CANCELLED = "cancelled"
        # The patient said "I can't come" in the app: a nurse calls to find another time.
        DECLINED = "declined"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    starts_at = models.DateTimeField()
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.SCHEDULED)
    reason = models.CharField(max_length=300, blank=True)
    video_url = models.URLField(blank=True)
    # Lab codes, imaging detail: data from the protocol's schedule template.
    detail = models.JSONField(default=dict, blank=True)
    origin_alert = models.ForeignKey("Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="recalls")
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The plan item this appointment was generated from ("lab:d007"); blank when added
    # by hand or proposed by a rule. See ScheduledCheckIn.plan_key.
    plan_key = models.CharField(max_length=40, blank=True, default="")
    # Who last moved it to another time. A plan recompute leaves a moved appointment
    # where the person put it (the patient may have agreed that time).
    moved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["patient", "starts_at"]), models.Index(fields=["starts_at", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "plan_key"], condition=~Q(plan_key=""), name="appointment_one_row_per_plan_item"
            )
        ]

    def __str__(self) -> str:
        return f"Appointment {self.pk} ({self.kind}, {self.status})"


class CheckIn(models.Model):
    class Source(models.TextChoices):
        APP = "app"
        SMS = "sms"
        WEB = "web"
        STAFF = "staff"

    class Level(models.TextChoices):
        RED = "red"
        AMBER = "amber"
        GREEN = "green"

    # No index of its own: ``checkin_time_answers`` leads with the patient. A second,
    # patient-only index cost every check-in's INSERT and, before the statistics caught
    # up with a long history, let the planner scan all of a patient's check-ins for a
    # window it could read in time order (issue 17, bench/history_growth.py).
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="check_ins", db_index=False)
    enrollment = models.ForeignKey(Enrollment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    protocol_version = models.ForeignKey(ProtocolVersion, on_delete=models.PROTECT, related_name="+")
    scheduled_check_in = models.OneToOneField(
        ScheduledCheckIn, null=True, blank=True, on_delete=models.PROTECT, related_name="check_in"
    )
    answers = models.JSONField()
    phase = models.CharField(max_length=12, default="acute")
    taken_at = models.DateTimeField()
    submitted_at = models.DateTimeField(auto_now_add=True)
    channel = models.CharField(max_length=5, choices=Source.choices)
    submitted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    level = models.CharField(max_length=5, choices=Level.choices)
    advice = models.TextField(blank=True)
    # The rules engine's trace: which rule fired, which did not and why (explainable).
    evaluation_trace = models.JSONField(default=list, blank=True)
    # False for an SMS conversation that ended before every question was answered
    # (H16): what was answered is still stored and judged; ``unanswered`` lists the
    # question ids the patient was asked, or would have been, without an answer.
    complete = models.BooleanField(default=True)
    unanswered = models.JSONField(default=list, blank=True)
    # The weight answer as a number (NULL unless it is a JSON number), computed by the
    # database from ``answers`` and indexed with the time, so the history read's 72 h
    # lowest weight and 90-day earliest weight are index-only reads (issue 17).
    answer_weight_kg = models.GeneratedField(
        expression=AnswerNumber("weight_kg"), output_field=models.FloatField(null=True), db_persist=True
    )
    # Likewise the temperature: the 24 h "latest fever" window.
    answer_temperature_c = models.GeneratedField(
        expression=AnswerNumber("temperature_c"), output_field=models.FloatField(null=True), db_persist=True
    )

    class Meta:
        ordering = ["taken_at", "id"]
        # (patient, taken_at, id) first: it serves every read of a patient's check-ins
        # in time order (the former (patient, taken_at) index is dropped), the stored
        # answers last so a window over them never reads a table row to pick its row.
        indexes = [
            models.Index(
                fields=["patient", "taken_at", "id", "answer_weight_kg", "answer_temperature_c"],
                name="checkin_time_answers",
            ),
        ]

    def __str__(self) -> str:
        return f"Check-in {self.pk} ({self.level})"


class Observation(models.Model):
    """A lab result or vital entered by staff, stored in SI units (H15)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="observations")
    code = models.CharField(max_length=40)
    value = models.FloatField()
    unit = models.CharField(max_length=20)
    entered_value = models.FloatField()
    entered_unit = models.CharField(max_length=20)
    observed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    entered_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    # The reference range the laboratory reported with this result, in the SI unit of
    # the code (protocol v2: "upper limit of normal" is the lab's own when it gave one).
    reference_low = models.FloatField(null=True, blank=True)
    reference_high = models.FloatField(null=True, blank=True)
    # Where the result came from (e.g. the hospital's FHIR Observation identifier): a
    # result received twice is stored once.
    source_system = models.CharField(max_length=255, blank=True, default="")
    source_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["observed_at", "id"]
        indexes = [models.Index(fields=["patient", "code", "observed_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "source_system", "source_id"],
                condition=~models.Q(source_id=""),
                name="observation_source_unique_per_patient",
            )
        ]

    def __str__(self) -> str:
        return f"Observation {self.pk} ({self.code})"


class Alert(models.Model):
    class Severity(models.TextChoices):
        RED = "red"
        AMBER = "amber"

    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    class Outcome(models.TextChoices):
        RECALLED = "recalled"
        ADVISED = "advised"
        NO_ACTION = "no_action"
        FALSE_ALARM = "false_alarm"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="alerts")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="alerts")
    rule_id = models.CharField(max_length=64)
    rule_version = models.CharField(max_length=40)
    rule_title = models.CharField(max_length=200)
    severity = models.CharField(max_length=5, choices=Severity.choices)
    action = models.CharField(max_length=24, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    check_in = models.ForeignKey(CheckIn, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts")
    observation = models.ForeignKey(Observation, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts")
    evidence = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Escalation: the database decides what is due. The deadline is committed with the
    # alert; the beat task claims due rows with a conditional update on this pair.
    escalation_level = models.PositiveSmallIntegerField(default=1)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    # The on-call chain frozen when the alert opened (user ids by level), so roster
    # edits mid-incident do not change who is paged next.
    escalation_chain = models.JSONField(default=list, blank=True)
    acknowledged_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    complication_grade = models.CharField(max_length=4, blank=True)
    # Short code for acknowledging by SMS reply ("ACK 4F7K").
    ack_code = models.CharField(max_length=8, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            # One open alert per rule and patient: a repeat finding attaches to it (H7).
            models.UniqueConstraint(
                fields=["patient", "rule_id"],
                condition=Q(status__in=["open", "acknowledged"]),
                name="one_unresolved_alert_per_rule_and_patient",
            ),
            # "ACK 4F7K" by SMS names one alert of the clinic: the database keeps the
            # codes of unresolved alerts apart, so opening one needs no lookup first.
            models.UniqueConstraint(
                fields=["clinic", "ack_code"],
                condition=Q(status__in=["open", "acknowledged"]) & ~Q(ack_code=""),
                name="one_unresolved_alert_per_clinic_and_ack_code",
            ),
        ]
        indexes = [
            models.Index(
                fields=["clinic", "severity", "created_at"],
                name="alert_unresolved_by_clinic",
                condition=Q(status__in=["open", "acknowledged"]),
            ),
            models.Index(fields=["next_escalation_at"], name="alert_escalation_due", condition=Q(status="open")),
        ]

    def __str__(self) -> str:
        return f"Alert {self.pk} ({self.rule_id}, {self.severity}, {self.status})"


class AlertOccurrence(models.Model):
    """A check-in (or lab result) that repeated the finding of an open alert."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="occurrences")
    check_in = models.ForeignKey(CheckIn, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    observation = models.ForeignKey(Observation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    evidence = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Occurrence {self.pk} of alert {self.alert_id}"


class EscalationStep(models.Model):
    """Append-only record of each escalation step: who was paged, when, how."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="escalation_steps")
    level = models.PositiveSmallIntegerField()
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target_phone = models.CharField(max_length=20, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["alert", "level"], name="one_step_per_level")]

    def __str__(self) -> str:
        return f"Escalation of alert {self.alert_id} to level {self.level}"


class WorklistItem(models.Model):
    """The nurses' worklist, kept apart from the clinical alert queue so that silence
    and chatter do not bury findings (H7, H8): no_response after missed check-ins,
    patient_message for free text, nurse_call for amber findings, unreachable when an
    SMS could not be delivered, check_in_burst when a patient's check-ins went past
    their protocol's rate (an app or a patient in a loop)."""

    class Kind(models.TextChoices):
        NO_RESPONSE = "no_response"
        PATIENT_MESSAGE = "patient_message"
        NURSE_CALL = "nurse_call"
        UNREACHABLE = "unreachable"
        CHECK_IN_BURST = "check_in_burst"

    class Status(models.TextChoices):
        OPEN = "open"
        DONE = "done"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="worklist_items")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="worklist_items")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    severity = models.CharField(max_length=5, default="amber")
    status = models.CharField(max_length=4, choices=Status.choices, default=Status.OPEN)
    scheduled_check_in = models.ForeignKey(
        ScheduledCheckIn, null=True, blank=True, on_delete=models.PROTECT, related_name="worklist_items"
    )
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.PROTECT, related_name="worklist_items")
    # Written once, never replaced (H17): a later message from the patient bumps the
    # item (``bumped_at``) and joins the patient's message thread instead. Long enough
    # for a hand-over's list of answers given and questions left unanswered.
    detail = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    bumped_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["clinic", "created_at"], name="worklist_open", condition=Q(status="open"))]

    def __str__(self) -> str:
        return f"Worklist {self.pk} ({self.kind}, {self.status})"


class SmsReplyReading(models.Model):
    """How one patient reply to one SMS question was read: the measure of where a
    question's wording fails in a language (H16; the metrics page and
    ``manage.py sms_replies_report``). ``attempt`` 1 is the first reply to the
    question. No reply text is kept here: the message thread has it."""

    class Outcome(models.TextChoices):
        UNDERSTOOD = "understood"
        REASKED = "reasked"  # not understood: asked once more
        LEFT_UNANSWERED = "left_unanswered"  # not understood twice: moved on
        HANDED_OVER = "handed_over"  # third miss in a row, or the patient asked for a call

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey("notifications.SmsConversation", on_delete=models.PROTECT, related_name="readings")
    language = models.CharField(max_length=2)
    question_id = models.CharField(max_length=64)
    attempt = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["clinic", "created_at"], name="sms_reply_reading_recent")]

    def __str__(self) -> str:
        return f"Reply reading {self.pk} ({self.question_id}: {self.outcome})"


class QuickReply(models.Model):
    """A ready text a nurse can start a reply to a patient from, in one language.

    Clinic data, not a catalogue string: each clinic words its own (Django admin),
    and the reply box offers those in the patient's language. A text may end with
    "…" for the nurse to complete (a time, a place) before sending."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="quick_replies")
    language = models.CharField(max_length=2)
    text = models.CharField(max_length=640)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in the list under the reply box.")

    class Meta:
        ordering = ["clinic", "language", "position", "id"]
        indexes = [models.Index(fields=["clinic", "language"], name="quick_reply_by_language")]

    def __str__(self) -> str:
        return f"Quick reply {self.pk} ({self.language})"


class PushSubscription(models.Model):
    """A browser's Web Push subscription for a patient signed in to the app (issue 18).

    One row per endpoint: a phone that subscribes again (or another patient signing in
    on it) replaces the keys and the owner. A push service answering 404/410 deletes it."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    last_pushed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Push subscription {self.pk}"


class PushReminder(models.Model):
    """One reminder for a patient with a live subscription: pushed once, or texted once
    through the outbox when no push gets through (``followup.services.push``)."""

    class State(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        PUSHED = "pushed"
        SMS = "sms"

    idempotency_key = models.CharField(max_length=200, unique=True)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="push_reminders")
    link = models.CharField(max_length=200)
    # The SMS that goes instead when the push cannot be delivered (written, never sent twice).
    sms_body = models.TextField()
    sms_kind = models.CharField(max_length=32)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Push reminder {self.pk} ({self.state})"
