"""Alerts API (API.md, "Clinic core"): list, detail, acknowledge, resolve, metrics.
Staff only (a patient token is a 403); another clinic's alert is a 404 (H12).

Acknowledging is idempotent whoever repeats it: an alert already acknowledged is
returned unchanged (200) with ``acknowledged_by`` naming who took it first, so two
clinicians pressing the button at once both see who owns it; a resolved alert is a
409. Resolving a resolved alert is a 409 too (its outcome is measured: it is not
rewritten by a second click), unless the same request is retried with its
Idempotency-Key."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.audit import AuditContext, audit_record
from backend.filters import id_parameter, id_query_param
from backend.idempotency import idempotent
from backend.models import AuditAction
from backend.permissions import IsClinicStaff
from followup.models import Alert
from followup.selectors import alert_list, alert_list_with_detail
from followup.services.alert_metrics import alert_metrics
from followup.services.alert_review import alert_acknowledge, alert_resolve
from followup.services.alerts import COMPLICATION_GRADES, OUTCOMES, AlertConflict, AlertRejected, alert_data


class EvidenceSerializer(serializers.Serializer):
    field = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    condition = serializers.CharField()


class OccurrenceSerializer(serializers.Serializer):
    check_in = serializers.IntegerField(allow_null=True)
    observation = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    evidence = EvidenceSerializer(many=True)


class EscalationStepSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    user = serializers.IntegerField(allow_null=True)
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class AlertOutputSerializer(serializers.Serializer):
    """Documents ``followup.services.alerts.alert_data`` (the shape events carry too)."""

    id = serializers.IntegerField()
    patient = serializers.IntegerField()
    severity = serializers.ChoiceField(choices=Alert.Severity.choices)
    status = serializers.ChoiceField(choices=Alert.Status.choices)
    rule = inline_serializer(
        "AlertRule",
        fields={"id": serializers.CharField(), "version": serializers.CharField(), "title": serializers.CharField()},
    )
    action = serializers.CharField()
    evidence = EvidenceSerializer(many=True)
    check_in = serializers.IntegerField(allow_null=True)
    observation = serializers.IntegerField(allow_null=True)
    occurrences = OccurrenceSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    escalation_level = serializers.IntegerField()
    next_escalation_at = serializers.DateTimeField(allow_null=True)
    escalation_steps = EscalationStepSerializer(many=True)
    acknowledged_by = serializers.IntegerField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    resolved_by = serializers.IntegerField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.ChoiceField(choices=Alert.Outcome.choices, allow_null=True)
    note = serializers.CharField()
    complication_grade = serializers.ChoiceField(choices=COMPLICATION_GRADES, allow_null=True)


def _choices_param(request: Request, name: str, allowed: tuple[str, ...]) -> list[str]:
    """``?status=open&status=acknowledged`` or ``?status=open,acknowledged``."""
    values = [part for raw in request.query_params.getlist(name) for part in raw.split(",") if part]
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise serializers.ValidationError({name: [f"Unknown value(s) {', '.join(unknown)}: use {', '.join(allowed)}."]})
    return values


def _audit_read(request: Request, alerts: list[Alert]) -> None:
    audit_record(
        actor=request.user,
        action=AuditAction.READ,
        object_type="alert",
        objects=[(alert.pk, alert.patient_id) for alert in alerts],
        clinic_id=request.user.clinic_id,
        audit=AuditContext.of(request._request),
    )


def _alert_for(request: Request, pk: int) -> Alert:
    alert = alert_list_with_detail(alert_list(clinic_id=request.user.clinic_id)).filter(pk=pk).first()
    if alert is None:
        raise NotFound()
    return alert


def _fresh(pk: int) -> dict[str, Any]:
    return alert_data(alert=alert_list_with_detail(Alert.objects.filter(pk=pk)).get())


class AlertListApi(GenericAPIView):
    permission_classes = [IsClinicStaff]
    serializer_class = AlertOutputSerializer
    queryset = Alert.objects.none()  # for the schema; reads go through alert_list

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, description="open, acknowledged, resolved (comma-separated)"),
            OpenApiParameter("severity", OpenApiTypes.STR, description="red, amber (comma-separated)"),
            id_parameter("patient"),
        ],
        responses={200: AlertOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        alerts = alert_list(
            clinic_id=request.user.clinic_id,
            statuses=_choices_param(request, "status", tuple(Alert.Status.values)),
            severities=_choices_param(request, "severity", tuple(Alert.Severity.values)),
            patient_id=id_query_param(request, "patient"),
        )
        page = list(self.paginate_queryset(alert_list_with_detail(alerts)) or [])
        _audit_read(request, page)
        return self.get_paginated_response([alert_data(alert=alert) for alert in page])


class AlertDetailApi(APIView):
    permission_classes = [IsClinicStaff]

    @extend_schema(responses={200: AlertOutputSerializer})
    def get(self, request: Request, pk: int) -> Response:
        alert = _alert_for(request, pk)
        _audit_read(request, [alert])
        return Response(alert_data(alert=alert))


class AlertAcknowledgeApi(APIView):
    permission_classes = [IsClinicStaff]

    @extend_schema(
        request=None,
        responses={200: AlertOutputSerializer, 409: OpenApiResponse(description="the alert is already resolved")},
    )
    def post(self, request: Request, pk: int) -> Response:
        alert = _alert_for(request, pk)
        try:
            alert_acknowledge(alert=alert, by=request.user, audit=AuditContext.of(request._request))
        except AlertConflict as conflict:
            return Response({"detail": str(conflict)}, status=status.HTTP_409_CONFLICT)
        return Response(_fresh(alert.pk))


class AlertResolveApi(APIView):
    permission_classes = [IsClinicStaff]

    class AlertResolveInputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=OUTCOMES)
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
        complication_grade = serializers.ChoiceField(choices=COMPLICATION_GRADES, allow_null=True, required=False)

    @extend_schema(
        request=AlertResolveInputSerializer,
        responses={
            200: AlertOutputSerializer,
            400: OpenApiResponse(description="names the bad field"),
            409: OpenApiResponse(description="the alert is already resolved"),
        },
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        alert = _alert_for(request, pk)
        data = self.AlertResolveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            alert_resolve(alert=alert, by=request.user, audit=AuditContext.of(request._request), **data.validated_data)
        except AlertRejected as rejected:
            return Response(rejected.errors, status=status.HTTP_400_BAD_REQUEST)
        except AlertConflict as conflict:
            return Response({"detail": str(conflict)}, status=status.HTTP_409_CONFLICT)
        return Response(_fresh(alert.pk))


class AlertMetricsApi(APIView):
    permission_classes = [IsClinicStaff]

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.STR, description="date or time: figures of alerts created since"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        since = _since(request.query_params.get("since"))
        return Response(alert_metrics(clinic_id=request.user.clinic_id, since=since))


def _since(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = parse_datetime(raw)
        day = parse_date(raw) if moment is None else None
    except ValueError:
        moment = day = None
    if moment is None:
        if day is None:
            raise serializers.ValidationError({"since": ["Give a date (2026-11-01) or an ISO 8601 time."]})
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment
