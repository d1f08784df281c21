"""Check-ins API (API.md, "Check-ins"). Doorways: parse, scope to the caller, call
``checkin_submit`` or a selector, shape the reply, audit the read."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend import scoping
from backend.audit import AuditContext, audit_record
from backend.filters import id_parameter, id_query_param
from backend.idempotency import idempotent
from backend.models import AuditAction, User
from backend.permissions import IsClinicStaffOrPatient
from backend.serializers import AwareDateTimeField, StrictIntegerField
from backend.token_auth import patient_id_of
from followup.models import CheckIn
from followup.selectors import checkin_alert_ids, checkin_list
from followup.services.checkin_rate import CheckInRateExceeded, checkin_submit_within_rate
from followup.services.checkins import CheckInRejected

# --- output ------------------------------------------------------------------------------------

_DATETIME = serializers.DateTimeField()


class TriageSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=CheckIn.Level.choices)
    advice = serializers.CharField()
    alerts = serializers.ListField(child=serializers.IntegerField())


class CheckInOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    patient = serializers.IntegerField(source="patient_id")
    scheduled_check_in = serializers.IntegerField(source="scheduled_check_in_id", allow_null=True)
    answers = serializers.DictField()
    phase = serializers.CharField()
    taken_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField()
    channel = serializers.ChoiceField(choices=CheckIn.Source.choices)
    # False for an SMS conversation that ended before every question was answered.
    complete = serializers.BooleanField()
    unanswered = serializers.ListField(child=serializers.CharField())
    submitted_by = serializers.IntegerField(source="submitted_by_id", allow_null=True)
    protocol_version = serializers.CharField(source="protocol_version.version")
    triage = serializers.SerializerMethodField()
    evaluation_trace = serializers.ListField(child=serializers.CharField(), required=False)

    def get_triage(self, check_in: CheckIn) -> dict[str, Any]:
        alert_ids = self.context["alert_ids"].get(check_in.pk, [])
        return {"level": check_in.level, "advice": check_in.advice, "alerts": alert_ids}

    def to_representation(self, instance: CheckIn) -> dict[str, Any]:
        # Built in one go rather than field by field: the check-in POST is the hot path
        # (issue 17) and DRF deep-copies every declared field for each serializer. The
        # fields declared above stay the schema; tests/followup/api/test_checkin_output.py
        # holds the two together, value by value.
        data: dict[str, Any] = {
            "id": instance.pk,
            "patient": instance.patient_id,
            "scheduled_check_in": instance.scheduled_check_in_id,
            "answers": instance.answers,
            "phase": instance.phase,
            "taken_at": _DATETIME.to_representation(instance.taken_at),
            "submitted_at": _DATETIME.to_representation(instance.submitted_at),
            "channel": instance.channel,
            "complete": instance.complete,
            "unanswered": list(instance.unanswered),
            "submitted_by": instance.submitted_by_id,
            "protocol_version": instance.protocol_version.version,
            "triage": self.get_triage(instance),
        }
        # The rules' trace explains the triage to staff; a patient gets the advice.
        if self.context["staff"]:
            data["evaluation_trace"] = list(instance.evaluation_trace)
        return data


def checkin_output(
    check_ins: list[CheckIn], *, user: User, alert_ids: dict[int, list[int]] | None = None
) -> list[dict[str, Any]]:
    """``alert_ids`` by check-in when the caller already knows them (a check-in just
    submitted); read from the alerts' occurrences otherwise."""
    if alert_ids is None:
        alert_ids = checkin_alert_ids(check_in_ids=[c.pk for c in check_ins])
    context = {"alert_ids": alert_ids, "staff": user.is_clinic_staff}
    return list(CheckInOutputSerializer(check_ins, many=True, context=context).data)


def _audit_read(request: Request, check_ins: list[CheckIn]) -> None:
    audit_record(
        actor=request.user,
        action=AuditAction.READ,
        object_type="check_in",
        objects=[(check_in.pk, check_in.patient_id) for check_in in check_ins],
        clinic_id=getattr(request.user, "clinic_id", None),
        audit=AuditContext.of(request._request),
    )


def _too_many(exceeded: CheckInRateExceeded) -> Response:
    """API.md: "beyond the protocol's sane rate ... a 429 with Retry-After". Returned,
    not raised: under an Idempotency-Key the view runs in a transaction, and the
    worklist item the refusal may have opened must commit."""
    message = gettext(
        "Too many check-ins: at most %(limit)d in an hour. Try again in %(seconds)d seconds; "
        "if you feel unwell, call the clinic."
    ) % {"limit": exceeded.limit, "seconds": exceeded.retry_after}
    return Response(
        {"detail": message},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(exceeded.retry_after)},
    )


