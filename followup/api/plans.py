"""Plans API (API.md, "Clinic core"): enrollments, scheduled check-ins, appointments
and the nurses' worklist. Staff only: a patient token is a 403, another clinic's row
a 404. Doorways: parse strictly, scope to the caller, call one service or selector,
shape the reply; reads are audited here (one row per object shown), writes by the
services in their own transaction.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from backend import scoping
from backend.api import AuditedModelViewSet
from backend.audit import AuditContext
from backend.filters import IdFilter
from backend.idempotency import idempotent
from backend.models import Patient
from backend.permissions import IsClinicStaff
from backend.serializers import AwareDateTimeField, StrictBooleanField, StrictCharField, StrictIntegerField, as_utc
from followup import selectors
from followup.models import Appointment, Channel, Enrollment, ScheduledCheckIn, WorklistItem
from followup.services.appointment_changes import appointment_create, appointment_update
from followup.services.enrollment import enrollment_create, enrollment_end
from followup.services.scheduled_checkins import (
    scheduled_checkin_cancel,
    scheduled_checkin_create,
    scheduled_checkin_send_now,
    scheduled_checkin_update,
)
from followup.services.scheduling import ScheduleConflict, ScheduleRejected
from followup.services.worklist import worklist_item_done

# --- strict input fields (API.md: types are strict) ------------------------------------------------


class UtcIsoDateTimeField(IsoDateTimeField):
    """A time filter as the schema says (``format: date-time``, RFC 3339): date, time
    and offset. A date alone or a time without its offset would be read in the server's
    zone (H14), so it is a 400 naming the parameter, as in a body."""

    RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        if not isinstance(value, str) or not self.RFC3339.fullmatch(value):
            raise DjangoValidationError(
                "Give an ISO 8601 time with its offset, such as 2026-11-23T09:30:00+03:00.", code="invalid"
            )
        parsed = super().to_python(value.upper())  # RFC 3339 allows "t" and "z"
        if parsed is None:
            return None
        try:
            return as_utc(parsed)
        except ValueError as error:
            raise DjangoValidationError("This time is out of range.", code="invalid") from error


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time filter that queries in UTC (see ``as_utc``)."""

    field_class = UtcIsoDateTimeField


def _conflict(error: ScheduleConflict) -> Response:
    return Response(error.as_dict(), status=status.HTTP_409_CONFLICT)


def _rejected(error: ScheduleRejected) -> Response:
    return Response(error.errors, status=status.HTTP_400_BAD_REQUEST)


def _patient_or_error(request: Request, patient_id: int) -> Patient | Response:
    patient = selectors.patient_get(user=request.user, patient_id=patient_id)
    if patient is None:
        # Same words for "no such patient" and "another clinic's": nothing is revealed.
        return Response({"patient": ["No such patient in your clinic."]}, status=status.HTTP_400_BAD_REQUEST)
    return patient


# --- output shapes ----------------------------------------------------------------------------------


