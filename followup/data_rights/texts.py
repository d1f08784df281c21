"""Why erasure is refused, in the reader's language (the page and the API's 409)."""

from __future__ import annotations

from django.utils import formats
from django.utils.translation import gettext as _

from followup.data_rights.retention import RetentionStatus


def refusal_message(status: RetentionStatus) -> tuple[str, str]:
    """A stable reason code and the sentence staff read."""
    if status.erased:
        return "already_erased", _("This patient's data has already been erased.")
    if status.follow_up_active:
        return "follow_up_active", _("The follow-up is still active: end it before erasing the patient's data.")
    until = formats.date_format(status.retention_until, "Y-m-d") if status.retention_until else ""
    return "retention_period", _(
        "The law keeps this record until %(date)s (%(years)s years after the end of follow-up, %(countries)s): "
        "erasure is refused before that date."
    ) % {"date": until, "years": status.years, "countries": ", ".join(status.countries)}
