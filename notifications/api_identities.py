"""``/api/v1/sending-identities/``: the clinic administrator's sending identities.

``GET`` lists the clinic's, ``POST`` adds one, ``GET/PATCH .../{id}/`` reads or changes
one. Only a clinic's administrator (role ``admin``); another clinic's identity is a
404. No DELETE: ``active: false`` stops sending from it (it still routes replies)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.audit import AuditContext
from backend.models import Role
from backend.serializers import StrictBooleanField, StrictCharField
from notifications.models import SendingIdentity
from notifications.sending_identities import IdentityRejected, sending_identity_list, sending_identity_save


class IsClinicAdmin(BasePermission):
    """Active staff of a clinic in the administrator role."""

    message = "This endpoint is for the clinic's administrator."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        return bool(user and user.is_authenticated and user.is_clinic_staff and user.role == Role.ADMIN)


class SendingIdentityInput(serializers.Serializer):
    country_code = StrictCharField(
        required=False, allow_blank=True, max_length=4, help_text="Destination calling code (90, 994); empty: default."
    )
    is_default = StrictBooleanField(required=False, help_text="Used for every country without its own identity.")
    from_number = StrictCharField(required=False, allow_blank=True, max_length=20, help_text="E.164.")
    messaging_service_sid = StrictCharField(
        required=False, allow_blank=True, max_length=34, help_text="MG followed by 32 hexadecimal digits."
    )
    active = StrictBooleanField(required=False)

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs


class SendingIdentityOutput(serializers.Serializer):
    id = serializers.IntegerField()
    country_code = serializers.CharField(allow_blank=True)
    is_default = serializers.BooleanField()
    from_number = serializers.CharField(allow_blank=True)
    messaging_service_sid = serializers.CharField(allow_blank=True)
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def _rejected(error: IdentityRejected) -> Response:
    return Response(error.errors, status=status.HTTP_400_BAD_REQUEST)


class SendingIdentityListApi(APIView):
    permission_classes = [IsClinicAdmin]

    @extend_schema(responses={200: SendingIdentityOutput(many=True)})
    def get(self, request: Request) -> Response:
        identities = sending_identity_list(clinic_id=request.user.clinic_id)
        return Response(SendingIdentityOutput(identities, many=True).data)

    @extend_schema(request=SendingIdentityInput, responses={201: SendingIdentityOutput})
    def post(self, request: Request) -> Response:
        data = SendingIdentityInput(data=request.data)
        data.is_valid(raise_exception=True)
        identity = SendingIdentity(clinic_id=request.user.clinic_id)
        try:
            sending_identity_save(
                identity=identity,
                changes=dict(data.validated_data),
                by=request.user,
                audit=AuditContext.of(request._request),
            )
        except IdentityRejected as error:
            return _rejected(error)
        return Response(SendingIdentityOutput(identity).data, status=status.HTTP_201_CREATED)


class SendingIdentityDetailApi(APIView):
    permission_classes = [IsClinicAdmin]

    def _identity(self, request: Request, pk: int) -> SendingIdentity:
        return get_object_or_404(sending_identity_list(clinic_id=request.user.clinic_id), pk=pk)

    @extend_schema(responses={200: SendingIdentityOutput})
    def get(self, request: Request, pk: int) -> Response:
        return Response(SendingIdentityOutput(self._identity(request, pk)).data)

    @extend_schema(request=SendingIdentityInput, responses={200: SendingIdentityOutput})
    def patch(self, request: Request, pk: int) -> Response:
        identity = self._identity(request, pk)
        data = SendingIdentityInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            sending_identity_save(
                identity=identity,
                changes=dict(data.validated_data),
                by=request.user,
                audit=AuditContext.of(request._request),
            )
        except IdentityRejected as error:
            return _rejected(error)
        return Response(SendingIdentityOutput(identity).data)
