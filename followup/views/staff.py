"""Staff pages for plans: sign-in, the clinic's day, a patient's plan with forms to add,
move and cancel check-ins and appointments.

Doorways: each view checks the caller (clinic staff, signed in with the session),
scopes every object to the caller's clinic (another clinic's patient is a 404, H12),
parses a form, calls one service and redirects (POST/redirect/GET). Every page that
shows patient data writes its audit rows; the services audit their writes. Pages are
rendered in the staff member's language (LocaleMiddleware, the language switch).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Episode, Patient, User
from followup import selectors
from followup.dashboard.selectors import check_in_unanswered_labels
from followup.dashboard.worklist_texts import worklist_with_details
from followup.forms import (
    AppointmentAddForm,
    AppointmentMoveForm,
    CheckInAddForm,
    CheckInMoveForm,
    EnrollForm,
    PatientActionForm,
    WorklistDoneForm,
)
from followup.models import Appointment, Enrollment, ScheduledCheckIn
from followup.services.appointment_changes import appointment_create, appointment_update
from followup.services.enrollment import enrollment_create
from followup.services.scheduled_checkins import (
    scheduled_checkin_cancel,
    scheduled_checkin_create,
    scheduled_checkin_send_now,
    scheduled_checkin_update,
)
from followup.services.scheduling import ScheduleConflict, ScheduleRejected
from followup.services.worklist import worklist_item_done

LOGIN_URL = reverse_lazy("plans-login")
View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Signed in (else to the sign-in page, coming back here) and clinic staff (else
    403: a patient has no business on staff pages)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return HttpResponseRedirect(f"{LOGIN_URL}?next={request.get_full_path()}")
        if not getattr(request.user, "is_clinic_staff", False):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _audit_read(request: HttpRequest, object_type: str, rows: list[Any]) -> None:
    user: User = request.user  # type: ignore[assignment]
    if rows:
        audit_record(
            actor=user,
            action=AuditAction.READ,
            object_type=object_type,
            objects=[(row.pk, row.patient_id if not isinstance(row, Patient) else row.pk) for row in rows],
            clinic_id=user.clinic_id,
            audit=AuditContext.of(request),
        )


# --- sign-in ---------------------------------------------------------------------------------------------


class StaffLogoutView(auth_views.LogoutView):
    next_page = LOGIN_URL


# --- the clinic's day --------------------------------------------------------------------------------------


def _day_param(request: HttpRequest, tz: str) -> date:
    text = request.GET.get("day", "")
    try:
        return date.fromisoformat(text) if text else timezone.now().astimezone(zoneinfo.ZoneInfo(tz)).date()
    except ValueError as error:
        raise Http404("Not a day (YYYY-MM-DD).") from error


@require_GET
@staff_required
def today(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    clinic = user.clinic
    assert clinic is not None
    day = _day_param(request, clinic.timezone)
    plan_day = selectors.clinic_day_get(user=user, day=day)
    # Each item's text in the reader's language where its data allows (a nurse call).
    worklist_with_details(items=plan_day.worklist, language=get_language())
    _audit_read(request, "scheduled_check_in", plan_day.check_ins)
    _audit_read(request, "appointment", plan_day.appointments)
    _audit_read(request, "worklist_item", plan_day.worklist)
    return render(
        request,
        "followup/plans/today.html",
        {
            "day": plan_day,
            "clinic": clinic,
            "previous_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "is_today": day == timezone.now().astimezone(zoneinfo.ZoneInfo(clinic.timezone)).date(),
            "now": timezone.now(),
        },
    )


@require_POST
@staff_required
def worklist_done(request: HttpRequest, item_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    item = selectors.worklist_item_list(user=user).filter(pk=item_id).first()
    if item is None:
        raise Http404
    form = WorklistDoneForm(request.POST)
    if not form.is_valid() or form.cleaned_data["patient"] != item.patient_id:
        messages.error(request, _("That item belongs to another patient. Reload the page and try again."))
    else:
        worklist_item_done(item=item, by=user, audit=AuditContext.of(request))
        messages.success(
            request,
            _("Done: %(name)s (MRN %(mrn)s).")
            % {"name": f"{item.patient.given_name} {item.patient.family_name}", "mrn": item.patient.mrn},
        )
    return _back(request, reverse("plans-today"))


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or default
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = default
    return HttpResponseRedirect(target)


# --- patients ----------------------------------------------------------------------------------------------


@require_GET
@staff_required
def patient_search(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    query = request.GET.get("q", "").strip()
    patients: list[Patient] = []
    if query:
        words = Q()
        for word in query.split()[:3]:
            words &= Q(mrn__iexact=word) | Q(given_name__icontains=word) | Q(family_name__icontains=word)
        patients = list(
            Patient.objects.filter(words, clinic_id=user.clinic_id).order_by("family_name", "given_name")[:50]
        )
        if len(patients) == 1 and patients[0].mrn.lower() == query.lower():
            return HttpResponseRedirect(reverse("plans-patient", args=[patients[0].pk]))
    _audit_read(request, "patient", patients)
    return render(request, "followup/plans/patients.html", {"query": query, "patients": patients})


def _patient_or_404(request: HttpRequest, patient_id: int) -> Patient:
    patient = selectors.patient_get(user=request.user, patient_id=patient_id)  # type: ignore[arg-type]
    if patient is None:
        raise Http404
    return patient


def _local(moment: datetime | None, tz: str) -> datetime | None:
    return moment.astimezone(zoneinfo.ZoneInfo(tz)) if moment is not None else None


def _past_before_param(request: HttpRequest) -> tuple[datetime, int] | None:
    """``?past_before=`` as the page wrote it (``<unix microseconds>.<id>``)."""
    text = request.GET.get("past_before", "")
    if not text:
        return None
    micros, _dot, pk = text.partition(".")
    if not (micros.isascii() and micros.isdigit() and pk.isascii() and pk.isdigit() and len(micros) <= 18):
        raise Http404("Not a position of this page.")
    try:
        return datetime.fromtimestamp(int(micros) / 1_000_000, tz=zoneinfo.ZoneInfo("UTC")), int(pk)
    except (OverflowError, OSError, ValueError) as error:
        raise Http404("Not a position of this page.") from error


def _position(moment: datetime, pk: int) -> str:
    return f"{round(moment.timestamp() * 1_000_000)}.{pk}"


def _check_in_items(
    plan: selectors.PatientPlan, *, forms: dict[str, Any], tz: str, now: datetime, kwargs: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The plan's open check-ins as rows with their forms, and the page of closed ones
    (no forms: nothing about them can change)."""
    # The answers of each scheduled check-in (select_related): a partial one (H16) is
    # shown as such, with its unanswered questions' labels (a fixed number of queries).
    rows = plan.check_ins + plan.past_check_ins
    answered = {row.pk: getattr(row, "check_in", None) for row in rows}
    unanswered = check_in_unanswered_labels([one for one in answered.values() if one is not None])

    def item(row: ScheduledCheckIn, *, with_forms: bool) -> dict[str, Any]:
        closes_at = row.due_at + timedelta(minutes=row.window_minutes)
        key = f"move-check-in-{row.pk}"
        result = answered[row.pk]
        one = {
            "row": row,
            "partial": result is not None and not result.complete,
            "unanswered": unanswered.get(result.pk, ()) if result is not None else (),
            "due_local": _local(row.due_at, tz),
            "closes_local": _local(closes_at, tz),
            "movable": row.status == ScheduledCheckIn.Status.SCHEDULED and closes_at > now,
            "open": row.status in selectors.OPEN_CHECKIN_STATUSES and closes_at > now,
            "form_key": key,
        }
        if with_forms:
            one["move_form"] = forms.get(key) or CheckInMoveForm(
                initial={"due_at": _local(row.due_at, tz)}, auto_id=f"{key}-%s", **kwargs
            )
        return one

    return [item(row, with_forms=True) for row in plan.check_ins], [
        item(row, with_forms=False) for row in plan.past_check_ins
    ]


