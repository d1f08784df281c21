"""Input and output shapes of the clinic-core API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import phonenumbers
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from backend.models import LANGUAGE_CHOICES, CareTeam, Clinic, Episode, Patient, User, validate_timezone


class E164PhoneField(serializers.CharField):
    """A phone number in E.164 (+ and country code), validated with phonenumbers."""

    default_error_messages = {
        "invalid": "Enter a valid phone number in E.164 format, such as +905301234567.",
    }

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        text = super().to_internal_value(data).strip()
        if not text.startswith("+"):
            self.fail("invalid")
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            self.fail("invalid")
        if not phonenumbers.is_valid_number(number):
            self.fail("invalid")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def to_representation(self, value: object) -> str:
        return str(value) if value else ""


class TimezoneField(serializers.CharField):
    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Enter an IANA time zone name, such as Europe/Istanbul.")
        value = super().to_internal_value(data)
        try:
            validate_timezone(value)
        except Exception as error:
            raise serializers.ValidationError(
                f"'{value}' is not an IANA time zone (such as Europe/Istanbul)."
            ) from error
        return value


# --- strict input fields (API.md: types are strict), the one set every API uses ------------


class StrictIntegerField(serializers.IntegerField):
    """A JSON whole number only: "720", 720.5 and true are errors."""

    def to_internal_value(self, data: object) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("A whole number is required.")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """Text only: a number or a boolean sent for a text field is an error, not "12"."""

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Text is required.")
        return super().to_internal_value(data)


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC. Stored and queried in UTC: PostgreSQL refuses offsets
    beyond ±15:59 that ISO 8601 lets a client write, and a year-1 or year-9999 time
    moved by its offset falls off the calendar (both were 500s, not 400s)."""
    try:
        return value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("out of range") from error


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with its offset: a time without one would be read in the server's
    zone, not the patient's (H14), so it is refused rather than guessed."""

    def to_internal_value(self, value: object) -> datetime:
        message = "Give an ISO 8601 time with its offset, such as 2026-11-23T09:30:00+03:00."
        if not isinstance(value, str):
            raise serializers.ValidationError(message)
        try:
            raw = parse_datetime(value.strip())
        except ValueError as error:
            raise serializers.ValidationError(message) from error
        if raw is not None and raw.tzinfo is None:
            raise serializers.ValidationError(message)
        try:
            return as_utc(super().to_internal_value(value))
        except ValueError as error:
            raise serializers.ValidationError("This time is out of range.") from error


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false: "yes", 1 or "true" are errors (API.md: types are strict)."""

    def to_internal_value(self, data: object) -> bool:
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)
        raise AssertionError  # unreachable


class StrictDecimalField(serializers.DecimalField):
    """A number must be a JSON number, never a string."""

    def to_internal_value(self, data: object):  # type: ignore[no-untyped-def]
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise serializers.ValidationError("A number is required.")
        return super().to_internal_value(data)


class ClinicSerializer(serializers.ModelSerializer):
    phone = E164PhoneField(read_only=True)

    class Meta:
        model = Clinic
        fields = ["id", "name", "phone", "timezone", "languages"]
        read_only_fields = fields


class UserSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "role", "clinic"]
        read_only_fields = fields


class PatientSerializer(serializers.ModelSerializer):
    phone = E164PhoneField()
    language = serializers.ChoiceField(choices=LANGUAGE_CHOICES)
    timezone = TimezoneField()
    sms_consent = StrictBooleanField(required=False)
    care_team = serializers.PrimaryKeyRelatedField(queryset=CareTeam.objects.all(), allow_null=True, required=False)
    # The patient's own quiet hours ("HH:MM" on their clock); both null: the clinic's.
    quiet_hours_start = serializers.TimeField(format="%H:%M", input_formats=["%H:%M"], allow_null=True, required=False)
    quiet_hours_end = serializers.TimeField(format="%H:%M", input_formats=["%H:%M"], allow_null=True, required=False)

    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "given_name",
            "family_name",
            "phone",
            "language",
            "timezone",
            "sms_consent",
            "sms_opted_out_at",
            "clinic",
            "care_team",
            "quiet_hours_start",
            "quiet_hours_end",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "sms_opted_out_at", "clinic", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        clinic_id = getattr(getattr(request, "user", None), "clinic_id", None)
        # Only the caller's own care teams can be chosen; another clinic's is "not found".
        self.fields["care_team"].queryset = CareTeam.objects.filter(clinic_id=clinic_id)

    def validate_mrn(self, value: str) -> str:
        request = self.context["request"]
        clashes = Patient.objects.filter(clinic_id=request.user.clinic_id, mrn=value)
        if self.instance is not None:
            clashes = clashes.exclude(pk=self.instance.pk)
        if clashes.exists():
            raise serializers.ValidationError("A patient with this MRN already exists in this clinic.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Both quiet-hour ends or neither (a half-set pair has no meaning): named
        # field by field, as a partial update sees them against the stored pair.
        hours = {
            name: attrs.get(name, getattr(self.instance, name, None))
            for name in ("quiet_hours_start", "quiet_hours_end")
        }
        if (hours["quiet_hours_start"] is None) != (hours["quiet_hours_end"] is None):
            missing = "quiet_hours_start" if hours["quiet_hours_start"] is None else "quiet_hours_end"
            raise serializers.ValidationError(
                {missing: ["Give both quiet-hour times, or clear both for the clinic's."]}
            )
        return attrs


class EpisodeSerializer(serializers.ModelSerializer):
    baseline_weight_kg = StrictDecimalField(
        max_digits=5,
        decimal_places=1,
        min_value=25,
        max_value=300,
        allow_null=True,
        required=False,
        coerce_to_string=False,
    )
    drain_at_discharge = StrictBooleanField(required=False, default=False)
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.none())
    surgeon = serializers.PrimaryKeyRelatedField(queryset=User.objects.none(), allow_null=True, required=False)

    class Meta:
        model = Episode
        fields = [
            "id",
            "patient",
            "procedure",
            "indication",
            "surgery_date",
            "discharge_date",
            "surgeon",
            "baseline_weight_kg",
            "drain_at_discharge",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        clinic_id = getattr(user, "clinic_id", None)
        self.fields["patient"].queryset = Patient.objects.filter(clinic_id=clinic_id)
        self.fields["surgeon"].queryset = User.objects.filter(clinic_id=clinic_id, role="surgeon")

    def validate(self, attrs: dict) -> dict:
        surgery = attrs.get("surgery_date", getattr(self.instance, "surgery_date", None))
        discharge = attrs.get("discharge_date", getattr(self.instance, "discharge_date", None))
        if surgery and discharge and discharge < surgery:
            raise serializers.ValidationError({"discharge_date": ["Discharge cannot be before surgery."]})
        if self.instance is not None and "patient" in attrs and attrs["patient"] != self.instance.patient:
            raise serializers.ValidationError({"patient": ["An episode cannot be moved to another patient."]})
        return attrs
