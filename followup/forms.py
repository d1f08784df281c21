"""Forms of the staff pages and of the patient's web check-in.

Times on staff forms are typed on the patient's wall clock (the label names the
zone) and turned into aware datetimes here; a local time that does not exist or is
ambiguous on a clock-change day is refused rather than guessed (H10, H14).
Every staff form carries the patient's id in a hidden field, checked against the page
it was posted to, so a form left open in another tab cannot land on the wrong patient
(H5).
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from backend.models import Episode
from followup.models import Appointment, Channel
from followup.protocols import ProtocolDefinition, Question

CHANNEL_CHOICES = [(Channel.SMS, "SMS"), (Channel.APP, _("App"))]

# --- local times ------------------------------------------------------------------------------------


def aware_from_local(value: datetime, tz: str) -> datetime:
    """The wall-clock time ``value`` in zone ``tz``, as an aware datetime.

    On the night the clocks go back an hour repeats, and when they go forward an
    hour is skipped; both are refused with a message that says why."""
    zone = zoneinfo.ZoneInfo(tz)
    naive = value.replace(tzinfo=None)
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if round_trip != naive:
            raise ValidationError(
                _("%(time)s does not exist in %(zone)s: the clocks change that night."),
                params={"time": naive.strftime("%H:%M"), "zone": tz},
            )
        raise ValidationError(
            _("%(time)s happens twice in %(zone)s that night (clock change): choose another time."),
            params={"time": naive.strftime("%H:%M"), "zone": tz},
        )
    return first


class LocalDateTimeField(forms.DateTimeField):
    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]

    def to_python(self, value: Any) -> datetime | None:
        # Parse as a naive wall-clock time: the form puts it in the patient's zone.
        if value in self.empty_values:
            return None
        for pattern in self.input_formats:
            try:
                return datetime.strptime(str(value).strip(), pattern)
            except ValueError:
                continue
        raise ValidationError(self.error_messages["invalid"], code="invalid")


class PatientForm(forms.Form):
    """A staff form about one patient, shown in that patient's local time."""

    patient = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, tz: str, patient_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tz = tz
        self.patient_id = patient_id
        self.fields["patient"].initial = patient_id
        for field in self.fields.values():
            if isinstance(field, LocalDateTimeField):
                field.help_text = _("Local time of the patient (%(zone)s).") % {"zone": tz}

    def clean_patient(self) -> int:
        value = self.cleaned_data["patient"]
        if value != self.patient_id:
            raise ValidationError(_("This form belongs to another patient's page. Reload the page and try again."))
        return value

    def _local(self, name: str) -> datetime | None:
        value = self.cleaned_data.get(name)
        if value is None:
            return None
        try:
            return aware_from_local(value, self.tz)
        except ValidationError as error:
            self.add_error(name, error)
            return None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name, field in self.fields.items():
            if isinstance(field, LocalDateTimeField) and cleaned.get(name) is not None:
                cleaned[name] = self._local(name)
        return cleaned


class CheckInAddForm(PatientForm):
    due_at = LocalDateTimeField(label=_("Due"))
    window_hours = forms.IntegerField(label=_("Window (hours)"), min_value=1, max_value=14 * 24, initial=12)
    channel = forms.ChoiceField(label=_("Channel"), choices=CHANNEL_CHOICES, initial=Channel.SMS)


class CheckInMoveForm(PatientForm):
    due_at = LocalDateTimeField(label=_("New time"))


class AppointmentAddForm(PatientForm):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            (Appointment.Kind.CLINIC_VISIT, _("Clinic visit")),
            (Appointment.Kind.TELEMEDICINE, _("Telemedicine visit")),
            (Appointment.Kind.LAB, _("Lab tests")),
            (Appointment.Kind.IMAGING, _("Imaging")),
            (Appointment.Kind.RECALL, _("Recall")),
        ],
    )
    starts_at = LocalDateTimeField(label=_("Starts"))
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)
    video_url = forms.URLField(label=_("Video link"), required=False, assume_scheme="https")


class AppointmentMoveForm(PatientForm):
    starts_at = LocalDateTimeField(label=_("New time"))


class PatientActionForm(PatientForm):
    """Cancel, send now, done: no field but the patient guard."""


