"""The words a patient reads for the codes of their plan and labs, in their language."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

APPOINTMENT_KIND: dict[str, Promise] = {
    "clinic_visit": _("Clinic visit"),
    "telemedicine": _("Video visit"),
    "lab": _("Lab tests"),
    "imaging": _("Imaging"),
    "recall": _("Please come to the clinic"),
}
APPOINTMENT_STATUS: dict[str, Promise] = {
    "proposed": pgettext_lazy("patient app", "waiting for your answer"),
    "scheduled": pgettext_lazy("patient app", "booked"),
    "confirmed": pgettext_lazy("patient app", "you confirmed"),
    "attended": pgettext_lazy("patient app", "attended"),
    "missed": pgettext_lazy("patient app", "missed"),
    "cancelled": pgettext_lazy("patient app", "cancelled"),
    "declined": pgettext_lazy("patient app", "you can't come: the clinic will call you"),
}
LEVEL: dict[str, Promise] = {
    "red": pgettext_lazy("patient app", "Call the clinic"),
    "amber": pgettext_lazy("patient app", "A nurse will call"),
    "green": pgettext_lazy("patient app", "All well"),
}
LAB: dict[str, Promise] = {
    "bilirubin_umol_l": _("Bilirubin"),
    "inr": pgettext_lazy("lab test", "INR (clotting)"),
    "alt_u_l": pgettext_lazy("lab test", "ALT (liver enzyme)"),
    "ast_u_l": pgettext_lazy("lab test", "AST (liver enzyme)"),
    "alp_u_l": _("Alkaline phosphatase"),
    "albumin_g_l": _("Albumin"),
    "cea_ng_ml": pgettext_lazy("lab test", "CEA (tumour marker)"),
}


def label(labels: dict[str, Promise], code: object) -> str:
    text = labels.get(str(code))
    return str(text) if text is not None else str(code)
