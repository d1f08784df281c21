"""``GET/PATCH /api/v1/staff/me/``: a staff member's own profile (API.md, clinic core).

``language`` is the only thing they change here: the language of their pages and of
every SMS Vigil sends them (empty: their clinic's default). Username, role and clinic
are the clinic administrator's to change, so a PATCH naming them is a 400, not
silently ignored."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.models import LANGUAGE_CHOICES, User
from backend.permissions import IsClinicStaff


class StaffMeSerializer(serializers.ModelSerializer):
    language = serializers.ChoiceField(choices=LANGUAGE_CHOICES, allow_blank=True)

    class Meta:
        model = User
        ref_name = "StaffMe"
        fields = ["id", "username", "role", "clinic", "language"]
        read_only_fields = ["id", "username", "role", "clinic"]

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        fixed = sorted(set(self.initial_data) - {"language"})
        if fixed:
            raise serializers.ValidationError({name: ["This field cannot be changed here."] for name in fixed})
        return attrs


class StaffMeApi(APIView):
    permission_classes = [IsClinicStaff]

    @extend_schema(responses={200: StaffMeSerializer})
    def get(self, request: Request) -> Response:
        return Response(StaffMeSerializer(request.user).data)

    @extend_schema(request=StaffMeSerializer, responses={200: StaffMeSerializer})
    def patch(self, request: Request) -> Response:
        user: User = request.user  # type: ignore[assignment]
        serializer = StaffMeSerializer(user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "language" in serializer.validated_data:
            user.language = serializer.validated_data["language"]
            user.save(update_fields=["language"])
        return Response(StaffMeSerializer(user).data)
