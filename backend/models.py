"""The clinic core: staff and their roles, clinics, care teams, on-call rosters,
patients, surgical episodes, one-time enrollment codes and the audit log."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

LANGUAGE_CHOICES = [
    ("en", "English"),
    ("tr", "Türkçe"),
    ("de", "Deutsch"),
    ("ru", "Русский"),
    ("uk", "Українська"),
    ("az", "Azərbaycanca"),
]
LANGUAGE_CODES = frozenset(code for code, _label in LANGUAGE_CHOICES)


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("'%(value)s' is not an IANA time zone (such as Europe/Istanbul)."),
            params={"value": value},
        )


def validate_languages(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(_("Give a non-empty list of language codes."))
    unknown = [code for code in value if code not in LANGUAGE_CODES]
    if unknown:
        raise ValidationError(_("Unknown language code(s): %(codes)s."), params={"codes": ", ".join(map(str, unknown))})


class Role(models.TextChoices):
    SURGEON = "surgeon", _("Surgeon")
    NURSE = "nurse", _("Nurse")
    COORDINATOR = "coordinator", _("Coordinator")
    ADMIN = "admin", _("Administrator")
    # A ward screen: watches the live dashboard, changes nothing, and is exempt from the
    # idle sign-out (backend.session_guard).
    WALL_DISPLAY = "wall_display", _("Wall display")
    # A patient signs in with a one-time code only; the user row exists so that one
    # token scheme serves both kinds of principal.
    PATIENT = "patient", _("Patient")
    # A hospital system's service account, one per clinic: it posts lab results and
    # enrolments to /fhir/Bundle for its clinic and reads nothing (IsClinicIntegration).
    INTEGRATION = "integration", _("Hospital system")


STAFF_ROLES = frozenset({Role.SURGEON, Role.NURSE, Role.COORDINATOR, Role.ADMIN, Role.WALL_DISPLAY})


class Clinic(models.Model):
    name = models.CharField(max_length=200)
    phone = PhoneNumberField(help_text=_("The number patients are told to call (E.164)."))
    # The last resort of an escalation when the on-call chain has nobody left (H9).
    fallback_phone = PhoneNumberField(blank=True)
    timezone = models.CharField(max_length=64, default="Europe/Istanbul", validators=[validate_timezone])
    languages = models.JSONField(default=list, validators=[validate_languages])
    # The language of the staff pages and staff SMS for a member who has not chosen one.
    default_language = models.CharField(max_length=2, choices=LANGUAGE_CHOICES, default="en")
    quiet_hours_start = models.TimeField(default="21:00")
    quiet_hours_end = models.TimeField(default="08:00")
    red_escalation_minutes = models.PositiveIntegerField(default=10)
    amber_escalation_minutes = models.PositiveIntegerField(default=240)
    # Staff pages sign out after this long without a request (a wall display is exempt).
    idle_timeout_minutes = models.PositiveIntegerField(
        _("idle sign-out (minutes)"), default=30, validators=[MinValueValidator(1), MaxValueValidator(720)]
    )
    # The FHIR identifier system of this clinic's medical record numbers (the
    # hospital's own URI): a Bundle posted to /fhir/ names patients by it. Empty: the
    # clinic's numbers are known as ``urn:vigil:clinic:<id>:mrn``.
    mrn_system = models.CharField(_("MRN identifier system"), max_length=255, blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.NURSE)
    clinic = models.ForeignKey(Clinic, null=True, blank=True, on_delete=models.PROTECT, related_name="staff")
    phone = PhoneNumberField(blank=True, help_text=_("Where on-call pages are sent."))
    # Pages and every SMS to this person; empty follows the clinic's default language
    # (see staff_language). A patient's language lives on Patient, not here.
    language = models.CharField(_("language"), max_length=2, choices=LANGUAGE_CHOICES, blank=True, default="")

    class Meta(AbstractUser.Meta):
        constraints = [
            # A wall display acknowledges nothing, and an SMS "ACK" from a phone matched
            # to staff would: such an account has no phone.
            models.CheckConstraint(condition=~Q(role="wall_display") | Q(phone=""), name="wall_display_has_no_phone"),
        ]

    @property
    def is_wall_display(self) -> bool:
        return self.role == Role.WALL_DISPLAY

    @property
    def is_patient(self) -> bool:
        return self.role == Role.PATIENT

    @property
    def is_clinic_integration(self) -> bool:
        return self.role == Role.INTEGRATION and self.clinic_id is not None and self.is_active

    @property
    def is_clinic_staff(self) -> bool:
        return self.role in STAFF_ROLES and self.clinic_id is not None and self.is_active


class CareTeam(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="care_teams")
    name = models.CharField(max_length=200)
    members = models.ManyToManyField(User, blank=True, related_name="care_teams")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="care_team_name_unique")]

    def __str__(self) -> str:
        return self.name


class OnCallShift(models.Model):
    """Who is first, second or third in a care team's escalation chain for a period."""

    care_team = models.ForeignKey(CareTeam, on_delete=models.CASCADE, related_name="on_call_shifts")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="on_call_shifts")
    level = models.PositiveSmallIntegerField(help_text=_("1 is paged first."))
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["care_team", "starts_at", "level"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start"),
            models.CheckConstraint(condition=Q(level__gte=1), name="shift_level_positive"),
        ]
        indexes = [models.Index(fields=["care_team", "starts_at", "ends_at"])]

    def __str__(self) -> str:
        return f"On call level {self.level}: user {self.user_id} from {self.starts_at:%Y-%m-%d %H:%M}"


