"""Check-in answers against a protocol: strict types, inclusive ranges, skip logic.

An answer outside its range or of the wrong JSON type is a typing error, never a
finding: it is rejected with the question named and asked again, and nothing is
stored or judged (hazard H4: 380 for 38.0 must not page a surgeon, and a real
fever must not be lost as "38,5" text).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Literal

from .definition import NUMERIC_TYPES, WHOLE_NUMBER_TYPES, ProtocolDefinition, Question

Phase = Literal["acute", "surveillance"]
AnswerValue = bool | int | float | str

NON_FIELD_ERRORS = "non_field_errors"
REQUIRED = "This answer is required."
UNKNOWN_QUESTION = "Unknown question."
NOT_AN_OBJECT = "Answers must be a JSON object mapping question ids to answers."


def validate_answer(question: Question, value: object) -> tuple[AnswerValue | None, str | None]:
    """One answer: ``(cleaned value, None)`` or ``(None, error message)``.

    Integer and scale answers come back as ``int`` (3.0 counts as 3), number
    answers as ``float``, booleans and choice words unchanged.
    """
    qtype = question.type
    if qtype == "boolean":
        if isinstance(value, bool):
            return value, None
        return None, "Must be true or false."
    if qtype == "choice":
        if isinstance(value, str) and value in question.choice_values:
            return value, None
        return None, f"Must be one of: {', '.join(question.choice_values)}."
    assert qtype in NUMERIC_TYPES, qtype
    # bool is a subclass of int in Python, but true is not a number in JSON.
    if isinstance(value, bool):
        return None, "Must be a number, not true or false."
    if isinstance(value, str):
        return None, "Must be a number, not text."
    if not isinstance(value, (int, float)):
        return None, "Must be a number."
    if not math.isfinite(value):
        return None, "Must be a finite number."
    number: int | float
    if qtype in WHOLE_NUMBER_TYPES:
        if isinstance(value, float) and not value.is_integer():
            return None, "Must be a whole number."
        number = int(value)
    else:
        number = float(value)
    assert question.min is not None and question.max is not None
    if not question.min <= number <= question.max:
        return None, f"Must be between {question.range_text()}."
    return number, None


def _flags(*, drain_at_discharge: bool, has_pulse_device: bool) -> dict[str, bool]:
    return {"drain_at_discharge": drain_at_discharge, "has_pulse_device": has_pulse_device}


def validate_answers(
    protocol: ProtocolDefinition,
    answers: object,
    *,
    phase: Phase,
    drain_at_discharge: bool,
    has_pulse_device: bool,
) -> tuple[dict[str, AnswerValue], dict[str, list[str]]]:
    """Validate a check-in's answers: ``(cleaned answers, errors by question id)``.

    - An unknown question id is an error under that id; a value that is not a
      JSON object is an error under ``non_field_errors``.
    - A question of the phase's form that is asked (its ``ask_when`` holds) and
      ``required`` must be answered; ``null`` counts as not answered.
    - An answer to a protocol question the skip logic (or the phase's form)
      would not have asked is validated, accepted and kept: the rules judge it.

    The caller stores nothing unless ``errors`` is empty. Cleaned answers keep
    the protocol's question order.
    """
    if not isinstance(answers, Mapping):
        return {}, {NON_FIELD_ERRORS: [NOT_AN_OBJECT]}
    form = protocol.phase_questions(phase)
    errors: dict[str, list[str]] = {}
    valid: dict[str, AnswerValue] = {}
    for key, value in answers.items():
        if not isinstance(key, str) or not protocol.has_question(key):
            errors[str(key)] = [UNKNOWN_QUESTION]
            continue
        if value is None:
            continue
        cleaned_value, error = validate_answer(protocol.question(key), value)
        if error is not None:
            errors[key] = [error]
        else:
            assert cleaned_value is not None
            valid[key] = cleaned_value
    flags = _flags(drain_at_discharge=drain_at_discharge, has_pulse_device=has_pulse_device)
    for question in form:
        if not question.required or question.id in valid or question.id in errors:
            continue
        # A condition on an answer that is missing or invalid is unknown: that
        # answer already carries its own error, so do not add a second one.
        asked = question.ask_when.holds(valid, flags) if question.ask_when else True
        if asked:
            errors[question.id] = [REQUIRED]
    cleaned = {q.id: valid[q.id] for q in protocol.questions if q.id in valid}
    order = {q.id: index for index, q in enumerate(protocol.questions)}
    ordered_errors = dict(sorted(errors.items(), key=lambda item: order.get(item[0], len(order))))
    return cleaned, ordered_errors


def questions_to_ask(
    protocol: ProtocolDefinition,
    phase: Phase,
    answers_so_far: Mapping[str, object],
    drain_at_discharge: bool,
    has_pulse_device: bool,
    *,
    skipped: Collection[str] = (),
) -> list[Question]:
    """The questions still to ask in an SMS conversation, in order.

    Skip logic is applied in order: a question is left out when its condition
    does not hold, or cannot be judged yet because the answer it depends on is
    still to come (ask the first question of the list, then call again).
    ``answers_so_far`` holds validated answers; ``skipped`` the ids of optional
    questions given up after a second unreadable reply.
    """
    flags = _flags(drain_at_discharge=drain_at_discharge, has_pulse_device=has_pulse_device)
    remaining: list[Question] = []
    for question in protocol.phase_questions(phase):
        if question.id in answers_so_far or question.id in skipped:
            continue
        if question.ask_when is None or question.ask_when.holds(answers_so_far, flags):
            remaining.append(question)
    return remaining
