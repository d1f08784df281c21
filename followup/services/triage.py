"""What the patient is told after a check-in: the protocol's advice text for the level,
in the patient's language, with the clinic's phone number (H2).

The texts are the protocol's (reviewed per language, H6); this module only fills in
the clinic's number and, for green, when the next check-in is."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import phonenumbers

from backend.models import Clinic, Patient
from followup.protocols import ProtocolDefinition

# Green advice names the next check-in; when none is planned the sentence still has to
# read naturally in each language.
NO_CHECK_IN_PLANNED = {
    "en": "the clinic will let you know",
    "tr": "klinik size bildirecek",
    "de": "die Klinik teilt es Ihnen mit",
    "ru": "клиника сообщит вам",
    "uk": "клініка повідомить вам",
    "az": "klinika sizə xəbər verəcək",
}


def clinic_phone_display(*, clinic: Clinic) -> str:
    """The clinic's number in international format (+90 212 555 01 23): easier to dial
    from a message than the bare E.164 string."""
    raw = str(clinic.phone)
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return raw
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def next_check_in_text(*, patient: Patient, due_at: datetime | None) -> str:
    if due_at is None:
        return NO_CHECK_IN_PLANNED.get(patient.language, NO_CHECK_IN_PLANNED["en"])
    local = due_at.astimezone(zoneinfo.ZoneInfo(patient.timezone))
    # Day.month.year and 24-hour time read unambiguously in all six languages.
    return local.strftime("%d.%m.%Y %H:%M")


def triage_advice(
    *,
    definition: ProtocolDefinition,
    level: str,
    patient: Patient,
    next_check_in_at: datetime | None = None,
) -> str:
    """The advice for ``level`` in the patient's language (the protocol's first
    language when it lacks the patient's), filled in. Red and amber carry the clinic's
    phone number; green names the next check-in."""
    if level == "green":
        return definition.advice(
            "green", patient.language, next_check_in=next_check_in_text(patient=patient, due_at=next_check_in_at)
        )
    return definition.advice(level, patient.language, clinic_phone=clinic_phone_display(clinic=patient.clinic))
