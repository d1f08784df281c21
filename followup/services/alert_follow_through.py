"""What red and amber findings set in motion besides their alerts: a recall proposed
for today and texted to the patient at once (red, H2), a nurse's call on the worklist
(amber ``nurse_call_today``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Exists, OuterRef
from django.utils import timezone

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Patient, User
from followup.models import Alert, Appointment, Enrollment, WorklistItem
from followup.services.alerts import AlertChange
from followup.services.appointments import OPEN_APPOINTMENT_STATUSES, appointment_updated_publish
from followup.sms.recalls import phone_shared_with_another, recall_sms_queue, sms_conversation_running


@dataclass(frozen=True)
class RecallFacts:
    """What proposing and texting a recall depend on, read in one query."""

    open_recall: bool  # one proposed, scheduled or confirmed already
    texting: bool  # an SMS check-in is running (the recall SMS waits for its end)
    shared: bool  # the phone is shared (the text says whose it is, H5)


def recall_facts(*, patient: Patient) -> RecallFacts:
    open_recall, texting, shared = (
        Patient.objects.filter(pk=patient.pk)
        .annotate(
            open_recall=Exists(
                Appointment.objects.filter(
                    patient_id=OuterRef("pk"), kind=Appointment.Kind.RECALL, status__in=OPEN_APPOINTMENT_STATUSES
                )
            ),
            texting=sms_conversation_running(),
            shared=phone_shared_with_another(),
        )
        .values_list("open_recall", "texting", "shared")
        .get()
    )
    return RecallFacts(open_recall=open_recall, texting=texting, shared=shared)


@dataclass(frozen=True)
class AlertFollowThrough:
    """What the findings set in motion besides the alerts themselves."""

    recall: Appointment | None
    nurse_calls: list[WorklistItem]


def appointment_recall_propose(
    *,
    patient: Patient,
    enrollment: Enrollment | None,
    alerts: Sequence[Alert],
    actor: User | None,
    audit: AuditContext | None = None,
) -> Appointment | None:
    """Propose a recall for today after red findings, unless the patient already has
    one open (proposed, scheduled or confirmed): a second would only be noise for the
    nurse booking it. The caller holds the patient's row lock, so two red check-ins at
    once cannot both propose. The dashboard hears of the proposal
    (``appointment.updated``), and the patient is texted it at once, quiet hours or
    not (H2; held back only while an SMS check-in is running)."""
    if not alerts:
        return None
    facts = recall_facts(patient=patient)
    if facts.open_recall:
        return None
    titles = ", ".join(alert.rule_title for alert in alerts)
    imaging = any(alert.action == "imaging" for alert in alerts)
    recall = Appointment.objects.create(
        patient=patient,
        enrollment=enrollment,
        kind=Appointment.Kind.RECALL,
        # Today: the nurse books the hour; the proposal is on the list now.
        starts_at=timezone.now(),
        status=Appointment.Status.PROPOSED,
        reason=f"{'Recall for imaging' if imaging else 'Recall'} after red finding: {titles}"[:300],
        detail={"alerts": [alert.pk for alert in alerts], "rules": [alert.rule_id for alert in alerts]},
        origin_alert=alerts[0],
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="appointment",
        objects=[(recall.pk, patient.pk)],
        clinic_id=patient.clinic_id,
        audit=audit,
    )
    appointment_updated_publish(appointment=recall, clinic_id=patient.clinic_id)
    recall_sms_queue(
        appointment=recall,
        patient=patient,
        send_after=None,
        patient_locked=True,
        texting=facts.texting,
        shared=facts.shared,
    )
    return recall


def worklist_nurse_call_ensure(
    *, alert: Alert, actor: User | None, audit: AuditContext | None = None
) -> WorklistItem | None:
    """A nurse call for an amber alert, unless one is still open for it: a repeat
    finding does not queue a second call while the first is not done (H7)."""
    if WorklistItem.objects.filter(
        alert=alert, kind=WorklistItem.Kind.NURSE_CALL, status=WorklistItem.Status.OPEN
    ).exists():
        return None
    item = WorklistItem.objects.create(
        patient_id=alert.patient_id,
        clinic_id=alert.clinic_id,
        kind=WorklistItem.Kind.NURSE_CALL,
        severity=alert.severity,
        alert=alert,
        detail=f"Call the patient today: {alert.rule_title}"[:300],
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="worklist_item",
        objects=[(item.pk, alert.patient_id)],
        clinic_id=alert.clinic_id,
        audit=audit,
    )
    return item


def alert_follow_through(
    *,
    patient: Patient,
    enrollment: Enrollment | None,
    changes: Sequence[AlertChange],
    actor: User | None,
    audit: AuditContext | None = None,
) -> AlertFollowThrough:
    """Red findings propose a recall for today and text it to the patient now, quiet
    hours or not (H2; held back only while an SMS check-in is running, see
    ``followup.sms.recalls``); amber findings whose action is a nurse's call today
    queue one on the nurses' worklist. (Amber lab rules ask for a review or imaging:
    their alert is the work item.) A red finding judged again (a repeat check-in, the
    end of the SMS conversation that raised it) proposes no second recall, so texts no
    second recall SMS. The caller holds the patient's row lock (every path that judges
    rules takes it first), so ``patient`` is read fresh."""
    reds = [change.alert for change in changes if change.alert.severity == Alert.Severity.RED]
    recall = appointment_recall_propose(patient=patient, enrollment=enrollment, alerts=reds, actor=actor, audit=audit)
    calls = []
    for change in changes:
        alert = change.alert
        if alert.severity == Alert.Severity.AMBER and alert.action == "nurse_call_today":
            item = worklist_nurse_call_ensure(alert=alert, actor=actor, audit=audit)
            if item is not None:
                calls.append(item)
    return AlertFollowThrough(recall=recall, nurse_calls=calls)
