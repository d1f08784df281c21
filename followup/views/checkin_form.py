"""The patient's web check-in: ``/c/<token>/``, the page the SMS link opens.

No sign-in: the signed link is the key, for that one scheduled check-in, until its
window closes plus a little slack (a patient who opened the form at 20:55 can still
send it at 21:05). It is answered once; the link then says so. The page is in the
patient's language, asks the questions of the check-in's phase with the protocol's
skip logic, posts through ``checkin_submit`` (channel ``web``) and shows the triage
result at once: red advice with the clinic's phone in big letters (H2). Answers the
service refuses are shown again, each error under its question (H4).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction
from followup.forms import CheckInAnswersForm, question_views
from followup.links import checkin_link_read
from followup.models import Enrollment, ScheduledCheckIn
from followup.protocols import validate_answers
from followup.services.checkin_rate import CheckInRateExceeded, checkin_submit_within_rate
from followup.services.checkins import CheckInRejected
from followup.services.protocols import protocol_definition
from followup.services.scheduling import MAX_WINDOW_MINUTES
from followup.services.triage import clinic_phone_display

# After the window closes the link keeps working this long, for answers being typed.
LINK_SLACK = timedelta(hours=2)
# No link outlives the longest window plus the slack, whatever the check-in says.
LINK_MAX_AGE_SECONDS = int((timedelta(minutes=MAX_WINDOW_MINUTES) + timedelta(days=1)).total_seconds())


@dataclass(frozen=True)
class LinkState:
    scheduled: ScheduledCheckIn | None
    state: str  # form, answered, cancelled, closed, invalid


def _link_state(token: str, now: datetime) -> LinkState:
    try:
        scheduled_id = checkin_link_read(token=token, max_age_seconds=LINK_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        return LinkState(None, "closed")
    except (signing.BadSignature, ValueError):
        return LinkState(None, "invalid")
    scheduled = (
        ScheduledCheckIn.objects.select_related(
            "patient__clinic", "enrollment__episode", "enrollment__protocol_version"
        )
        .filter(pk=scheduled_id)
        .first()
    )
    if scheduled is None:
        return LinkState(None, "invalid")
    if scheduled.status == ScheduledCheckIn.Status.COMPLETED or hasattr(scheduled, "check_in"):
        return LinkState(scheduled, "answered")
    if scheduled.status == ScheduledCheckIn.Status.CANCELLED:
        return LinkState(scheduled, "cancelled")
    enrollment = scheduled.enrollment
    closes_at = scheduled.due_at + timedelta(minutes=scheduled.window_minutes)
    if enrollment is None or enrollment.status != Enrollment.Status.ACTIVE or now > closes_at + LINK_SLACK:
        return LinkState(scheduled, "closed")
    return LinkState(scheduled, "form")


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], *, language: str, status: int = 200
) -> HttpResponse:
    with translation.override(language):
        response = render(request, template, {**context, "LANGUAGE_CODE": language}, status=status)
    response.headers["Content-Language"] = language
    # The page may hold a patient's answers: never_cache keeps it out of a shared
    # browser's cache, and the site's Referrer-Policy (same-origin) keeps the link out
    # of other sites' logs. "no-referrer" would be stricter but makes the browser send
    # "Origin: null" with the form, which CSRF protection rightly refuses.
    return response


def _too_many_page(
    request: HttpRequest, base: dict[str, Any], exceeded: CheckInRateExceeded, *, language: str
) -> HttpResponse:
    """Past the protocol's rate (a link re-sent in a loop): nothing stored, come back later."""
    minutes = max(1, -(-exceeded.retry_after // 60))
    response = _page(
        request, "followup/checkin/too_many.html", {**base, "minutes": minutes}, language=language, status=429
    )
    response.headers["Retry-After"] = str(exceeded.retry_after)
    return response


def _questions(scheduled: ScheduledCheckIn) -> tuple[Any, list[Any]]:
    enrollment = scheduled.enrollment
    assert enrollment is not None
    definition = protocol_definition(enrollment.protocol_version)
    flags = {
        "drain_at_discharge": enrollment.episode.drain_at_discharge,
        "has_pulse_device": enrollment.has_pulse_device,
    }
    questions = [
        question
        for question in definition.phase_questions(scheduled.phase)
        # Questions asked on a fact of the episode or the enrollment are left out when
        # it does not hold; those asked on an earlier answer stay (the script hides
        # them until the answer asks for them).
        if question.ask_when is None or question.ask_when.flag is None or flags[question.ask_when.flag]
    ]
    return definition, questions


@never_cache
@require_http_methods(["GET", "POST"])
def patient_checkin_form(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    link = _link_state(token, now)
    scheduled = link.scheduled
    if scheduled is None:
        language = translation.get_language() or "en"
        return _page(
            request, "followup/checkin/link_invalid.html", {"state": link.state}, language=language, status=404
        )
    patient = scheduled.patient
    clinic = patient.clinic
    language = patient.language
    base = {"clinic": clinic, "clinic_phone": clinic_phone_display(clinic=clinic), "token": token}
    # The link holder saw that this check-in exists: a read of patient data (H12).
    audit_record(
        actor=None,
        action=AuditAction.READ,
        object_type="scheduled_check_in",
        objects=[(scheduled.pk, patient.pk)],
        clinic_id=clinic.pk,
        audit=AuditContext.of(request),
    )
    if link.state != "form":
        status = 410 if link.state in ("closed", "cancelled") else 200
        return _page(
            request, "followup/checkin/closed.html", {**base, "state": link.state}, language=language, status=status
        )

    definition, questions = _questions(scheduled)
    form = CheckInAnswersForm(questions=questions, data=request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            # Name every problem at once, not the unreadable answers first and the
            # missing ones on the next try: the protocol's own validation (pure, it
            # stores nothing) judges the answers that could be read.
            _cleaned, other_errors = validate_answers(
                definition,
                form.answers,
                phase=scheduled.phase,  # type: ignore[arg-type]
                drain_at_discharge=scheduled.enrollment.episode.drain_at_discharge,  # type: ignore[union-attr]
                has_pulse_device=scheduled.enrollment.has_pulse_device,  # type: ignore[union-attr]
            )
            form.add_errors({key: value for key, value in other_errors.items() if key not in form.errors})
        else:
            # Missed a moment ago (the window closed while the patient was typing):
            # the answers still go in, as an unscheduled check-in, and are judged; a
            # red answer must never be lost to a clock (H2).
            linked = scheduled.pk if scheduled.status != ScheduledCheckIn.Status.MISSED else None
            try:
                with translation.override(language):
                    result = checkin_submit_within_rate(
                        patient_id=patient.pk,
                        answers=form.answers,
                        scheduled_check_in_id=linked,
                        channel="web",
                        rate_limit=definition.schedule.max_check_ins_per_hour,
                        audit=AuditContext.of(request),
                    )
            except CheckInRateExceeded as exceeded:
                return _too_many_page(request, base, exceeded, language=language)
            except CheckInRejected as rejected:
                if rejected.status_code == 409:
                    return _page(
                        request, "followup/checkin/closed.html", {**base, "state": "answered"}, language=language
                    )
                answer_errors = rejected.errors.get("answers", {})
                if isinstance(answer_errors, dict):
                    form.add_errors(answer_errors)
                else:
                    form.add_errors({"__all__": list(answer_errors)})
                for name, messages in rejected.errors.items():
                    if name != "answers":
                        form.add_errors({"__all__": list(messages)})
            else:
                return _page(
                    request,
                    "followup/checkin/result.html",
                    {**base, "level": result.level, "advice": result.advice},
                    language=language,
                )
        status = 400
    closes_at = scheduled.due_at + timedelta(minutes=scheduled.window_minutes)
    context = {
        **base,
        "questions": question_views(protocol=definition, questions=questions, language=language, form=form),
        "general_errors": form.errors.get("__all__", []),
        "has_errors": bool(form.errors),
        # Day.month.year and 24-hour time, on the patient's own clock.
        "closes_at": closes_at.astimezone(zoneinfo.ZoneInfo(patient.timezone)).strftime("%d.%m.%Y %H:%M"),
    }
    return _page(request, "followup/checkin/form.html", context, language=language, status=status)
