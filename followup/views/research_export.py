"""The clinic admin's research export download (issue 21): ``/research-export/`` says
what the file holds and leaves out; posting its form returns the pseudonymised ZIP
(followup.research_export), audited."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from backend.audit import AuditContext
from backend.models import Role, User
from followup.research_export import research_export_build
from followup.views.staff import staff_required


@require_http_methods(["GET", "POST"])
@staff_required
def research_export(request: HttpRequest) -> HttpResponse:
    admin: User = request.user  # type: ignore[assignment]
    if admin.role != Role.ADMIN:
        raise PermissionDenied
    if request.method == "GET":
        return render(request, "followup/staff/research_export.html")
    export = research_export_build(clinic_id=admin.clinic_id, by=admin, audit=AuditContext.of(request))  # type: ignore[arg-type]
    response = HttpResponse(export.content, content_type="application/zip")
    name = f"vigil-research-{timezone.now():%Y%m%d}-{export.export_id}.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