def _render_plan(
    request: HttpRequest, patient: Patient, *, forms: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    """The plan page; ``forms`` holds a bound form with errors to show in place of the
    blank one of the same key (``add-check-in``, ``move-check-in-12``...). What is to
    come is shown whole; closed check-ins a page at a time (``?past_before=``)."""
    past_before = _past_before_param(request) if request.method == "GET" else None
    plan = selectors.patient_plan_get(patient=patient, past_before=past_before)
    worklist_with_details(items=plan.worklist, language=get_language())
    forms = forms or {}
    tz = patient.timezone
    now = timezone.now()
    kwargs = {"tz": tz, "patient_id": patient.pk}
    check_ins, closed = _check_in_items(plan, forms=forms, tz=tz, now=now, kwargs=kwargs)
    appointments = []
    for appointment in plan.appointments:
        key = f"move-appointment-{appointment.pk}"
        appointments.append(
            {
                "row": appointment,
                "starts_local": _local(appointment.starts_at, tz),
                "movable": appointment.status
                in (Appointment.Status.PROPOSED, Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED),
                "move_form": forms.get(key)
                or AppointmentMoveForm(
                    initial={"starts_at": _local(appointment.starts_at, tz)}, auto_id=f"{key}-%s", **kwargs
                ),
                "form_key": key,
            }
        )
    upcoming = [item for item in check_ins if item["open"] or item["row"].status == ScheduledCheckIn.Status.SCHEDULED]
    # Sent, window closed, not yet marked missed by the tick: the newest of the past.
    waiting = [item for item in check_ins if item not in upcoming]
    past = (list(reversed(waiting)) if past_before is None else []) + closed
    # The next month in full; the rest of the five-year plan folded away.
    horizon = now + timedelta(days=31)
    soon = [item for item in upcoming if item["row"].due_at <= horizon]
    later = [item for item in upcoming if item["row"].due_at > horizon]
    episodes = Episode.objects.filter(patient=patient).order_by("-discharge_date")
    active = plan.enrollment if plan.enrollment and plan.enrollment.status == Enrollment.Status.ACTIVE else None
    _audit_read(request, "patient", [patient])
    _audit_read(request, "scheduled_check_in", plan.check_ins + plan.past_check_ins)
    _audit_read(request, "appointment", plan.appointments)
    context = {
        "patient": patient,
        "plan": plan,
        "enrollment": active,
        "upcoming_check_ins": soon,
        "later_check_ins": later,
        "past_check_ins": past,
        "past_total": plan.past_count + len(waiting),
        "past_older": _position(*plan.past_older) if plan.past_older else None,
        "past_paged": past_before is not None,
        "appointments": appointments,
        "tz": tz,
        "now_local": _local(now, tz),
        "add_check_in_form": forms.get("add-check-in") or CheckInAddForm(auto_id="add-check-in-%s", **kwargs),
        "add_appointment_form": forms.get("add-appointment")
        or AppointmentAddForm(auto_id="add-appointment-%s", **kwargs),
        "enroll_form": forms.get("enroll")
        or (EnrollForm(episodes=episodes, auto_id="enroll-%s", **kwargs) if active is None else None),
        "action_form": PatientActionForm(**kwargs),
        "form_errors": {key: form for key, form in forms.items() if form.errors},
    }
    return render(request, "followup/plans/patient.html", context, status=status)


@require_GET
@staff_required
def patient_plan(request: HttpRequest, patient_id: int) -> HttpResponse:
    return _render_plan(request, _patient_or_404(request, patient_id))


def _plan_url(patient: Patient, anchor: str = "") -> str:
    url = reverse("plans-patient", args=[patient.pk])
    return f"{url}#{anchor}" if anchor else url


def _service_error(form: Any, error: ScheduleRejected | ScheduleConflict, default_field: str) -> None:
    if isinstance(error, ScheduleRejected):
        for name, problems in error.errors.items():
            field = name if name in form.fields else None
            if name in ("due_at", "starts_at") and default_field in form.fields:
                field = default_field
            elif name == "window_minutes" and "window_hours" in form.fields:
                field = "window_hours"
            for problem in problems:
                form.add_error(field, problem)
    else:
        form.add_error(None, error.detail)


def _patient_action(
    request: HttpRequest,
    patient_id: int,
    *,
    form_class: type,
    form_key: str,
    act: Callable[[Patient, Any], str],
    anchor: str,
    default_field: str = "",
    form_kwargs: dict[str, Any] | None = None,
) -> HttpResponse:
    """The shape every plan form shares: scope the patient, bind and check the form
    (the hidden patient id must be this page's, H5), run the service, say what was
    done naming the patient, or show the page again with the errors (400)."""
    patient = _patient_or_404(request, patient_id)
    form = form_class(
        request.POST, tz=patient.timezone, patient_id=patient.pk, auto_id=f"{form_key}-%s", **(form_kwargs or {})
    )
    if form.is_valid():
        try:
            done = act(patient, form.cleaned_data)
        except (ScheduleRejected, ScheduleConflict) as error:
            _service_error(form, error, default_field)
        else:
            messages.success(
                request,
                _("%(done)s for %(name)s (MRN %(mrn)s).")
                % {"done": done, "name": f"{patient.given_name} {patient.family_name}", "mrn": patient.mrn},
            )
            return HttpResponseRedirect(_plan_url(patient, anchor))
    return _render_plan(request, patient, forms={form_key: form}, status=400)


def _check_in_of(patient: Patient, check_in_id: int) -> ScheduledCheckIn:
    row = ScheduledCheckIn.objects.filter(pk=check_in_id, patient=patient).first()
    if row is None:
        raise Http404
    return row


def _appointment_of(patient: Patient, appointment_id: int) -> Appointment:
    row = Appointment.objects.filter(pk=appointment_id, patient=patient).first()
    if row is None:
        raise Http404
    return row


@require_POST
@staff_required
def check_in_add(request: HttpRequest, patient_id: int) -> HttpResponse:
    def act(patient: Patient, data: dict[str, Any]) -> str:
        scheduled_checkin_create(
            patient=patient,
            due_at=data["due_at"],
            window_minutes=data["window_hours"] * 60,
            channel=data["channel"],
            by=request.user,  # type: ignore[arg-type]
            audit=AuditContext.of(request),
        )
        return _("Check-in added")

    return _patient_action(
        request,
        patient_id,
        form_class=CheckInAddForm,
        form_key="add-check-in",
        act=act,
        anchor="check-ins",
        default_field="due_at",
    )


@require_POST
@staff_required
def check_in_move(request: HttpRequest, patient_id: int, check_in_id: int) -> HttpResponse:
    def act(patient: Patient, data: dict[str, Any]) -> str:
        scheduled_checkin_update(
            scheduled_check_in=_check_in_of(patient, check_in_id),
            due_at=data["due_at"],
            by=request.user,  # type: ignore[arg-type]
            audit=AuditContext.of(request),
        )
        return _("Check-in moved")

    return _patient_action(
        request,
        patient_id,
        form_class=CheckInMoveForm,
        form_key=f"move-check-in-{check_in_id}",
        act=act,
        anchor="check-ins",
        default_field="due_at",
    )


@require_POST
@staff_required
def check_in_cancel(request: HttpRequest, patient_id: int, check_in_id: int) -> HttpResponse:
    def act(patient: Patient, data: dict[str, Any]) -> str:
        scheduled_checkin_cancel(
            scheduled_check_in=_check_in_of(patient, check_in_id),
            by=request.user,  # type: ignore[arg-type]
            audit=AuditContext.of(request),
        )
        return _("Check-in cancelled")

    return _patient_action(
        request,
        patient_id,
        form_class=PatientActionForm,
        form_key=f"move-check-in-{check_in_id}",
        act=act,
        anchor="check-ins",
    )


@require_POST
@staff_required
def check_in_send_now(request: HttpRequest, patient_id: int, check_in_id: int) -> HttpResponse:
    def act(patient: Patient, data: dict[str, Any]) -> str:
        scheduled_checkin_send_now(
            scheduled_check_in=_check_in_of(patient, check_in_id),
            by=request.user,  # type: ignore[arg-type]
            audit=AuditContext.of(request),
        )
        return _("Check-in sent now")

    return _patient_action(
        request,
        patient_id,
        form_class=PatientActionForm,
        form_key=f"move-check-in-{check_in_id}",
        act=act,
        anchor="check-ins",
    )


@require_POST
@staff_required
def appointment_add(request: HttpRequest, patient_id: int) -> HttpResponse:
    def act(patient: Patient, data: dict[str, Any]) -> str:
        appointment_create(
            patient=patient,
            kind=data["kind"],
            starts_at=data["starts_at"],
            reason=data["reason"],
            video_url=data["video_url"],
            by=request.user,  # type: ignore[arg-type]
            audit=AuditContext.of(request),
        )
        return _("Appointment added")

    return _patient_action(
        request,
        patient_id,
        form_class=AppointmentAddForm,
        form_key="add-appointment",
        act=act,
        anchor="appointments",
        default_field="starts_at",
    )


@require_POST
@staff_required
def appointment_move(request: HttpRequest, patient_id: int, appointment_id: int) -> HttpResponse:
    def act(patient: Patient, data: dict[str, Any]) -> str:
        appointment_update(
            appointment=_appointment_of(patient, appointment_id),
            starts_at=data["starts_at"],
            by=request.user,  # type: ignore[arg-type]
            audit=AuditContext.of(request),
        )
        return _("Appointment moved")

    return _patient_action(
        request,
        patient_id,
        form_class=AppointmentMoveForm,
        form_key=f"move-appointment-{appointment_id}",
        act=act,
        anchor="appointments",
        default_field="starts_at",
    )


@require_POST
@staff_required
def appointment_cancel(request: HttpRequest, patient_id: int, appointment_id: int) -> HttpResponse:
    def act(patient: Patient, data: dict[str, Any]) -> str:
        appointment_update(
            appointment=_appointment_of(patient, appointment_id),
            status=Appointment.Status.CANCELLED,
            by=request.user,  # type: ignore[arg-type]
            audit=AuditContext.of(request),
        )
        return _("Appointment cancelled")

    return _patient_action(
        request,
        patient_id,
        form_class=PatientActionForm,
        form_key=f"move-appointment-{appointment_id}",
        act=act,
        anchor="appointments",
    )


@require_POST
@staff_required
def enroll(request: HttpRequest, patient_id: int) -> HttpResponse:
    def act(patient: Patient, data: dict[str, Any]) -> str:
        enrollment_create(
            episode=data["episode"],
            protocol_slug="post-hepatectomy",
            has_pulse_device=data["has_pulse_device"],
            channel=data["channel"],
            by=request.user,  # type: ignore[arg-type]
            audit=AuditContext.of(request),
        )
        return _("Enrolled; the plan is below")

    patient = _patient_or_404(request, patient_id)
    return _patient_action(
        request,
        patient_id,
        form_class=EnrollForm,
        form_key="enroll",
        act=act,
        anchor="check-ins",
        form_kwargs={"episodes": Episode.objects.filter(patient=patient)},
    )
