"""The words staff read for the codes stored on alerts, check-ins and messages
("red", "acknowledged", "false_alarm", "delivered"...), in the reader's language.

The models keep codes; pages, the alert cards' JSON and the dashboard's script show
these labels (gettext, so ``makemessages`` finds them and every catalogue has them).
A code without a label (one added to a model later) shows as itself rather than
failing the page."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

# Severity badges are capitals on every page: a red card must not be missed.
SEVERITY: dict[str, Promise] = {
    "red": pgettext_lazy("severity badge", "RED"),
    "amber": pgettext_lazy("severity badge", "AMBER"),
    "green": pgettext_lazy("severity badge", "GREEN"),
}
ALERT_STATUS: dict[str, Promise] = {
    "open": pgettext_lazy("alert status", "open"),
    "acknowledged": pgettext_lazy("alert status", "acknowledged"),
    "resolved": pgettext_lazy("alert status", "resolved"),
}
OUTCOME: dict[str, Promise] = {
    "recalled": pgettext_lazy("alert outcome", "recalled"),
    "advised": pgettext_lazy("alert outcome", "advised"),
    "no_action": pgettext_lazy("alert outcome", "no action"),
    "false_alarm": pgettext_lazy("alert outcome", "false alarm"),
}
CHANNEL: dict[str, Promise] = {
    "sms": pgettext_lazy("check-in channel", "SMS"),
    "app": pgettext_lazy("check-in channel", "app"),
    "web": pgettext_lazy("check-in channel", "web form"),
    "staff": pgettext_lazy("check-in channel", "entered by staff"),
}
MESSAGE_STATUS: dict[str, Promise] = {
    "queued": pgettext_lazy("message status", "queued"),
    "sending": pgettext_lazy("message status", "sending"),
    "sent": pgettext_lazy("message status", "sent"),
    "delivered": pgettext_lazy("message status", "delivered"),
    "undelivered": pgettext_lazy("message status", "undelivered"),
    "failed": pgettext_lazy("message status", "failed"),
    "suppressed": pgettext_lazy("message status", "not sent (opt-out or quiet hours)"),
    "received": pgettext_lazy("message status", "received"),
}
# An escalation step's note is stored as one of followup.escalation's NOTE_ texts.
STEP_NOTE: dict[str, Promise] = {
    "paged": pgettext_lazy("escalation step", "paged"),
    "not paged: no phone or no longer active": _("not paged: no phone or no longer active"),
    "on-call chain exhausted: clinic fallback number paged": _("on-call chain exhausted: clinic fallback number paged"),
    "on-call chain exhausted and the clinic has no fallback number: nobody paged": _(
        "on-call chain exhausted and the clinic has no fallback number: nobody paged"
    ),
}
# Statuses of scheduled check-ins and appointments (plans pages, the patient timeline).
PLAN_STATUS: dict[str, Promise] = {
    "scheduled": _("scheduled"),
    "sent": _("sent"),
    "completed": _("answered"),
    "missed": _("missed"),
    "cancelled": _("cancelled"),
    "proposed": _("proposed"),
    "confirmed": _("confirmed"),
    "attended": _("attended"),
    "declined": pgettext_lazy("appointment status", "declined by the patient"),
}
# Kinds of appointments and worklist items, channels, and check-in levels as the plans
# pages name them.
KIND: dict[str, Promise] = {
    "clinic_visit": _("Clinic visit"),
    "telemedicine": _("Telemedicine visit"),
    "lab": _("Lab tests"),
    "imaging": _("Imaging"),
    "recall": _("Recall"),
    "no_response": _("No response"),
    "patient_message": _("Patient message"),
    "nurse_call": _("Nurse call"),
    "unreachable": _("Unreachable"),
    "check_in_burst": _("Too many check-ins"),
    "sms": pgettext_lazy("check-in channel", "SMS"),
    "app": _("App"),
    "web": pgettext_lazy("check-in channel", "web form"),
    "red": _("red"),
    "amber": _("amber"),
    "green": _("green"),
}


def label(labels: dict[str, Promise], code: object) -> str:
    """``code``'s label in the active language; the code itself when it has none."""
    text = labels.get(str(code)) if code is not None else None
    return str(text) if text is not None else ("" if code is None else str(code))


def dashboard_script_texts() -> dict[str, str]:
    """What the dashboard's script writes itself, in the active language (handed over
    in a JSON block, not a script: the page allows no inline script). ``%(name)s``
    marks where the script puts a value."""
    return {
        "live": gettext("live"),
        "reconnecting": gettext("reconnecting…"),
        "offline": gettext("offline: updates paused"),
        "connecting": gettext("connecting…"),
        "sound_on": gettext("Sound on"),
        "sound_muted": gettext("Sound muted"),
        "just_now": gettext("raised just now"),
        "minutes_ago": gettext("raised %(minutes)s min ago"),
        "hours_ago": gettext("raised %(hours)s h %(minutes)s min ago"),
        "days_ago": gettext("raised %(days)s d ago"),
        "level": gettext("escalation level %(level)s"),
        "staff_member": gettext("staff member %(id)s"),
        "refused": gettext("The server refused (%(status)s)."),
        "unreachable": gettext("Could not reach the server; try again."),
        "title_red": gettext("(%(count)s) RED — Vigil"),
        "severity": {code: str(text) for code, text in SEVERITY.items()},
        "status": {code: str(text) for code, text in ALERT_STATUS.items()},
    }