class Patient(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    care_team = models.ForeignKey(CareTeam, null=True, blank=True, on_delete=models.SET_NULL, related_name="patients")
    user = models.OneToOneField(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="patient")
    mrn = models.CharField(_("medical record number"), max_length=64)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    phone = PhoneNumberField()
    language = models.CharField(max_length=2, choices=LANGUAGE_CHOICES, default="en")
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    sms_consent = models.BooleanField(default=False)
    sms_opted_out_at = models.DateTimeField(null=True, blank=True)
    # The patient's own quiet hours on their clock (a night-shift worker sleeps by
    # day); both empty follow the clinic's (followup.services.quiet_hours).
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    # Data rights (followup.data_rights): when the patient withdrew consent to the
    # processing, when the nightly review found them past their retention date (on the
    # admin's list to confirm), and when an admin erased their identity.
    consent_withdrawn_at = models.DateTimeField(null=True, blank=True)
    erasure_due_since = models.DateField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "mrn"], name="patient_mrn_unique_per_clinic"),
            models.CheckConstraint(
                condition=Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False),
                name="patient_quiet_hours_both_or_neither",
            ),
        ]
        indexes = [models.Index(fields=["phone"])]

    def __str__(self) -> str:
        # Initials and the MRN's end only: this string can reach logs and staff SMS.
        return f"Patient {self.pk} ({self.initials}, …{self.mrn[-3:]})"

    @property
    def initials(self) -> str:
        return f"{self.given_name[:1]}{self.family_name[:1]}".upper()


class Episode(models.Model):
    """A surgical episode: the operation and the discharge the follow-up counts from."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="episodes")
    procedure = models.CharField(max_length=200)
    indication = models.CharField(max_length=200, blank=True)
    surgery_date = models.DateField()
    discharge_date = models.DateField()
    surgeon = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="episodes")
    baseline_weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    drain_at_discharge = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(discharge_date__gte=models.F("surgery_date")), name="discharge_not_before_surgery"
            ),
            models.CheckConstraint(
                condition=Q(baseline_weight_kg__isnull=True)
                | Q(baseline_weight_kg__gte=25, baseline_weight_kg__lte=300),
                name="baseline_weight_plausible",
            ),
        ]

    def __str__(self) -> str:
        return f"Episode {self.pk}: {self.procedure} (patient {self.patient_id})"


class EnrollmentCode(models.Model):
    """A one-time code sent by SMS that a patient exchanges for a token.

    Only a hash is stored; the code works once, expires, and dies after a few wrong
    guesses."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="enrollment_codes")
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["patient", "-created_at"])]

    def __str__(self) -> str:
        return f"Enrollment code {self.pk} (patient {self.patient_id})"


class AuditAction(models.TextChoices):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    LOGIN = "login"


class AuditRecord(models.Model):
    """Append-only: who read or changed which patient's data, when, from where.

    The database itself refuses UPDATE and DELETE on this table (a trigger installed by
    migration 0002), so not even a bug or an admin can rewrite history. Ids are plain
    integers, not foreign keys, for the same reason: nothing may cascade into it."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_user_id = models.BigIntegerField(null=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=16, blank=True)
    action = models.CharField(max_length=8, choices=AuditAction.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.BigIntegerField(null=True, db_index=True)
    clinic_id = models.BigIntegerField(null=True)
    ip_address = models.GenericIPAddressField(null=True)
    method = models.CharField(max_length=8, blank=True)
    path = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None:
            raise ValidationError("Audit records are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValidationError("Audit records are append-only.")


class SignedInSession(models.Model):
    """A staff member's signed-in browser session, so that they can list and end their
    own (``backend.sessions``). The session itself lives in Django's session store;
    this row names it, with where and when it was opened and last used."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="signed_in_sessions")
    session_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"Session {self.pk} of user {self.user_id}"


class StaffEnrolmentCode(models.Model):
    """The one-time code a clinic admin gives a member of staff to set up their
    authenticator app (a first sign-in, or after a reset): the password alone does not
    enrol (``backend.enrolment_codes``). One live code per member; only its digest is
    kept; used up by the enrolment it allowed."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Enrolment code of user {self.user_id}"


class IdempotencyRecord(models.Model):
    """The first response to a write sent with an Idempotency-Key, kept so that a
    retried request gets the same answer (and the same id) instead of a second write."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=300)
    key = models.CharField(max_length=200)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "path", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return f"Idempotency key for user {self.user_id} on {self.path}"
