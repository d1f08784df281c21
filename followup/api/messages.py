"""A patient's message thread: the history (``notifications.api``) and a nurse's reply.

The path ``/api/v1/patients/{id}/messages/`` is served here so that one view answers
both verbs: the list belongs to notifications (it reads the outbox and the inbound
rows), the reply to followup (it closes worklist items)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from backend import scoping
from backend.audit import AuditContext
from backend.idempotency import idempotent
from followup.services.staff_replies import REPLY_MAX_LENGTH, ReplyConflict, ReplyRejected, staff_reply_send
from notifications.api import PatientMessageListApi
from notifications.history import message_history_row


class PatientMessagesApi(PatientMessageListApi):
    """GET: the patient's SMS history. POST: a nurse's reply, texted to the patient at
    once (quiet hours do not hold it), added to the thread, audited, and closing the
    patient's open message items on the worklist."""

    class ReplyInputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StaffReplyInput"

        body = serializers.CharField(
            help_text=f"The text, 1 to {REPLY_MAX_LENGTH} characters.",
            allow_blank=True,
            trim_whitespace=False,
        )

    @extend_schema(
        request=ReplyInputSerializer,
        responses={
            201: PatientMessageListApi.OutputSerializer,
            400: OpenApiResponse(description="`body` empty or too long."),
            404: OpenApiResponse(description="No such patient in the caller's clinic."),
            # The project's Conflict body (backend/openapi.py): a stable reason when the
            # patient cannot be texted, or, like every operation taking an Idempotency-Key,
            # the key reused with another body (named as the field).
            409: OpenApiResponse(
                description="The patient cannot be texted: `reason` is `opted_out` or `no_sms_consent`, "
                "`detail` says it in words. Or the Idempotency-Key was already used with a different body."
            ),
        },
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        patient = get_object_or_404(scoping.patient_list_for(user=request.user), pk=pk)
        data = self.ReplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            reply = staff_reply_send(
                patient=patient,
                body=data.validated_data["body"],
                by=request.user,
                audit=AuditContext.of(request._request),
            )
        except ReplyRejected as rejected:
            return Response(rejected.errors, status=status.HTTP_400_BAD_REQUEST)
        except ReplyConflict as conflict:
            return Response(conflict.as_dict(), status=status.HTTP_409_CONFLICT)
        output = self.OutputSerializer(message_history_row(entry=reply.entry))
        return Response(output.data, status=status.HTTP_201_CREATED)