class ScheduledCheckInOutput(serializers.ModelSerializer):
    closes_at = serializers.SerializerMethodField()
    check_in = serializers.SerializerMethodField()

    class Meta:
        model = ScheduledCheckIn
        fields = [
            "id",
            "patient",
            "enrollment",
            "due_at",
            "window_minutes",
            "closes_at",
            "channel",
            "status",
            "phase",
            "day",
            "origin",
            "plan_key",
            "announced_at",
            "reminded_at",
            "closed_at",
            "check_in",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_closes_at(self, obj: ScheduledCheckIn) -> str:
        return serializers.DateTimeField().to_representation(obj.due_at + timedelta(minutes=obj.window_minutes))

    def get_check_in(self, obj: ScheduledCheckIn) -> int | None:
        check_in = getattr(obj, "check_in", None)
        return check_in.pk if check_in is not None else None


class AppointmentOutput(serializers.ModelSerializer):
    # null rather than "" when there is no link yet: "" is not a URL.
    video_url = serializers.SerializerMethodField()

    class Meta:
        model = Appointment
        fields = [
            "id",
            "patient",
            "enrollment",
            "kind",
            "starts_at",
            "status",
            "reason",
            "video_url",
            "detail",
            "plan_key",
            "origin_alert",
            "reminded_at",
            "moved_by",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_video_url(self, obj: Appointment) -> str | None:
        return obj.video_url or None


class WorklistItemOutput(serializers.ModelSerializer):
    patient_name = serializers.SerializerMethodField()
    patient_mrn = serializers.CharField(source="patient.mrn", read_only=True)

    class Meta:
        model = WorklistItem
        fields = [
            "id",
            "patient",
            "patient_name",
            "patient_mrn",
            "kind",
            "severity",
            "status",
            "scheduled_check_in",
            "alert",
            "detail",
            "created_at",
            "done_by",
            "done_at",
        ]
        read_only_fields = fields

    def get_patient_name(self, obj: WorklistItem) -> str:
        # Name and MRN together, so the nurse calls the right person (H5).
        return f"{obj.patient.given_name} {obj.patient.family_name}"


class EnrollmentOutput(serializers.ModelSerializer):
    protocol = serializers.CharField(source="protocol_version.protocol.slug", read_only=True)
    protocol_version = serializers.CharField(source="protocol_version.version", read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "episode",
            "patient",
            "protocol",
            "protocol_version",
            "has_pulse_device",
            "status",
            "enrolled_at",
            "enrolled_by",
        ]
        read_only_fields = fields


class EnrollmentWithPlanOutput(EnrollmentOutput):
    plan = serializers.SerializerMethodField()

    class Meta(EnrollmentOutput.Meta):
        fields = [*EnrollmentOutput.Meta.fields, "plan"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_plan(self, obj: Enrollment) -> dict[str, Any]:
        check_ins = ScheduledCheckIn.objects.filter(enrollment=obj).select_related("check_in").order_by("due_at", "id")
        appointments = Appointment.objects.filter(enrollment=obj).order_by("starts_at", "id")
        return {
            "check_ins": ScheduledCheckInOutput(check_ins, many=True).data,
            "appointments": AppointmentOutput(appointments, many=True).data,
        }


# --- enrollments ---------------------------------------------------------------------------------------


class EnrollmentFilter(django_filters.FilterSet):
    # Plain ids: a choice filter over all rows would answer "not a valid choice" for
    # an id that does not exist but not for another clinic's, and so reveal it (H12).
    patient = IdFilter(field_name="patient_id")
    episode = IdFilter(field_name="episode_id")
    status = django_filters.ChoiceFilter(choices=Enrollment.Status.choices)

    class Meta:
        model = Enrollment
        fields = ["patient", "episode", "status"]


class EnrollmentApi(AuditedModelViewSet):
    """``POST /api/v1/enrollments/`` enrolls an episode and answers 201 with the
    generated plan; ``POST …/{id}/end/`` ends the follow-up (what is still ahead is
    cancelled and kept as history)."""

    permission_classes = [IsClinicStaff]
    queryset = Enrollment.objects.none()  # for the schema; get_queryset scopes each request
    audit_object_type = "enrollment"
    http_method_names = ["get", "post", "head", "options"]
    filterset_class = EnrollmentFilter

    class EnrollmentCreateInput(serializers.Serializer):
        episode = StrictIntegerField()
        protocol = StrictCharField(required=False, default="post-hepatectomy", max_length=50)
        has_pulse_device = StrictBooleanField(required=False, default=False)
        channel = serializers.ChoiceField(choices=Channel.choices, required=False)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.enrollment_list(user=self.request.user)

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return EnrollmentWithPlanOutput if self.action == "retrieve" else EnrollmentOutput

    def patient_id_of(self, obj: Enrollment) -> int:
        return obj.patient_id

    @extend_schema(
        request=EnrollmentCreateInput,
        responses={201: EnrollmentWithPlanOutput, 400: OpenApiResponse(), 409: OpenApiResponse()},
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.EnrollmentCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        episode = scoping.episode_list_for(user=request.user).filter(pk=values["episode"]).first()
        if episode is None:
            return Response({"episode": ["No such episode in your clinic."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            enrollment = enrollment_create(
                episode=episode,
                protocol_slug=values["protocol"],
                has_pulse_device=values["has_pulse_device"],
                channel=values.get("channel"),
                by=request.user,
                audit=AuditContext.of(request._request),
            )
        except ScheduleRejected as error:
            return _rejected(error)
        except ScheduleConflict as error:
            return _conflict(error)
        enrollment = self.get_queryset().get(pk=enrollment.pk)
        return Response(EnrollmentWithPlanOutput(enrollment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: EnrollmentOutput})
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str | None = None) -> Response:
        enrollment = enrollment_end(
            enrollment=self.get_object(), by=request.user, audit=AuditContext.of(request._request)
        )
        return Response(EnrollmentOutput(enrollment).data)


# --- scheduled check-ins ---------------------------------------------------------------------------------


class ScheduledCheckInFilter(django_filters.FilterSet):
    patient = IdFilter(field_name="patient_id")
    status = django_filters.MultipleChoiceFilter(choices=ScheduledCheckIn.Status.choices)
    due_after = UtcIsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    due_before = UtcIsoDateTimeFilter(field_name="due_at", lookup_expr="lt")

    class Meta:
        model = ScheduledCheckIn
        fields = ["patient", "status", "due_after", "due_before"]


@extend_schema_view(
    destroy=extend_schema(
        summary="Cancel a scheduled check-in",
        description="A nurse's DELETE cancels the check-in: nothing is deleted. The row stays as history with "
        "status `cancelled` (still listed, and read by id) and the reply is the cancelled check-in (200), "
        "not a 204. Cancelling a cancelled check-in changes nothing and answers the same; an "
        "answered (`completed`) or `missed` check-in cannot be cancelled (409 with its `reason`).",
    ),
)
class ScheduledCheckInApi(AuditedModelViewSet):
    """Nurses list, add, move and cancel check-ins, and send one now."""

    serializer_class = ScheduledCheckInOutput
    permission_classes = [IsClinicStaff]
    queryset = ScheduledCheckIn.objects.none()  # for the schema; get_queryset scopes each request
    audit_object_type = "scheduled_check_in"
    filterset_class = ScheduledCheckInFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    class ScheduledCheckInCreateInput(serializers.Serializer):
        patient = StrictIntegerField()
        due_at = AwareDateTimeField()
        window_minutes = StrictIntegerField(required=False, default=720)
        channel = serializers.ChoiceField(choices=Channel.choices, required=False, default=Channel.SMS)
        status = serializers.ChoiceField(
            choices=ScheduledCheckIn.Status.choices, required=False, default=ScheduledCheckIn.Status.SCHEDULED
        )

    class ScheduledCheckInUpdateInput(serializers.Serializer):
        due_at = AwareDateTimeField(required=False)
        window_minutes = StrictIntegerField(required=False)
        channel = serializers.ChoiceField(choices=Channel.choices, required=False)
        status = serializers.ChoiceField(choices=ScheduledCheckIn.Status.choices, required=False)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            unknown = set(self.initial_data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {name: ["This field cannot be changed here."] for name in sorted(unknown)}
                )
            return attrs

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.scheduled_checkin_list(user=self.request.user)

    def patient_id_of(self, obj: ScheduledCheckIn) -> int:
        return obj.patient_id

    @extend_schema(request=ScheduledCheckInCreateInput, responses={201: ScheduledCheckInOutput, 400: OpenApiResponse()})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.ScheduledCheckInCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = _patient_or_error(request, values.pop("patient"))
        if isinstance(patient, Response):
            return patient
        try:
            row = scheduled_checkin_create(
                patient=patient, by=request.user, audit=AuditContext.of(request._request), **values
            )
        except ScheduleRejected as error:
            return _rejected(error)
        return Response(ScheduledCheckInOutput(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ScheduledCheckInUpdateInput, responses={200: ScheduledCheckInOutput, 409: OpenApiResponse()})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        row = self.get_object()
        data = self.ScheduledCheckInUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            row = scheduled_checkin_update(
                scheduled_check_in=row, by=request.user, audit=AuditContext.of(request._request), **data.validated_data
            )
        except ScheduleRejected as error:
            return _rejected(error)
        except ScheduleConflict as error:
            return _conflict(error)
        return Response(ScheduledCheckInOutput(self.get_queryset().get(pk=row.pk)).data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.partial_update(request, *args, **kwargs)

    @extend_schema(
        responses={
            200: OpenApiResponse(ScheduledCheckInOutput, description="The check-in, now `cancelled`."),
            409: OpenApiResponse(description="Already answered or missed: `reason` says which."),
        }
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            row = scheduled_checkin_cancel(
                scheduled_check_in=self.get_object(), by=request.user, audit=AuditContext.of(request._request)
            )
        except ScheduleConflict as error:
            return _conflict(error)
        return Response(ScheduledCheckInOutput(self.get_queryset().get(pk=row.pk)).data)

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer("SendNowAccepted", {"status": serializers.CharField()}),
            409: OpenApiResponse(description="Already answered, closed, already sent, or the patient opted out."),
        },
    )
    @action(detail=True, methods=["post"], url_path="send-now")
    def send_now(self, request: Request, pk: str | None = None) -> Response:
        try:
            row = scheduled_checkin_send_now(
                scheduled_check_in=self.get_object(), by=request.user, audit=AuditContext.of(request._request)
            )
        except ScheduleConflict as error:
            return _conflict(error)
        return Response(
            {"status": row.status, "scheduled_check_in": ScheduledCheckInOutput(row).data},
            status=status.HTTP_202_ACCEPTED,
        )


# --- appointments ----------------------------------------------------------------------------------------


class AppointmentFilter(django_filters.FilterSet):
    patient = IdFilter(field_name="patient_id")
    kind = django_filters.MultipleChoiceFilter(choices=Appointment.Kind.choices)
    status = django_filters.MultipleChoiceFilter(choices=Appointment.Status.choices)
    starts_after = UtcIsoDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = UtcIsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")

    class Meta:
        model = Appointment
        fields = ["patient", "kind", "status", "starts_after", "starts_before"]


class AppointmentApi(AuditedModelViewSet):
    """Nurses list, add, move and cancel appointments (status ``cancelled``: rows are
    never deleted). Every change is published to the dashboard
    (``appointment.updated``)."""

    serializer_class = AppointmentOutput
    permission_classes = [IsClinicStaff]
    queryset = Appointment.objects.none()  # for the schema; get_queryset scopes each request
    audit_object_type = "appointment"
    filterset_class = AppointmentFilter

    class AppointmentCreateInput(serializers.Serializer):
        patient = StrictIntegerField()
        kind = serializers.ChoiceField(choices=Appointment.Kind.choices)
        starts_at = AwareDateTimeField()
        status = serializers.ChoiceField(
            choices=Appointment.Status.choices, required=False, default=Appointment.Status.SCHEDULED
        )
        reason = StrictCharField(required=False, default="", allow_blank=True, max_length=300)
        video_url = StrictCharField(required=False, default="", allow_blank=True, max_length=200)

        def validate_video_url(self, value: str) -> str:
            if value:
                serializers.URLField().run_validation(value)
            return value

    class AppointmentUpdateInput(serializers.Serializer):
        kind = serializers.ChoiceField(choices=Appointment.Kind.choices, required=False)
        starts_at = AwareDateTimeField(required=False)
        status = serializers.ChoiceField(choices=Appointment.Status.choices, required=False)
        reason = StrictCharField(required=False, allow_blank=True, max_length=300)
        video_url = StrictCharField(required=False, allow_blank=True, max_length=200)

        def validate_video_url(self, value: str) -> str:
            if value:
                serializers.URLField().run_validation(value)
            return value

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            unknown = set(self.initial_data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {name: ["This field cannot be changed here."] for name in sorted(unknown)}
                )
            return attrs

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.appointment_list(user=self.request.user)

    def patient_id_of(self, obj: Appointment) -> int:
        return obj.patient_id

    @extend_schema(request=AppointmentCreateInput, responses={201: AppointmentOutput, 400: OpenApiResponse()})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.AppointmentCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = _patient_or_error(request, values.pop("patient"))
        if isinstance(patient, Response):
            return patient
        try:
            appointment = appointment_create(
                patient=patient, by=request.user, audit=AuditContext.of(request._request), **values
            )
        except ScheduleRejected as error:
            return _rejected(error)
        return Response(AppointmentOutput(appointment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AppointmentUpdateInput, responses={200: AppointmentOutput, 409: OpenApiResponse()})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        appointment = self.get_object()
        data = self.AppointmentUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            appointment = appointment_update(
                appointment=appointment, by=request.user, audit=AuditContext.of(request._request), **data.validated_data
            )
        except ScheduleRejected as error:
            return _rejected(error)
        except ScheduleConflict as error:
            return _conflict(error)
        return Response(AppointmentOutput(appointment).data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.partial_update(request, *args, **kwargs)


# --- the nurses' worklist -----------------------------------------------------------------------------------


class WorklistFilter(django_filters.FilterSet):
    patient = IdFilter(field_name="patient_id")
    kind = django_filters.MultipleChoiceFilter(choices=WorklistItem.Kind.choices)
    status = django_filters.ChoiceFilter(choices=WorklistItem.Status.choices)

    class Meta:
        model = WorklistItem
        fields = ["patient", "kind", "status"]


class AuditedReadApi(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List and retrieve with the same per-object audit as AuditedModelViewSet, and
    no create or update routes (an item is made by the system, not typed in)."""

    audit_object_type = ""
    list = AuditedModelViewSet.list
    retrieve = AuditedModelViewSet.retrieve
    audit = AuditedModelViewSet.audit

    def patient_id_of(self, obj: Any) -> int:
        raise NotImplementedError


class WorklistApi(AuditedReadApi):
    """The nurses' worklist: open items by default (``?status=done`` for the done
    ones), oldest first; ``POST …/{id}/done/`` closes one, naming who did it."""

    serializer_class = WorklistItemOutput
    permission_classes = [IsClinicStaff]
    queryset = WorklistItem.objects.none()  # for the schema; get_queryset scopes each request
    audit_object_type = "worklist_item"
    filterset_class = WorklistFilter
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        items = selectors.worklist_item_list(user=self.request.user)
        # ``?status=`` given empty is left out, as for every query parameter: open items.
        if self.action == "list" and not self.request.query_params.get("status"):
            items = items.filter(status=WorklistItem.Status.OPEN)
        return items

    def patient_id_of(self, obj: WorklistItem) -> int:
        return obj.patient_id

    @extend_schema(request=None, responses={200: WorklistItemOutput})
    @action(detail=True, methods=["post"])
    def done(self, request: Request, pk: str | None = None) -> Response:
        item = worklist_item_done(item=self.get_object(), by=request.user, audit=AuditContext.of(request._request))
        item = selectors.worklist_item_list(user=request.user).get(pk=item.pk)
        return Response(WorklistItemOutput(item).data)
