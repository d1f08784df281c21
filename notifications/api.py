"""Notifications API doorways."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend import scoping
from backend.audit import AuditContext, audit_record
from backend.models import AuditAction
from backend.permissions import IsClinicStaff
from backend.throttles import EnrollmentCodeSendThrottle
from notifications.history import message_history_list, message_history_row
from notifications.models import MessageHistoryEntry
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
            audit=AuditContext.of(request._request),
        )
        return Response({"status": "sent"}, status=status.HTTP_202_ACCEPTED)


class PatientMessageListApi(GenericAPIView):
    """A patient's SMS history, in and out, oldest first (staff of their clinic only).

    One-time codes show masked (the outbox keeps a display copy); ``?since_id=``
    returns only what came after an id already seen, so a page can poll cheaply.
    Every message listed leaves an audit record (H12)."""

    permission_classes = [IsClinicStaff]
    # A hint for the schema generator only; get() scopes by the caller's clinic.
    queryset = MessageHistoryEntry.objects.none()

    class FilterSerializer(serializers.Serializer):
        since_id = serializers.IntegerField(required=False, min_value=0)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PatientMessage"

        id = serializers.IntegerField()
        direction = serializers.ChoiceField(choices=MessageHistoryEntry.Direction.choices)
        body = serializers.CharField()
        status = serializers.CharField(help_text="Outbound: the delivery status. Inbound: received.")
        twilio_sid = serializers.CharField(allow_blank=True)
        created_at = serializers.DateTimeField()
        kind = serializers.CharField(allow_blank=True, help_text="What the message was: its purpose or handling.")
        question_id = serializers.CharField(allow_blank=True, help_text="The protocol question an SMS asks (H6).")
        error_message = serializers.CharField(allow_blank=True)

    serializer_class = OutputSerializer

    @extend_schema(parameters=[FilterSerializer], responses={200: OutputSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        patient = get_object_or_404(scoping.patient_list_for(user=request.user), pk=pk)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = message_history_list(patient=patient)
        since_id = filters.validated_data.get("since_id")
        if since_id is not None:
            entries = entries.filter(pk__gt=since_id)
        page = self.paginate_queryset(entries)
        shown = page if page is not None else list(entries)
        audit_record(
            actor=request.user,
            action=AuditAction.READ,
            object_type="sms_message",
            objects=[(entry.pk, patient.pk) for entry in shown],
            clinic_id=patient.clinic_id,
            audit=AuditContext.of(request._request),
        )
        data = self.OutputSerializer([message_history_row(entry=entry) for entry in shown], many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)
