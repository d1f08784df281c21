"""The one way to build a text a patient reads that is not the protocol's own (the
protocol's questions and advice are data, reviewed per language there, H6): a gettext
message, marked with ``gettext_noop`` where it is defined so that ``makemessages``
finds it, translated into the patient's language from the catalogues in ``locale/``
and filled with named values. A language without a catalogue entry reads English."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext


def patient_text(*, language: str, message: str, **values: object) -> str:
    """``message`` in ``language``, with its ``%(name)s`` placeholders filled."""
    with translation.override(language):
        text = gettext(message)
    return text % values if values else text
