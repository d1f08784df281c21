"""The readable half of a patient's export: the context of ``summary.html``, in the
patient's language (the caller renders it under ``translation.override``). Questions,
answers and rule titles are the protocol's own texts in that language; the rest comes
from the gettext catalogues."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backend.models import Patient
from followup.models import Alert, ProtocolVersion
from followup.protocols.definition import ProtocolDefinition, Question
from followup.rule_titles import alert_rule_title
from followup.services.protocols import protocol_definition

APPOINTMENT_KINDS = {
    "clinic_visit": gettext_lazy("Clinic visit"),
    "telemedicine": gettext_lazy("Video consultation"),
    "lab": gettext_lazy("Blood test"),
    "imaging": gettext_lazy("Imaging"),
    "recall": gettext_lazy("Recall to the clinic"),
}
LEVELS = {"red": gettext_lazy("red"), "amber": gettext_lazy("amber"), "green": gettext_lazy("green")}


def _answer_text(question: Question, value: Any, language: str) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    for choice in question.choices:
        if choice.value == value:
            return choice.labels.get(language) or choice.labels.get("en") or str(value)
    unit = f" {question.unit}" if question.unit else ""
    return f"{value}{unit}"


def _answers(definition: ProtocolDefinition | None, answers: dict[str, Any], language: str) -> list[tuple[str, str]]:
    lines = []
    for question_id, value in answers.items():
        if definition is None or not definition.has_question(question_id):
            lines.append((question_id, str(value)))
            continue
        question = definition.question(question_id)
        asked = question.text.get(language) or question.text.get("en") or question.label
        lines.append((asked, _answer_text(question, value, language)))
    return lines


def _definitions(version_ids: set[int]) -> dict[int, ProtocolDefinition]:
    versions = ProtocolVersion.objects.select_related("protocol").filter(pk__in=version_ids)
    return {version.pk: protocol_definition(version) for version in versions}


def _check_ins(data: dict[str, Any], language: str) -> list[dict[str, Any]]:
    definitions = _definitions({row["protocol_version_id"] for row in data["check_ins"]})
    return [
        {
            "taken_at": row["taken_at"],
            "level": LEVELS.get(row["level"], row["level"]),
            "answers": _answers(definitions.get(row["protocol_version_id"]), row["answers"] or {}, language),
        }
        for row in data["check_ins"]
    ]


def _alerts(patient: Patient, data: dict[str, Any], language: str) -> list[dict[str, Any]]:
    occurrences: dict[int, int] = {}
    for row in data["alert_occurrences"]:
        occurrences[row["alert_id"]] = occurrences.get(row["alert_id"], 0) + 1
    alerts = Alert.objects.filter(patient_id=patient.pk).order_by("pk")
    return [
        {
            "created_at": alert.created_at,
            "severity": LEVELS.get(alert.severity, alert.severity),
            "title": alert_rule_title(alert=alert, language=language),
            "status": alert.status,
            "occurrences": occurrences.get(alert.pk, 0),
        }
        for alert in alerts
    ]


def _thread(data: dict[str, Any]) -> list[dict[str, Any]]:
    outgoing = {row["id"]: row for row in data["sms_outgoing"]}
    inbound = {row["id"]: row for row in data["sms_inbound"]}
    lines = []
    for entry in data["message_thread"]:
        if entry["outgoing_id"] in outgoing:
            lines.append(
                {"at": entry["created_at"], "incoming": False, "body": outgoing[entry["outgoing_id"]]["display_body"]}
            )
        elif entry["inbound_id"] in inbound:
            lines.append({"at": entry["created_at"], "incoming": True, "body": inbound[entry["inbound_id"]]["body"]})
    return lines


def summary_context(*, patient: Patient, data: dict[str, Any]) -> dict[str, Any]:
    language = patient.language
    return {
        "patient": patient,
        "data": data,
        "check_ins": _check_ins(data, language),
        "alerts": _alerts(patient, data, language),
        "appointments": [
            {**row, "kind_label": APPOINTMENT_KINDS.get(row["kind"], row["kind"])} for row in data["appointments"]
        ],
        "thread": _thread(data),
    }