# --- doorways ------------------------------------------------------------------------------------


class CheckInsApi(GenericAPIView):
    """GET: the caller's check-ins, newest first. POST: submit one."""

    permission_classes = [IsClinicStaffOrPatient]
    serializer_class = CheckInOutputSerializer
    queryset = CheckIn.objects.none()  # for the schema; reads go through checkin_list
    # The API contract: a patient's check-in is taken now. Only the patient app's own
    # door (followup/patient_app/checkin_api.py) sends answers queued offline with the
    # time they were given.
    patient_may_date_answers = False

    class CheckInSubmitInputSerializer(serializers.Serializer):
        # Validated question by question by the service, against the protocol.
        answers = serializers.JSONField()
        scheduled_check_in = StrictIntegerField(min_value=1, allow_null=True, required=False)
        patient = StrictIntegerField(min_value=1, required=False)
        taken_at = AwareDateTimeField(required=False)

    @extend_schema(
        parameters=[id_parameter("patient", "staff: one patient's check-ins")],
        responses={200: CheckInOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        user = request.user
        # Checked for everyone; a patient's list holds their own whatever it says.
        patient_id = id_query_param(request, "patient")
        check_ins = checkin_list(user=user, patient_id=patient_id)
        page = list(self.paginate_queryset(check_ins) or [])
        _audit_read(request, page)
        return self.get_paginated_response(checkin_output(page, user=user))

    @extend_schema(
        request=CheckInSubmitInputSerializer,
        responses={
            201: CheckInOutputSerializer,
            400: OpenApiResponse(description="names every bad field; answers nested by question id"),
            409: OpenApiResponse(description="the scheduled check-in is closed, or the Idempotency-Key was reused"),
            429: OpenApiResponse(
                description="a patient's check-ins beyond their protocol's rate (schedule.max_check_ins_per_hour "
                "in any rolling hour); nothing stored; Retry-After gives the seconds until a slot frees. "
                "Staff entry is not limited."
            ),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.CheckInSubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = request.user
        if user.is_patient:
            # The id only: the service reads (and locks) the patient row with the enrollment.
            patient_id = patient_id_of(user)
            errors: dict[str, list[str]] = {}
            if "taken_at" in request.data and not self.patient_may_date_answers:
                errors["taken_at"] = ["Only staff may say when the answers were given; leave it out."]
            if values.get("patient") not in (None, patient_id):
                errors["patient"] = ["A patient submits their own check-ins only; leave it out."]
            if errors:
                return Response(errors, status=status.HTTP_400_BAD_REQUEST)
            channel = CheckIn.Source.APP
        else:
            if values.get("patient") is None:
                return Response({"patient": ["This field is required."]}, status=status.HTTP_400_BAD_REQUEST)
            found = scoping.patient_list_for(user=user).filter(pk=values["patient"]).first()
            if found is None:
                # Another clinic's patient reads as unknown (H12).
                return Response(
                    {"patient": [f'Invalid pk "{values["patient"]}" - object does not exist.']},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            patient_id = found.pk
            channel = CheckIn.Source.STAFF
        try:
            result = checkin_submit_within_rate(
                patient_id=patient_id,
                answers=values["answers"],
                scheduled_check_in_id=values.get("scheduled_check_in"),
                channel=channel,
                submitted_by=user,
                taken_at=values.get("taken_at"),
                audit=AuditContext.of(request._request),
            )
        except CheckInRejected as rejected:
            return Response(rejected.errors, status=rejected.status_code)
        except CheckInRateExceeded as exceeded:
            return _too_many(exceeded)
        # The reply is built from what was just stored: no second read of it.
        check_in = result.check_in
        output = checkin_output([check_in], user=user, alert_ids={check_in.pk: result.alert_ids})
        return Response(output[0], status=status.HTTP_201_CREATED)


class CheckInDetailApi(APIView):
    permission_classes = [IsClinicStaffOrPatient]

    @extend_schema(responses={200: CheckInOutputSerializer})
    def get(self, request: Request, pk: int) -> Response:
        check_in = checkin_list(user=request.user).filter(pk=pk).first()
        if check_in is None:
            raise NotFound()
        _audit_read(request, [check_in])
        return Response(checkin_output([check_in], user=request.user)[0])
