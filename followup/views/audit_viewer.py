"""The clinic admin's audit viewer (issue 20): ``/audit/`` lists who read or changed
which patient in their clinic, filtered by user, patient and day, fifty a page;
``?format=csv`` downloads every matching record. Only the role admin; each page view
and each export is itself an audit record (backend.audit_search)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from backend.audit import AuditContext
from backend.audit_search import AuditFilters, audit_csv_lines, audit_log_read_record, clinic_audit_records
from backend.models import Role, User
from followup.views.staff import staff_required

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label=gettext_lazy("Staff member"))
    patient = forms.IntegerField(required=False, min_value=1, label=gettext_lazy("Patient id"))
    since = forms.DateField(required=False, label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        required=False, label=gettext_lazy("To (inclusive)"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: object, clinic_id: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        staff = User.objects.filter(clinic_id=clinic_id).exclude(role=Role.PATIENT).order_by("username")
        self.fields["user"].queryset = staff  # type: ignore[attr-defined]

    def filters(self, tz: zoneinfo.ZoneInfo) -> AuditFilters:
        """Days are the clinic's days: from its midnight to the midnight after ``until``."""
        data = self.cleaned_data
        since = datetime.combine(data["since"], time(), tzinfo=tz) if data.get("since") else None
        until = datetime.combine(data["until"] + timedelta(days=1), time(), tzinfo=tz) if data.get("until") else None
        user = data.get("user")
        return AuditFilters(user_id=user.pk if user else None, patient_id=data.get("patient"), since=since, until=until)


@require_GET
@staff_required
def audit_viewer(request: HttpRequest) -> HttpResponse:
    admin: User = request.user  # type: ignore[assignment]
    if admin.role != Role.ADMIN:
        raise PermissionDenied
    assert admin.clinic is not None  # staff_required
    form = AuditFilterForm(request.GET, clinic_id=admin.clinic_id)  # type: ignore[arg-type]
    if not form.is_valid():
        return render(request, "followup/staff/audit.html", {"form": form, "page": None}, status=400)
    filters = form.filters(zoneinfo.ZoneInfo(admin.clinic.timezone))
    records = clinic_audit_records(clinic_id=admin.clinic_id, filters=filters)  # type: ignore[arg-type]
    exported = request.GET.get("format") == "csv"
    audit_log_read_record(actor=admin, filters=filters, exported=exported, audit=AuditContext.of(request))
    if exported:
        response = StreamingHttpResponse(audit_csv_lines(records.iterator()), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="vigil-audit.csv"'
        return response
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    return render(request, "followup/staff/audit.html", {"form": form, "page": page, "query": query.urlencode()})
