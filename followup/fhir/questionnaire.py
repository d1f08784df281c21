"""A protocol version as a FHIR Questionnaire: item types, ranges (minValue/maxValue),
units, choices, skip logic (enableWhen; the per-episode flags as a Vigil extension) and
every wording in each of the protocol's languages (the ``translation`` extension on
``text`` and on each choice's ``display``; the review status per language beside it)."""

from __future__ import annotations

from typing import Any

from followup.fhir import codes
from followup.fhir.validate import fhir_validated
from followup.models import ProtocolVersion
from followup.protocols.definition import AskWhen, ProtocolDefinition, Question

ITEM_TYPES = {"boolean": "boolean", "integer": "integer", "scale": "integer", "number": "decimal", "choice": "choice"}
OPERATORS = {"==": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


def _translations(texts: dict[str, str] | Any, source: str) -> dict[str, Any]:
    """The ``_text``/``_display`` element: every language but the source one."""
    return {
        "extension": [
            {
                "url": codes.TRANSLATION,
                "extension": [{"url": "lang", "valueCode": lang}, {"url": "content", "valueString": text}],
            }
            for lang, text in texts.items()
            if lang != source
        ]
    }


def _bound(question: Question, url: str, value: int | float | None) -> list[dict[str, Any]]:
    if value is None:
        return []
    if question.type == "number":
        return [{"url": url, "valueDecimal": float(value)}]
    return [{"url": url, "valueInteger": int(value)}]


def _enable_when(ask_when: AskWhen, definition: ProtocolDefinition) -> dict[str, Any]:
    assert ask_when.question is not None and ask_when.op is not None
    value = ask_when.value
    earlier = definition.question(ask_when.question)
    if earlier.type == "choice":
        answer = {"answerCoding": {"system": codes.choice_system(definition.slug, earlier.id), "code": value}}
    elif isinstance(value, bool):
        answer = {"answerBoolean": value}
    elif earlier.type == "number":
        answer = {"answerDecimal": float(value)}  # type: ignore[arg-type]
    else:
        answer = {"answerInteger": value}
    return {"question": ask_when.question, "operator": OPERATORS[ask_when.op], **answer}


def _item(question: Question, definition: ProtocolDefinition) -> dict[str, Any]:
    source = definition.default_language
    phases = [phase for phase in ("acute", "surveillance") if question in definition.phase_questions(phase)]
    extension = _bound(question, codes.MIN_VALUE, question.min) + _bound(question, codes.MAX_VALUE, question.max)
    if question.unit:
        unit = codes.ucum_of(question.unit)
        extension.append(
            {
                "url": codes.QUESTIONNAIRE_UNIT,
                "valueCoding": {"system": codes.UCUM, "code": unit, "display": question.unit},
            }
        )
    extension += [{"url": codes.EXT_PHASES, "valueCode": phase} for phase in phases]
    extension += [
        {
            "url": codes.EXT_REVIEW_STATUS,
            "extension": [{"url": "lang", "valueCode": lang}, {"url": "status", "valueCode": status}],
        }
        for lang, status in question.review.items()
    ]
    item: dict[str, Any] = {
        "linkId": question.id,
        "prefix": question.label,
        "text": question.text.get(source, question.label),
        "_text": _translations(dict(question.text), source),
        "type": ITEM_TYPES[question.type],
        "required": question.required,
        "extension": extension,
    }
    if question.choices:
        item["answerOption"] = [
            {
                "valueCoding": {
                    "system": codes.choice_system(definition.slug, question.id),
                    "code": choice.value,
                    "display": choice.labels.get(source, choice.value),
                    "_display": _translations(dict(choice.labels), source),
                }
            }
            for choice in question.choices
        ]
    if question.ask_when is not None:
        if question.ask_when.flag is not None:
            item["extension"].append({"url": codes.EXT_ASK_WHEN_FLAG, "valueCode": question.ask_when.flag})
        else:
            item["enableWhen"] = [_enable_when(question.ask_when, definition)]
    return item


def questionnaire_resource(version: ProtocolVersion, definition: ProtocolDefinition) -> dict[str, Any]:
    return fhir_validated(
        {
            "resourceType": "Questionnaire",
            "id": str(version.pk),
            "url": codes.protocol_url(definition.slug),
            "version": definition.version,
            "name": definition.slug.replace("-", "_"),
            "title": definition.title,
            "status": "active" if version.is_current else "retired",
            "subjectType": ["Patient"],
            "language": definition.default_language,
            "date": version.published_at.isoformat(timespec="seconds"),
            "item": [_item(question, definition) for question in definition.questions],
        }
    )
