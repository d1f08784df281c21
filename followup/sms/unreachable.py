"""What staff see when an SMS to a patient cannot be delivered (H11).

One place for both ways a failure is learnt: Twilio refusing the message when we send
it (21211, 21610, 21614, retries exhausted) and a status callback saying
``undelivered`` / ``failed`` later.

- Every patient message that failed puts the patient on the nurses' worklist as
  ``unreachable`` (one open item per patient, however many messages failed: H7).
- A recall or red advice that failed also raises an amber staff alert, rule
  ``sms_unreachable``, "patient could not be reached by SMS": the patient has not
  been told to come in or to call, so someone must phone them.
- Twilio error 21610 means the patient texted STOP to the carrier: they are opted
  out here too, so nothing more is attempted and the dashboard shows it.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from backend.audit import audit_record
from backend.models import AuditAction, Patient
from followup.models import Enrollment, ProtocolVersion, WorklistItem
from followup.rules import Evidence, Finding
from followup.services.alerts import alert_record_finding
from followup.services.protocols import protocol_version_current
from notifications.models import MessageKind, OutgoingMessage

logger = logging.getLogger(__name__)

RULE_ID = "sms_unreachable"
RULE_TITLE = "Patient could not be reached by SMS"
DEFAULT_PROTOCOL = "post-hepatectomy"
UNSUBSCRIBED_CODE = 21610
# The worklist item's text, stored in English (H17); the staff pages say it again in the
# reader's language (followup.dashboard.worklist_texts). The reason is Twilio's verdict.
UNREACHABLE_DETAIL = gettext_noop("SMS could not be delivered: %(reason)s")

_KIND_WORDS = {
    MessageKind.RECALL: "recall",
    MessageKind.ADVICE: "red advice",
}


def _protocol_version(patient: Patient) -> ProtocolVersion:
    """The version named on the alert: the patient's enrollment's, else the current one."""
    enrollment = (
        Enrollment.objects.filter(patient=patient, status=Enrollment.Status.ACTIVE)
        .select_related("protocol_version")
        .order_by("-id")
        .first()
    )
    if enrollment is not None:
        return enrollment.protocol_version
    current = ProtocolVersion.objects.filter(is_current=True, protocol__slug=DEFAULT_PROTOCOL).first()
    return current if current is not None else protocol_version_current(DEFAULT_PROTOCOL)


def message_undeliverable_record(*, message: OutgoingMessage, code: int | None, reason: str) -> None:
    """Record, where staff look, that ``message`` will not reach its patient.

    Called once per message, by whoever moved it to ``failed`` / ``undelivered``
    with a conditional update (so never twice for one message). ``reason`` is free of
    PHI (a Twilio verdict)."""
    if message.patient_id is None:
        # A staff page: its status shows on the message, and the escalation auditor
        # watches undelivered pages; there is no patient to phone.
        return
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=message.patient_id)
        if code == UNSUBSCRIBED_CODE and patient.sms_opted_out_at is None:
            patient.sms_opted_out_at = timezone.now()
            patient.save(update_fields=["sms_opted_out_at", "updated_at"])
            audit_record(
                actor=None,
                action=AuditAction.UPDATE,
                object_type="patient_sms_opt_out",
                objects=[(patient.pk, patient.pk)],
                clinic_id=patient.clinic_id,
            )

        alert = None
        if message.reach_alert:
            what = _KIND_WORDS.get(MessageKind(message.kind), "message")
            finding = Finding(
                rule_id=RULE_ID,
                rule_version="sms",
                title=RULE_TITLE,
                severity="amber",
                action="phone_patient",
                advice="amber",
                evidence=(
                    Evidence(
                        field="sms",
                        value=message.kind,
                        condition=f"{what} SMS {message.pk} not delivered: {reason}"[:300],
                    ),
                ),
            )
            alert = alert_record_finding(
                patient=patient, protocol_version=_protocol_version(patient), finding=finding
            ).alert

        item = (
            WorklistItem.objects.filter(
                patient=patient, kind=WorklistItem.Kind.UNREACHABLE, status=WorklistItem.Status.OPEN
            )
            .order_by("id")
            .first()
        )
        if item is None:
            item = WorklistItem.objects.create(
                patient=patient,
                clinic_id=patient.clinic_id,
                kind=WorklistItem.Kind.UNREACHABLE,
                severity="amber",
                alert=alert,
                detail=(UNREACHABLE_DETAIL % {"reason": reason})[:300],
            )
            audit_record(
                actor=None,
                action=AuditAction.CREATE,
                object_type="worklist_item",
                objects=[(item.pk, patient.pk)],
                clinic_id=patient.clinic_id,
            )
        elif alert is not None and item.alert_id is None:
            item.alert = alert
            item.save(update_fields=["alert"])
    logger.warning("sms %s undeliverable (code %s): patient %s on the worklist", message.pk, code, message.patient_id)
