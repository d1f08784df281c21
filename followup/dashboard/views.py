"""The live dashboard's pages: the alert queue, an alert (the link in staff pages), a
patient's timeline and charts, the clinic's alert metrics.

Doorways: each view checks the caller (clinic staff with the session; a patient is a
403), scopes every object to the caller's clinic (another clinic's alert or patient is
a 404, H12), calls one service or selector and shapes the reply. Pages that show
patient data write their audit rows. Acknowledge and resolve are form posts (they work
without JavaScript, from the SMS link on a phone); the dashboard's script posts the
same forms and asks for JSON.

The queue is audited as one row per view ("alert_queue"): which patients were on it at
that moment follows from the alerts' own timestamps, and one row keeps the first load
at a fixed number of queries however many alerts are open. Opening an alert or a
patient writes a row naming the patient; the patient page also writes one row per SMS
message it shows (one insert), as the messages API does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, get_language_info, gettext, gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_POST

from backend.audit import AuditContext, audit_record
from backend.models import AuditAction, Patient, User
from backend.scoping import patient_list_for
from followup.dashboard import labels, patient_history, selectors
from followup.models import Alert
from followup.rule_titles import alert_protocol, alert_rule_title, alert_rule_titles, rule_title_in
from followup.services.alert_metrics import alert_metrics
from followup.services.alert_review import alert_acknowledge, alert_resolve
from followup.services.alerts import AlertConflict, AlertRejected, alert_data
from followup.services.auditor import auditor_figures
from followup.services.protocols import protocol_definition, protocol_slugs, protocol_version_current
from followup.services.quick_replies import quick_reply_list
from followup.services.sms_reply_figures import sms_reply_figures
from followup.services.staff_replies import REPLY_MAX_LENGTH
from followup.translation_review import review_counts
from notifications.event_feed import feed_position_now

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    """Signed in (else to the sign-in page, coming back here) and clinic staff (else
    403: a patient has no business on the surgical team's pages)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not getattr(request.user, "is_clinic_staff", False):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _staff(request: HttpRequest) -> User:
    user: User = request.user  # type: ignore[assignment]
    return user


def _audit_read(request: HttpRequest, *, object_type: str, objects: list[tuple[object, int | None]]) -> None:
    user = _staff(request)
    audit_record(
        actor=user,
        action=AuditAction.READ,
        object_type=object_type,
        objects=objects,
        clinic_id=user.clinic_id,
        audit=AuditContext.of(request),
    )


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _alert_or_404(request: HttpRequest, alert_id: int) -> Alert:
    alert = selectors.alert_for_staff(clinic_id=_staff(request).clinic_id, alert_id=alert_id)  # type: ignore[arg-type]
    if alert is None:
        raise Http404("No such alert.")
    return alert


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The alert queue. The feed position is taken before the alerts are read, so
    anything committed after the render reaches the page through the websocket."""
    user = _staff(request)
    clinic_id: int = user.clinic_id  # type: ignore[assignment]
    position = feed_position_now()
    cards = selectors.alert_cards(alerts=selectors.dashboard_alert_list(clinic_id=clinic_id), language=get_language())
    _audit_read(request, object_type="alert_queue", objects=[("", None)])
    context = {
        "open_cards": [card for card in cards if card["status"] == Alert.Status.OPEN],
        "acknowledged_cards": [card for card in cards if card["status"] == Alert.Status.ACKNOWLEDGED],
        "exhausted": sum(1 for card in cards if card["escalation_exhausted"]),
        "roster_gaps": selectors.roster_warnings(clinic_id=clinic_id),
        "outcomes": selectors.RESOLVE_OUTCOMES,
        # The words the script writes itself, in the reader's language.
        "script_texts": labels.dashboard_script_texts(),
        "feed": {
            "since": position,
            "path": "/ws/alerts/",
            "staff": selectors.clinic_staff_names(clinic_id=clinic_id),
            "card_url": reverse("dashboard-alert-card", args=[0]).replace("/0/", "/{id}/"),
        },
    }
    return render(request, "followup/dashboard/queue.html", context)


@require_GET
@staff_required
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = _alert_or_404(request, alert_id)
    _audit_read(request, object_type="alert", objects=[(alert.pk, alert.patient_id)])
    staff = selectors.clinic_staff_names(clinic_id=alert.clinic_id)
    steps = [
        {"level": step.level, "user": staff.get(step.user_id) if step.user_id else None, "step": step}
        for step in alert.escalation_steps.all()
    ]
    # The rule's title in the reader's language, from the protocol's translations.
    language = get_language()
    definition = alert_protocol(alert)
    rule_title = alert_rule_title(alert=alert, language=language, definition=definition)
    context = {
        "alert": alert,
        "rule_title": rule_title,
        "card": selectors.alert_card(alert=alert, rule_title=rule_title, definition=definition, language=language),
        "steps": steps,
        "occurrences": list(alert.occurrences.all()),
        "outcomes": selectors.RESOLVE_OUTCOMES,
        "grades": selectors.RESOLVE_GRADES,
        "resolved_by": staff.get(alert.resolved_by_id) if alert.resolved_by_id else None,
    }
    return render(request, "followup/dashboard/alert.html", context)


@require_GET
@staff_required
def alert_card(request: HttpRequest, alert_id: int) -> JsonResponse:
    """One alert as the dashboard's script draws a card that arrived live."""
    alert = _alert_or_404(request, alert_id)
    _audit_read(request, object_type="alert", objects=[(alert.pk, alert.patient_id)])
    card = _card(alert)
    if _staff(request).is_wall_display:
        # A ward screen only watches: its cards carry no action (its writes are 403 anyway).
        for action in ("acknowledge_url", "resolve_url"):
            card.pop(action, None)
    return JsonResponse(card)


def _card(alert: Alert) -> dict[str, Any]:
    """The alert's card in the reader's language (the rule's title from the protocol)."""
    language, definition = get_language(), alert_protocol(alert)
    rule_title = alert_rule_title(alert=alert, language=language, definition=definition)
    return selectors.alert_card(alert=alert, rule_title=rule_title, definition=definition, language=language)


def _back(request: HttpRequest, alert: Alert) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("dashboard-alert", args=[alert.pk])
    return HttpResponseRedirect(target)


def _changed(request: HttpRequest, alert: Alert, message: str) -> HttpResponse:
    if _wants_json(request):
        fresh = _alert_or_404(request, alert.pk)
        return JsonResponse({"alert": alert_data(alert=fresh), "card": _card(fresh)})
    messages.success(request, message)
    return _back(request, alert)


def _refused(request: HttpRequest, alert: Alert, errors: dict[str, Any], status: int) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(errors, status=status)
    for field_errors in errors.values():
        for error in field_errors:
            messages.error(request, error)
    return _back(request, alert)


@require_POST
@staff_required
def alert_acknowledge_view(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = _alert_or_404(request, alert_id)
    try:
        alert = alert_acknowledge(alert=alert, by=_staff(request), audit=AuditContext.of(request))
    except AlertConflict as error:
        return _refused(request, alert, {"status": [str(error)]}, 409)
    return _changed(request, alert, gettext("Acknowledged: escalation stopped."))


@require_POST
@staff_required
def alert_resolve_view(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = _alert_or_404(request, alert_id)
    grade = request.POST.get("complication_grade") or None
    try:
        alert = alert_resolve(
            alert=alert,
            by=_staff(request),
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", "")[:2000],
            complication_grade=grade,
            audit=AuditContext.of(request),
        )
    except AlertRejected as error:
        return _refused(request, alert, error.errors, 400)
    except AlertConflict as error:
        return _refused(request, alert, {"status": [str(error)]}, 409)
    return _changed(request, alert, gettext("Resolved."))


@require_GET
@staff_required
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient's unresolved alerts, charts of the whole follow-up, a page of the
    timeline and of the SMS thread (``patient_history``: bounded queries and rows
    however long the history; ``?older_than=`` and ``?messages_before=`` page back)."""
    patient: Patient | None = (
        patient_list_for(user=_staff(request)).select_related("care_team").filter(pk=patient_id).first()
    )
    if patient is None:
        raise Http404("No such patient.")
    try:
        older_than = patient_history.timeline_cursor_read(request.GET.get("older_than", ""))
        messages_before = patient_history.thread_cursor_read(request.GET.get("messages_before", ""))
    except patient_history.BadCursor as error:
        raise Http404("Not a position of this page.") from error
    thread = patient_history.patient_thread(patient=patient, before=messages_before)
    _audit_read(request, object_type="patient", objects=[(patient.pk, patient.pk)])
    # Each message shown is a read, as in the messages API (H12); one bulk insert.
    _audit_read(request, object_type="sms_message", objects=[(entry_id, patient.pk) for entry_id in thread.entry_ids])
    timeline = patient_history.patient_timeline_page(patient=patient, older_than=older_than)
    open_alerts = patient_history.patient_open_alerts(patient=patient)
    # Each named in the reader's language, from the protocol's translations.
    titles = alert_rule_titles(alerts=open_alerts, language=get_language())
    for alert in open_alerts:
        alert.title_shown = titles[alert.pk]  # type: ignore[attr-defined]
    context = {
        "patient": patient,
        "open_alerts": open_alerts,
        "timeline": timeline.entries,
        "timeline_older": timeline.older,
        "timeline_paged": older_than is not None,
        "series": patient_history.patient_series(patient=patient),
        "thread": thread,
        "thread_paged": messages_before is not None,
        # The reply box (followup.dashboard.replies): the clinic's quick replies in the
        # patient's language, and what the page's script needs to follow the thread live.
        "reply": {
            "quick_replies": quick_reply_list(clinic_id=patient.clinic_id, language=patient.language),
            "max_length": REPLY_MAX_LENGTH,
            "feed": {
                "since": feed_position_now(),
                "path": "/ws/alerts/",
                "patient": patient.pk,
                "timezone": patient.timezone,
                "messages_url": reverse("patient-messages", args=[patient.pk]),
                "last_id": max(thread.entry_ids, default=0),
            },
        },
    }
    return render(request, "followup/dashboard/patient.html", context)


SMS_REPLY_DAYS = 30  # the metrics page's "SMS replies, last 30 days"
ACK_ROWS = (
    (gettext_lazy("All"), "all"),
    (pgettext_lazy("severity", "Red"), "red"),
    (pgettext_lazy("severity", "Amber"), "amber"),
)


def _in_minutes(summary: dict[str, Any]) -> dict[str, Any]:
    def minutes(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / 60, 1)

    return {"count": summary["count"], "median": minutes(summary["median"]), "p90": minutes(summary["p90"])}


@require_GET
@staff_required
def metrics(request: HttpRequest) -> HttpResponse:
    """The clinic's alert figures (the API's /alerts/metrics/), the auditor's, and how
    patients' SMS replies were read in the last 30 days."""
    user = _staff(request)
    days_text = request.GET.get("days", "90")
    days = int(days_text) if days_text.isdigit() and 0 < int(days_text) <= 3650 else 90
    figures = alert_metrics(clinic_id=user.clinic_id, since=timezone.now() - timedelta(days=days))  # type: ignore[arg-type]
    ack = figures["time_to_acknowledge_seconds"]
    protocols = [protocol_definition(protocol_version_current(slug)) for slug in protocol_slugs()]
    language = get_language()
    # Each rule's title in the reader's language, from the protocols' translations.
    for rule in figures["rules"]:
        rule["title"] = rule_title_in(
            rule_id=rule["rule_id"], title=rule["title"], definitions=protocols, language=language
        )
    context = {
        "days": days,
        "day_options": sorted({7, 30, 90, 365, days}),
        "metrics": figures,
        "ack_rows": [(label, _in_minutes(ack[key])) for label, key in ACK_ROWS],
        "auditor": auditor_figures(clinic_id=user.clinic_id),
        "roster_gaps": selectors.roster_warnings(clinic_id=user.clinic_id),  # type: ignore[arg-type]
        # Where a question's wording fails (H16): always the last 30 days, one query.
        "sms_replies": [
            (_language_name(group.language), group)
            for group in sms_reply_figures(
                clinic_id=user.clinic_id,  # type: ignore[arg-type]
                since=timezone.now() - timedelta(days=SMS_REPLY_DAYS),
            )
        ],
        # Translations nobody has reviewed yet (H6), staff and patient strings apart.
        "translation_review": [(_language_name(count.language), count) for count in review_counts(protocols=protocols)],
    }
    return render(request, "followup/dashboard/metrics.html", context)


def _language_name(code: str) -> str:
    """A language as the page shows it, "Turkish (tr)" (the name in the page's
    language); the bare code for one Django does not know."""
    try:
        name = get_language_info(code)["name_translated"]
    except KeyError:
        return code
    return f"{name} ({code})"
