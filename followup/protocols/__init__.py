"""Protocols as versioned data: questions, texts, schedule and rules (no Django).

A protocol lives in ``data/<slug>/`` as ``protocol.yaml`` (questions with their
wording in every language, the surveillance short form, the schedule template,
advice and SMS texts, SMS keywords, staff labels) and ``rules.yaml`` (compiled by
``followup.rules``). Public API::

    from followup.protocols import (
        load_protocol, load_all, ProtocolLoadError, DEFAULT_DATA_DIR,
        validate_answers, questions_to_ask, generate_plan, PlannedItem,
    )

    protocol = load_protocol(DEFAULT_DATA_DIR / "post-hepatectomy")
    protocol.version, protocol.content_hash          # "2026.1", sha256 hex
    protocol.question("temperature_c").max           # 43.0
    protocol.advice("red", "tr", clinic_phone="+90 ...")
    cleaned, errors = validate_answers(protocol, body["answers"], phase="acute",
                                       drain_at_discharge=False, has_pulse_device=False)
    plan = generate_plan(protocol, discharge_date=..., surgery_date=...,
                         tz="Europe/Istanbul", enrolled_at=now)
"""

from .answers import questions_to_ask, validate_answer, validate_answers
from .definition import (
    AskWhen,
    Choice,
    Keywords,
    LocalizedText,
    ProtocolDefinition,
    Question,
    QuietHours,
    ScheduleEntry,
    ScheduleTemplate,
)
from .loader import DEFAULT_DATA_DIR, ProtocolLoadError, content_hash, load_all, load_protocol
from .schedule import PlannedItem, generate_plan

__all__ = [
    "DEFAULT_DATA_DIR",
    "AskWhen",
    "Choice",
    "Keywords",
    "LocalizedText",
    "PlannedItem",
    "ProtocolDefinition",
    "ProtocolLoadError",
    "Question",
    "QuietHours",
    "ScheduleEntry",
    "ScheduleTemplate",
    "content_hash",
    "generate_plan",
    "load_all",
    "load_protocol",
    "questions_to_ask",
    "validate_answer",
    "validate_answers",
]
