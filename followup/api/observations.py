"""Observations API: labs and vitals entered by staff (API.md, "Clinic core").

A bad code, unit or value is a 400 naming it, with every other bad field named in
the same reply; nothing is stored (H15)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from backend import scoping
from backend.audit import AuditContext, audit_record
from backend.filters import id_parameter, id_query_param
from backend.idempotency import idempotent
from backend.models import AuditAction
from backend.permissions import IsClinicStaff
from backend.serializers import AwareDateTimeField, StrictIntegerField
from followup.models import AlertOccurrence, Observation
from followup.services.observation_units import reference_range_convert
from followup.services.observations import (
    OBSERVATION_CODES,
    ObservationRejected,
    observation_convert,
    observation_create,
    observation_list,
)


class ObservationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    patient = serializers.IntegerField(source="patient_id")
    code = serializers.CharField()
    value = serializers.FloatField(help_text="in the SI unit of the code")
    unit = serializers.CharField()
    entered_value = serializers.FloatField()
    entered_unit = serializers.CharField()
    reference_low = serializers.FloatField(allow_null=True, help_text="the laboratory's range, in the SI unit")
    reference_high = serializers.FloatField(allow_null=True, help_text="the laboratory's range, in the SI unit")
    observed_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    entered_by = serializers.IntegerField(source="entered_by_id", allow_null=True)
    alerts = serializers.SerializerMethodField()

    def get_alerts(self, observation: Observation) -> list[int]:
        return self.context["alert_ids"].get(observation.pk, [])


def observation_output(observations: list[Observation]) -> list[dict[str, Any]]:
    alert_ids: dict[int, list[int]] = {observation.pk: [] for observation in observations}
    rows = (
        AlertOccurrence.objects.filter(observation_id__in=list(alert_ids))
        .order_by("id")
        .values_list("observation_id", "alert_id")
    )
    for observation_id, alert_id in rows:
        if alert_id not in alert_ids[observation_id]:
            alert_ids[observation_id].append(alert_id)
    return list(ObservationOutputSerializer(observations, many=True, context={"alert_ids": alert_ids}).data)


class ObservationsApi(GenericAPIView):
    permission_classes = [IsClinicStaff]
    serializer_class = ObservationOutputSerializer
    queryset = Observation.objects.none()  # for the schema; reads go through observation_list

    class ObservationCreateInputSerializer(serializers.Serializer):
        patient = StrictIntegerField(min_value=1)
        code = serializers.ChoiceField(choices=list(OBSERVATION_CODES))
        # Checked by the service against the code (strict number, unit of the code,
        # plausible range), so the reply names value and unit together.
        value = serializers.JSONField()
        unit = serializers.JSONField()
        # The laboratory's reference range, in the unit of the value (either end may
        # be left out); the lab rules use its upper limit (protocol v2).
        reference_low = serializers.JSONField(required=False, allow_null=True)
        reference_high = serializers.JSONField(required=False, allow_null=True)
        observed_at = AwareDateTimeField()

    @extend_schema(
        parameters=[id_parameter("patient"), OpenApiParameter("code", OpenApiTypes.STR)],
        responses={200: ObservationOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        code = request.query_params.get("code") or None
        if code is not None and code not in OBSERVATION_CODES:
            raise serializers.ValidationError({"code": [f"Unknown code. Known codes: {', '.join(OBSERVATION_CODES)}."]})
        observations = observation_list(
            clinic_id=request.user.clinic_id, patient_id=id_query_param(request, "patient"), code=code
        )
        page = list(self.paginate_queryset(observations) or [])
        audit_record(
            actor=request.user,
            action=AuditAction.READ,
            object_type="observation",
            objects=[(observation.pk, observation.patient_id) for observation in page],
            clinic_id=request.user.clinic_id,
            audit=AuditContext.of(request._request),
        )
        return self.get_paginated_response(observation_output(page))

    @extend_schema(
        request=ObservationCreateInputSerializer,
        responses={201: ObservationOutputSerializer, 400: OpenApiResponse(description="names every bad field")},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        data = self.ObservationCreateInputSerializer(data=request.data)
        data.is_valid()
        # Every bad field in one reply: the envelope's types first, then the patient
        # in the caller's clinic, then the value and unit against the code.
        errors: dict[str, Any] = {name: list(messages) for name, messages in data.errors.items()}
        patient = None
        if "patient" not in errors and "patient" in body:
            patient = scoping.patient_list_for(user=request.user).filter(pk=body["patient"]).first()
            if patient is None:
                # Another clinic's patient reads as unknown (H12).
                errors["patient"] = [f'Invalid pk "{body["patient"]}" - object does not exist.']
        if "code" not in errors and "code" in body:
            _value, convert_errors = observation_convert(
                code=body["code"], value=body.get("value"), unit=body.get("unit")
            )
            for name, messages in convert_errors.items():
                errors.setdefault(name, messages)
            _range, range_errors = reference_range_convert(
                code=body["code"],
                unit=body.get("unit"),
                low=body.get("reference_low"),
                high=body.get("reference_high"),
            )
            for name, messages in range_errors.items():
                errors.setdefault(name, messages)
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        assert patient is not None
        values = data.validated_data
        try:
            result = observation_create(
                patient=patient,
                code=values["code"],
                value=values["value"],
                unit=values["unit"],
                observed_at=values["observed_at"],
                reference_low=values.get("reference_low"),
                reference_high=values.get("reference_high"),
                entered_by=request.user,
                audit=AuditContext.of(request._request),
            )
        except ObservationRejected as rejected:
            return Response(rejected.errors, status=status.HTTP_400_BAD_REQUEST)
        return Response(observation_output([result.observation])[0], status=status.HTTP_201_CREATED)