class EnrollForm(PatientForm):
    episode = forms.ModelChoiceField(label=_("Episode"), queryset=Episode.objects.none())
    has_pulse_device = forms.BooleanField(label=_("Has a pulse oximeter or watch"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=CHANNEL_CHOICES, initial=Channel.SMS)

    def __init__(self, *args: Any, episodes: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["episode"].queryset = episodes
        self.fields["episode"].label_from_instance = lambda episode: (
            f"{episode.procedure} · {_('discharged')} {episode.discharge_date:%d.%m.%Y}"
        )


class WorklistDoneForm(forms.Form):
    """Closing a worklist item from the day view: the item's patient is echoed back."""

    patient = forms.IntegerField(widget=forms.HiddenInput)


# --- the patient's web check-in ---------------------------------------------------------------------

YES, NO = "yes", "no"
_NUMBER = re.compile(r"^\s*([+-]?\d+(?:[.,]\d+)?)\s*(?:°\s*)?[a-zA-Zа-яА-Я°/%]*\s*$")


def parse_number(text: str) -> float | int:
    """A number as a patient types it on a phone: decimal comma or point, maybe a unit
    ("38,6", "38.6 C", "80 kg"). Anything else is an error, never a guess (H4)."""
    match = _NUMBER.match(text)
    if match is None:
        raise ValueError(text)
    raw = match.group(1).replace(",", ".")
    return float(raw) if "." in raw else int(raw)


class CheckInAnswersForm:
    """The answers of a web check-in, read from the posted form into the strict JSON
    types the check-in service validates (numbers as numbers, yes/no as booleans).

    Only reading happens here (a number that is not a number, a choice that is not
    one); ranges, required answers and skip logic are judged by ``checkin_submit``
    against the protocol, the one place that does it for every channel. ``errors``
    names the questions to ask again (with the reason, for logs and tests); what the
    patient reads comes from ``patient_error_text``, in their language."""

    def __init__(self, *, questions: list[Question], data: Any | None = None) -> None:
        self.questions = questions
        self.data = data
        self.answers: dict[str, Any] = {}
        self.errors: dict[str, list[str]] = {}

    def raw(self, question_id: str) -> str:
        if self.data is None:
            return ""
        return str(self.data.get(question_id, "")).strip()

    def is_valid(self) -> bool:
        for question in self.questions:
            text = self.raw(question.id)
            if not text:
                continue
            if question.type == "boolean":
                if text not in (YES, NO):
                    self.errors[question.id] = ["not yes or no"]
                    continue
                self.answers[question.id] = text == YES
            elif question.type == "choice":
                if text not in question.choice_values:
                    self.errors[question.id] = ["not a choice"]
                    continue
                self.answers[question.id] = text
            else:
                try:
                    self.answers[question.id] = parse_number(text)
                except ValueError:
                    self.errors[question.id] = ["not a number"]
        return not self.errors

    def add_errors(self, errors: dict[str, list[str]]) -> None:
        for question_id, messages in errors.items():
            self.errors.setdefault(question_id, []).extend(str(message) for message in messages)


def display_unit(question: Question) -> str | None:
    """Symbols (°C, kg, mL) read the same in every language; a unit in English words
    ("episodes", "days") is left to the question's own text, which is translated."""
    return question.unit if question.unit and len(question.unit) <= 3 else None


def patient_error_text(question: Question, raw: str) -> str:
    """What to tell the patient, in their language, about an answer the check-in
    refused. The validation's own messages are written for the API (English, exact);
    the patient gets a plain sentence chosen by the question's type, with its range."""
    if not raw:
        return str(_("Please answer this question."))
    if question.type == "boolean":
        return str(_("Choose yes or no."))
    if question.type == "choice":
        return str(_("Choose one of the answers."))
    unit = f" {display_unit(question)}" if display_unit(question) else ""
    values = {"min": f"{question.min}", "max": f"{question.max}{unit}"}
    if question.type in ("integer", "scale"):
        return str(_("Enter a whole number from %(min)s to %(max)s.") % values)
    return str(_("Enter a number from %(min)s to %(max)s, for example 37.5.") % values)


def question_views(
    *, protocol: ProtocolDefinition, questions: list[Question], language: str, form: CheckInAnswersForm
) -> list[dict[str, Any]]:
    """What the template needs per question, in the patient's language."""
    default = protocol.default_language
    views = []
    for question in questions:
        ask_when = question.ask_when
        views.append(
            {
                "id": question.id,
                "type": question.type,
                "text": question.text.get(language) or question.text[default],
                "unit": display_unit(question),
                "min": question.min,
                "max": question.max,
                "required": question.required,
                "choices": [
                    {"value": choice.value, "label": choice.labels.get(language) or choice.labels[default]}
                    for choice in question.choices
                ],
                "value": form.raw(question.id),
                "errors": [patient_error_text(question, form.raw(question.id))] if question.id in form.errors else [],
                # Skip logic on an earlier answer ("fluids kept down" after vomiting):
                # the page's script hides the question until the answer asks for it.
                "ask_question": ask_when.question if ask_when is not None and ask_when.question else None,
                "ask_op": ask_when.op if ask_when is not None else None,
                "ask_value": ask_when.value if ask_when is not None else None,
                "review": question.review.get(language, "draft"),
            }
        )
    return views
