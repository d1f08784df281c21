"""``/api/v1/enrollments/{id}/protocol-move/``: move an enrolled patient to another
version of their protocol (default: the current one).

GET replays the target version's rules on the patient's history and shows what would
have fired differently (nothing changes); POST replays, moves and re-plans, and
answers with the same replay. Another clinic's enrollment is a 404 (H12)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.audit import AuditContext, audit_record
from backend.idempotency import idempotent
from backend.models import AuditAction
from backend.permissions import IsClinicStaff
from followup import selectors
from followup.models import Enrollment
from followup.services.protocol_moves import (
    ProtocolMoveRejected,
    protocol_move,
    protocol_move_target,
    protocol_replay,
)


class ProtocolMoveInput(serializers.Serializer):
    version = serializers.JSONField(required=False, allow_null=True, help_text="a protocol version id")


def _enrollment(request: Request, pk: int) -> Enrollment | None:
    # Scoped to the caller's clinic: another clinic's enrollment reads as unknown.
    return (
        selectors.enrollment_list(user=request.user)
        .select_related("patient", "episode", "protocol_version__protocol")
        .filter(pk=pk)
        .first()
    )


def _version_param(request: Request) -> object:
    raw = request.query_params.get("version")
    if raw is None or raw == "":
        return None
    return int(raw) if raw.isdigit() else raw


class ProtocolMoveApi(APIView):
    permission_classes = [IsClinicStaff]

    @extend_schema(
        parameters=[OpenApiParameter("version", OpenApiTypes.INT, description="default: the current version")],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiResponse(description="names the bad field")},
    )
    def get(self, request: Request, pk: int) -> Response:
        enrollment = _enrollment(request, pk)
        if enrollment is None:
            raise NotFound
        try:
            target = protocol_move_target(enrollment=enrollment, version_id=_version_param(request))
        except ProtocolMoveRejected as rejected:
            return Response(rejected.errors, status=status.HTTP_400_BAD_REQUEST)
        replay = protocol_replay(enrollment=enrollment, target=target)
        audit_record(
            actor=request.user,
            action=AuditAction.READ,
            object_type="enrollment_protocol_replay",
            objects=[(enrollment.pk, enrollment.patient_id)],
            clinic_id=request.user.clinic_id,
            audit=AuditContext.of(request._request),
        )
        return Response(replay.as_dict())

    @extend_schema(
        request=ProtocolMoveInput,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiResponse(description="names the bad field")},
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        enrollment = _enrollment(request, pk)
        if enrollment is None:
            raise NotFound
        body = request.data if isinstance(request.data, dict) else {}
        try:
            target = protocol_move_target(enrollment=enrollment, version_id=body.get("version"))
        except ProtocolMoveRejected as rejected:
            return Response(rejected.errors, status=status.HTTP_400_BAD_REQUEST)
        result = protocol_move(
            enrollment=enrollment, target=target, by=request.user, audit=AuditContext.of(request._request)
        )
        return Response({**result.replay.as_dict(), "moved": True})
