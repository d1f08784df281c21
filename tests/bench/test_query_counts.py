"""No N+1 anywhere (issue 9): every list endpoint runs the same number of queries for
one row as for thirty.

Each endpoint's rows are built so that anything read per row would show: every row on
its own patient, with the related objects its serializer names (a nurse who acknowledged
an alert, an escalation step, an occurrence, the user who moved an appointment...).
Endpoints are listed from the URL resolver: one that is not routed is not collected,
so nothing is skipped; adding an endpoint means adding its builder here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import Resolver404, resolve
from django.utils import timezone

from backend.models import Clinic, Patient, Role, User
from followup.models import (
    Alert,
    AlertOccurrence,
    Appointment,
    CheckIn,
    Enrollment,
    EscalationStep,
    ScheduledCheckIn,
    WorklistItem,
)
from followup.services.protocols import protocol_version_current
from tests.factories import EpisodeFactory, LabResultFactory, PatientFactory, UserFactory

FEW, MANY = 1, 30
ANSWERS = {"temperature_c": 38.6, "jaundice": True, "abdominal_pain": 6}


def _enrolled(clinic: Clinic) -> tuple[Patient, Enrollment]:
    patient = PatientFactory(clinic=clinic)
    episode = EpisodeFactory(patient=patient)
    enrollment = Enrollment.objects.create(
        episode=episode, patient=patient, protocol_version=protocol_version_current("post-hepatectomy")
    )
    return patient, enrollment


def _check_in(patient: Patient, enrollment: Enrollment, nurse: User) -> CheckIn:
    return CheckIn.objects.create(
        patient=patient,
        enrollment=enrollment,
        protocol_version=enrollment.protocol_version,
        answers=ANSWERS,
        taken_at=timezone.now() - timedelta(hours=1),
        channel=CheckIn.Source.STAFF,
        submitted_by=nurse,
        level=CheckIn.Level.RED,
        advice="Call the clinic now.",
    )


def _alert(patient: Patient, check_in: CheckIn | None, nurse: User) -> Alert:
    alert = Alert.objects.create(
        patient=patient,
        clinic=patient.clinic,
        rule_id="jaundice_new",
        rule_version="2026.1",
        rule_title="New jaundice",
        severity=Alert.Severity.RED,
        action="recall_now",
        status=Alert.Status.ACKNOWLEDGED,
        check_in=check_in,
        evidence=[{"field": "jaundice", "value": True, "condition": "jaundice is true"}],
        acknowledged_by=nurse,
        acknowledged_at=timezone.now(),
        escalation_chain=[nurse.pk],
    )
    AlertOccurrence.objects.create(alert=alert, check_in=check_in, evidence=alert.evidence)
    EscalationStep.objects.create(alert=alert, level=1, user=nurse, target_phone="+442079460777")
    return alert


# --- builders: make n rows visible to the nurse, return the URL that lists them -------------


def build_patients(n: int, clinic: Clinic, nurse: User) -> str:
    for _ in range(n):
        PatientFactory(clinic=clinic)
    return "/api/v1/patients/"


def build_episodes(n: int, clinic: Clinic, nurse: User) -> str:
    for _ in range(n):
        EpisodeFactory(patient=PatientFactory(clinic=clinic), surgeon=nurse)
    return "/api/v1/episodes/"


def build_enrollments(n: int, clinic: Clinic, nurse: User) -> str:
    for _ in range(n):
        _patient, enrollment = _enrolled(clinic)
        enrollment.enrolled_by = nurse
        enrollment.save(update_fields=["enrolled_by"])
    return "/api/v1/enrollments/"


def build_scheduled_check_ins(n: int, clinic: Clinic, nurse: User) -> str:
    for index in range(n):
        patient, enrollment = _enrolled(clinic)
        scheduled = ScheduledCheckIn.objects.create(
            patient=patient,
            enrollment=enrollment,
            due_at=timezone.now() - timedelta(hours=2),
            status=ScheduledCheckIn.Status.SENT if index % 2 else ScheduledCheckIn.Status.SCHEDULED,
            created_by=nurse,
        )
        if index % 2:
            check_in = _check_in(patient, enrollment, nurse)
            check_in.scheduled_check_in = scheduled
            check_in.save(update_fields=["scheduled_check_in"])
    return "/api/v1/scheduled-check-ins/"


def build_appointments(n: int, clinic: Clinic, nurse: User) -> str:
    for index in range(n):
        patient, enrollment = _enrolled(clinic)
        alert = _alert(patient, None, nurse) if index % 2 else None
        Appointment.objects.create(
            patient=patient,
            enrollment=enrollment,
            kind=Appointment.Kind.RECALL if alert else Appointment.Kind.TELEMEDICINE,
            starts_at=timezone.now() + timedelta(days=1 + index),
            origin_alert=alert,
            created_by=nurse,
            moved_by=nurse,
            video_url="https://video.example.org/room" if alert is None else "",
        )
    return "/api/v1/appointments/"


def build_worklist(n: int, clinic: Clinic, nurse: User) -> str:
    for index in range(n):
        patient, enrollment = _enrolled(clinic)
        scheduled = ScheduledCheckIn.objects.create(
            patient=patient, enrollment=enrollment, due_at=timezone.now() - timedelta(days=1), status="missed"
        )
        WorklistItem.objects.create(
            patient=patient,
            clinic=clinic,
            kind=WorklistItem.Kind.NO_RESPONSE if index % 2 else WorklistItem.Kind.NURSE_CALL,
            scheduled_check_in=scheduled,
            alert=_alert(patient, None, nurse) if not index % 2 else None,
        )
    return "/api/v1/worklist/"


def build_check_ins(n: int, clinic: Clinic, nurse: User) -> str:
    for _ in range(n):
        patient, enrollment = _enrolled(clinic)
        _alert(patient, _check_in(patient, enrollment, nurse), nurse)
    return "/api/v1/check-ins/"


def build_alerts(n: int, clinic: Clinic, nurse: User) -> str:
    for _ in range(n):
        patient, enrollment = _enrolled(clinic)
        _alert(patient, _check_in(patient, enrollment, nurse), nurse)
    return "/api/v1/alerts/"


def build_observations(n: int, clinic: Clinic, nurse: User) -> str:
    for index in range(n):
        patient = PatientFactory(clinic=clinic)
        LabResultFactory(
            patient=patient,
            value=20.0 + index,
            observed_at=timezone.now() - timedelta(hours=index + 1),
            entered_by=nurse,
        )
    return "/api/v1/observations/"


def build_messages(n: int, clinic: Clinic, nurse: User) -> str:
    from notifications.models import InboundMessage, MessageHistoryEntry, OutgoingMessage

    patient = PatientFactory(clinic=clinic)
    for index in range(n):
        if index % 2:
            inbound = InboundMessage.objects.create(
                message_sid=f"SM{patient.pk:08d}{index:024d}",
                from_phone=str(patient.phone),
                to_phone="+15550100000",
                body="38,2",
                clinic=clinic,
                patient=patient,
                handled_as=InboundMessage.HandledAs.ANSWER,
            )
            MessageHistoryEntry.objects.create(patient=patient, direction="inbound", inbound=inbound)
        else:
            outgoing = OutgoingMessage.objects.create(
                clinic=clinic,
                patient=patient,
                to_phone=str(patient.phone),
                body=f"Question {index}",
                display_body=f"Question {index}",
                kind="check_in",
                idempotency_key=f"query-count:{patient.pk}:{index}",
                question_id="temperature_c",
            )
            MessageHistoryEntry.objects.create(patient=patient, direction="outbound", outgoing=outgoing)
    return f"/api/v1/patients/{patient.pk}/messages/"


def build_dashboard(n: int, clinic: Clinic, nurse: User) -> str:
    for index in range(n):
        patient, enrollment = _enrolled(clinic)
        alert = _alert(patient, _check_in(patient, enrollment, nurse), nurse)
        if index % 2:
            alert.status = Alert.Status.OPEN
            alert.acknowledged_by = None
            alert.acknowledged_at = None
            alert.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    return "/dashboard/"


# (name, a path that is routed when the endpoint exists, builder, via the session page)
CANDIDATES: list[tuple[str, str, Callable[[int, Clinic, User], str], bool]] = [
    ("patients", "/api/v1/patients/", build_patients, False),
    ("episodes", "/api/v1/episodes/", build_episodes, False),
    ("enrollments", "/api/v1/enrollments/", build_enrollments, False),
    ("scheduled-check-ins", "/api/v1/scheduled-check-ins/", build_scheduled_check_ins, False),
    ("appointments", "/api/v1/appointments/", build_appointments, False),
    ("worklist", "/api/v1/worklist/", build_worklist, False),
    ("check-ins", "/api/v1/check-ins/", build_check_ins, False),
    ("alerts", "/api/v1/alerts/", build_alerts, False),
    ("observations", "/api/v1/observations/", build_observations, False),
    ("messages", "/api/v1/patients/1/messages/", build_messages, False),
    ("dashboard page", "/dashboard/", build_dashboard, True),
]


def _routed(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


ROUTED = [candidate for candidate in CANDIDATES if _routed(candidate[1])]


def _queries(client: Any, url: str) -> tuple[int, list[str], int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    return len(captured), [query["sql"] for query in captured.captured_queries], response.status_code


@pytest.mark.parametrize(
    ("name", "probe", "build", "signed_in_page"), ROUTED, ids=[candidate[0] for candidate in ROUTED]
)
def test_list_runs_the_same_queries_for_one_row_and_for_thirty(db, name, probe, build, signed_in_page, make_client):
    counts = {}
    for rows in (FEW, MANY):
        # A clinic of its own for each size, so the rows listed are exactly `rows`.
        clinic = Clinic.objects.create(name=f"Query clinic {rows}", phone="+442079460001", languages=["en"])
        nurse = UserFactory(clinic=clinic, role=Role.NURSE)
        url = build(rows, clinic, nurse)
        if signed_in_page:
            client = Client()
            client.force_login(nurse)
        else:
            client = make_client(nurse)
        count, sql, status = _queries(client, url)
        assert status == 200, f"{name}: GET {url} answered {status}"
        counts[rows] = (count, sql)
    few, many = counts[FEW], counts[MANY]
    assert many[0] == few[0], (
        f"{name}: {few[0]} queries for {FEW} row, {many[0]} for {MANY} rows (N+1). "
        f"Queries with {MANY} rows:\n" + "\n".join(many[1])
    )
