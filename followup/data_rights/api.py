"""API doorways of a patient's data rights (clinic admins only; another clinic's
patient is a 404, H12; each call is audited by its service)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend import scoping
from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Patient, Role
from followup.data_rights.erasure import ErasureRefused, patient_consent_withdraw, patient_erase
from followup.data_rights.export import patient_export
from followup.data_rights.retention import RetentionStatus, retention_status
from followup.data_rights.texts import refusal_message


class IsClinicAdmin(BasePermission):
    """Active staff of a clinic with the admin role; any other caller is a 403."""

    message = "This endpoint is for the clinic's administrators."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        return bool(user and user.is_authenticated and user.is_clinic_staff and user.role == Role.ADMIN)


class ZipRenderer(BaseRenderer):
    """Lets a client ask for ``Accept: application/zip``; the view answers the ZIP
    itself and errors in JSON (``PatientExportApi.handle_exception``)."""

    media_type = "application/zip"
    format = "zip"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return data if isinstance(data, bytes) else json.dumps(data).encode()


def _patient(request: Request, pk: int) -> Patient:
    return get_object_or_404(scoping.patient_list_for(user=request.user).select_related("clinic"), pk=pk)


def status_data(state: RetentionStatus) -> dict[str, Any]:
    return {
        "erasable": state.erasable,
        "erased": state.erased,
        "follow_up_active": state.follow_up_active,
        "follow_up_ended_on": state.follow_up_ended_on,
        "retention_until": state.retention_until,
        "consent_withdrawn": state.consent_withdrawn,
        "countries": [{"country": rule.country, "years": rule.years, "basis": rule.basis} for rule in state.rules],
    }


class PatientExportApi(APIView):
    """Everything Vigil holds about the patient: a ZIP of ``summary.html`` (in the
    patient's language) and ``data.json``."""

    permission_classes = [IsClinicAdmin]
    renderer_classes = [JSONRenderer, ZipRenderer]

    def handle_exception(self, exc: Exception) -> Response:
        """Errors answer in JSON, as documented, whatever the Accept header asked."""
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> HttpResponse:
        patient = _patient(request, pk)
        export = patient_export(patient=patient, by=request.user, audit=AuditContext.of(request._request))
        response = HttpResponse(export.content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        return response


class PatientErasureApi(APIView):
    """GET: what the law allows today (the retention date and its basis). POST with
    the patient's MRN as confirmation: the patient anonymised, or 409 naming the date
    before which erasure is refused (nothing changes)."""

    permission_classes = [IsClinicAdmin]

    class InputSerializer(serializers.Serializer):
        confirm_mrn = serializers.CharField(help_text="The patient's MRN, typed by the person confirming.")

    class StatusSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PatientRetentionStatus"

        erasable = serializers.BooleanField()
        erased = serializers.BooleanField()
        follow_up_active = serializers.BooleanField()
        follow_up_ended_on = serializers.DateField(allow_null=True)
        retention_until = serializers.DateField(allow_null=True)
        consent_withdrawn = serializers.BooleanField()
        countries = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses={200: StatusSerializer})
    def get(self, request: Request, pk: int) -> Response:
        patient = _patient(request, pk)
        state = retention_status(patient=patient)
        audit_record(
            actor=request.user,
            action=AuditAction.READ,
            object_type="patient_data_rights",
            objects=[(patient.pk, patient.pk)],
            clinic_id=patient.clinic_id,
            audit=AuditContext.of(request._request),
        )
        return Response(self.StatusSerializer(status_data(state)).data)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "PatientErased",
                fields={"patient": serializers.IntegerField(), "erased_at": serializers.DateTimeField()},
            ),
            409: OpenApiResponse(
                response=inline_serializer(
                    "PatientErasureRefused",
                    fields={
                        "detail": serializers.CharField(),
                        "code": serializers.CharField(),
                        "retention_until": serializers.DateField(allow_null=True),
                    },
                ),
                description="The law does not allow erasure yet: the date it will, or why not.",
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        patient = _patient(request, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["confirm_mrn"].strip() != patient.mrn:
            return Response(
                {"confirm_mrn": [_("Type the patient's MRN to confirm.")]}, status=status.HTTP_400_BAD_REQUEST
            )
        try:
            result = patient_erase(patient_id=patient.pk, by=request.user, audit=AuditContext.of(request._request))
        except ErasureRefused as refused:
            code, message = refusal_message(refused.status)
            body = {"detail": message, "code": code, "retention_until": refused.retention_until}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response({"patient": result.patient_id, "erased_at": result.erased_at})


class PatientConsentWithdrawalApi(APIView):
    """Record that the patient withdrew consent to the processing (once; audited).
    Answers the retention status: erasure follows at once only where no retention
    duty applies."""

    permission_classes = [IsClinicAdmin]

    @extend_schema(request=None, responses={200: PatientErasureApi.StatusSerializer})
    def post(self, request: Request, pk: int) -> Response:
        patient = patient_consent_withdraw(
            patient=_patient(request, pk), by=request.user, audit=AuditContext.of(request._request)
        )
        state = retention_status(patient=patient)
        return Response(PatientErasureApi.StatusSerializer(status_data(state)).data)
