"""Notifications API doorways."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend import scoping
from backend.audit import audit_record
from backend.models import AuditAction
from backend.permissions import IsClinicStaff
from backend.throttles import EnrollmentCodeSendThrottle
from notifications.services import enrollment_code_send


class EnrollmentCodeSendApi(APIView):
    permission_classes = [IsClinicStaff]
    throttle_classes = [EnrollmentCodeSendThrottle]

    @extend_schema(
        request=None,
        responses={202: inline_serializer("EnrollmentCodeSent", fields={"status": serializers.CharField()})},
    )
    def post(self, request: Request, pk: int) -> Response:
        patient = get_object_or_404(scoping.patient_list_for(user=request.user), pk=pk)
        enrollment_code_send(patient=patient, by=request.user)
        audit_record(
            actor=request.user,
            action=AuditAction.CREATE,
            object_type="enrollment_code",
            objects=[(patient.pk, patient.pk)],
            clinic_id=patient.clinic_id,
            request=request._request,
        )
        return Response({"status": "sent"}, status=status.HTTP_202_ACCEPTED)
