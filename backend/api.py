"""Clinic-core API: sign-in, clinics, patients, episodes. Doorways only: parse, check
permission (by scoped querysets), call one service or selector, shape the reply."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.views import LogoutView
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend import scoping
from backend.audit import AuditContext, audit_record
from backend.filters import FilterBackend
from backend.models import AuditAction, Clinic, Episode, Patient
from backend.permissions import IsClinicStaff, IsClinicStaffOrPatient
from backend.serializers import (
    ClinicSerializer,
    E164PhoneField,
    EpisodeSerializer,
    PatientSerializer,
    UserSummarySerializer,
)
from backend.services import AuthenticationFailed, patient_token_exchange, staff_token_issue
from backend.sign_in import Outcome, SignInRefused
from backend.signals import record_changed
from backend.throttles import (
    LoginAccountThrottle,
    LoginAddressThrottle,
    PatientCodeAccountThrottle,
    PatientCodeAddressThrottle,
)
from backend.token_auth import CachedTokenAuthentication


class StaffTokenApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginAddressThrottle, LoginAccountThrottle]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StaffTokenInput"

        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=256, trim_whitespace=False)
        otp_token = serializers.CharField(
            max_length=32,
            required=False,
            default="",
            allow_blank=True,
            help_text="The 6-digit code of the staff member's authenticator app, or one of their "
            "single-use recovery codes. Required while staff two-factor sign-in is on (always in "
            "production); an account without a confirmed authenticator gets a 403 naming it.",
        )

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StaffToken"

        token = serializers.CharField()
        expires_at = serializers.DateTimeField()
        user = UserSummarySerializer()

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(description="Wrong username, password or code (the field named)."),
            403: OpenApiResponse(description="No confirmed authenticator (`otp_token` names it), or a wall display."),
            429: OpenApiResponse(description="Too many failed attempts: the account or address is locked."),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            issued = staff_token_issue(request=request._request, **data.validated_data)
        except SignInRefused as error:
            return sign_in_refused_response(error)
        return Response(
            self.OutputSerializer({"token": issued.key, "expires_at": issued.expires_at, "user": issued.user}).data
        )


def sign_in_refused_response(error: SignInRefused) -> Response:
    """400 naming the field (the failure that sets a lock says so too); 403 when the
    account cannot have a token this way; 429 with Retry-After while locked."""
    if error.outcome == Outcome.LOCKED:
        return Response(
            {"detail": error.message, error.field: [error.message]},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(error.retry_after)},
        )
    if error.outcome in (Outcome.NO_DEVICE, Outcome.NOT_ALLOWED):
        return Response({"detail": error.message, error.field: [error.message]}, status=status.HTTP_403_FORBIDDEN)
    return Response({error.field: [error.message]}, status=status.HTTP_400_BAD_REQUEST)


class PatientTokenApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PatientCodeAddressThrottle, PatientCodeAccountThrottle]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PatientTokenInput"

        phone = E164PhoneField()
        code = serializers.RegexField(r"^\d{6}$", error_messages={"invalid": "The code is six digits."})

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PatientToken"

        token = serializers.CharField()
        expires_at = serializers.DateTimeField()
        patient = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, 400: OpenApiResponse()})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            issued, patient = patient_token_exchange(request=request._request, **data.validated_data)
        except AuthenticationFailed as error:
            return Response({"code": [str(error)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            self.OutputSerializer({"token": issued.key, "expires_at": issued.expires_at, "patient": patient.pk}).data
        )


class TokenLogoutApi(LogoutView):
    # The token read through the cache, like every other view (knox's view names its
    # own class): one token scheme in the schema, and the cache entry goes with the token.
    authentication_classes = [CachedTokenAuthentication]
    permission_classes = [IsClinicStaffOrPatient]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, format: Any = None) -> Response:
        response = super().post(request, format)
        response.status_code = status.HTTP_204_NO_CONTENT
        response.data = None
        return response


class ClinicApi(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ClinicSerializer
    permission_classes = [IsClinicStaff]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Clinic.objects.none()
        return scoping.clinic_list_for(user=self.request.user)


class AuditedModelViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Every read and write of patient data through this viewset leaves an audit record
    (one per object, naming its patient), written in the same transaction as a write."""

    audit_object_type = ""
    http_method_names = ["get", "post", "patch", "head", "options"]
    # Filters by id narrow the scoped list, never look the id up (backend.filters).
    filter_backends = [FilterBackend]

    def patient_id_of(self, obj: Any) -> int:
        raise NotImplementedError

    def audit(self, action: AuditAction, objects: list[Any]) -> None:
        audit_record(
            actor=self.request.user,
            action=action,
            object_type=self.audit_object_type,
            objects=[(obj.pk, self.patient_id_of(obj)) for obj in objects],
            clinic_id=getattr(self.request.user, "clinic_id", None),
            audit=AuditContext.of(self.request._request),
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        self.audit(AuditAction.READ, rows)
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        self.audit(AuditAction.READ, [instance])
        return Response(self.get_serializer(instance).data)

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            instance = self.save_new(serializer)
            self.audit(AuditAction.CREATE, [instance])

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            before = {name: getattr(serializer.instance, name) for name in serializer.validated_data}
            instance = serializer.save()
            self.audit(AuditAction.UPDATE, [instance])
            changed = frozenset(name for name, value in before.items() if getattr(instance, name) != value)
            if changed:
                # Apps built on the core follow changes here (e.g. the follow-up plan).
                record_changed.send(
                    sender=type(instance),
                    instance=instance,
                    changed=changed,
                    by=self.request.user,
                    audit=AuditContext.of(self.request._request),
                )

    def save_new(self, serializer: serializers.BaseSerializer) -> Any:
        return serializer.save()


class PatientApi(AuditedModelViewSet):
    serializer_class = PatientSerializer
    permission_classes = [IsClinicStaff]
    audit_object_type = "patient"
    filterset_fields = ["mrn", "care_team", "language"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Patient.objects.none()
        return scoping.patient_list_for(user=self.request.user).order_by("id")

    def patient_id_of(self, obj: Patient) -> int:
        return obj.pk

    def save_new(self, serializer: serializers.BaseSerializer) -> Patient:
        return serializer.save(clinic_id=self.request.user.clinic_id)


class EpisodeApi(AuditedModelViewSet):
    serializer_class = EpisodeSerializer
    permission_classes = [IsClinicStaff]
    audit_object_type = "episode"
    filterset_fields = ["patient"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Episode.objects.none()
        return scoping.episode_list_for(user=self.request.user).order_by("id")

    def patient_id_of(self, obj: Episode) -> int:
        return obj.patient_id
