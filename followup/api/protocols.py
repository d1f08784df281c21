"""Protocols API: questions (type, unit, range, choices, text per language with its
review status), schedule template, rules and version.

Staff see every protocol at its current version (``?version=`` shows an older
published one). A patient sees only the protocol they are enrolled on, at the version
they are enrolled on: the app renders exactly the questions the server validates
against. Another protocol is a 404 for them, as anything not theirs is."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.models import User
from backend.permissions import IsClinicStaffOrPatient
from followup.models import Enrollment, ProtocolVersion
from followup.services.protocols import protocol_definition, protocol_versions_sync


def protocol_version_data(version: ProtocolVersion) -> dict[str, Any]:
    data = protocol_definition(version).as_api_dict()
    # The published version's name: the file's version string, suffixed when the
    # content changed without it (see protocol_version_current).
    data["version"] = version.version
    data["published_at"] = version.published_at.isoformat().replace("+00:00", "Z")
    data["is_current"] = version.is_current
    return data


def _visible_versions(user: User) -> list[ProtocolVersion]:
    if user.is_patient:
        enrollments = (
            Enrollment.objects.filter(patient__user=user, status=Enrollment.Status.ACTIVE)
            .select_related("protocol_version__protocol")
            .order_by("-enrolled_at", "-id")
        )
        versions: dict[str, ProtocolVersion] = {}
        for enrollment in enrollments:
            versions.setdefault(enrollment.protocol_version.protocol.slug, enrollment.protocol_version)
        return [versions[slug] for slug in sorted(versions)]
    # The files are the source: publish what changed before listing (cached by the
    # files' modification times, so an unchanged file costs a stat, not a parse).
    protocol_versions_sync()
    return list(ProtocolVersion.objects.filter(is_current=True).select_related("protocol").order_by("protocol__slug"))


class ProtocolListApi(APIView):
    permission_classes = [IsClinicStaffOrPatient]

    @extend_schema(operation_id="protocols_list", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        results = [protocol_version_data(version) for version in _visible_versions(request.user)]
        return Response({"count": len(results), "next": None, "previous": None, "results": results})


class ProtocolDetailApi(APIView):
    permission_classes = [IsClinicStaffOrPatient]

    @extend_schema(
        operation_id="protocols_retrieve",
        parameters=[OpenApiParameter("version", OpenApiTypes.STR, description="staff: a published older version")],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, slug: str) -> Response:
        user = request.user
        wanted = request.query_params.get("version")
        if user.is_clinic_staff and wanted:
            protocol_versions_sync()
            version = (
                ProtocolVersion.objects.filter(protocol__slug=slug, version=wanted).select_related("protocol").first()
            )
        else:
            version = next((v for v in _visible_versions(user) if v.protocol.slug == slug), None)
        if version is None:
            raise NotFound()
        return Response(protocol_version_data(version))
