"""The language a staff member reads, and the one way to build a text sent to them.

Every page and every SMS to a staff member (on-call pages, escalations, the answers to
ACK) speaks that person's language: the one stored on their user, else their clinic's
default language. It is stored, not kept in a browser session, so a nurse signing in
on a ward computer, or a surgeon woken by a page at night, reads their own language.
Texts are gettext messages (catalogues in ``locale/``), marked with ``gettext_noop``
where they are defined so that ``makemessages`` finds them."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from backend.models import Clinic, User


def clinic_language(clinic: Clinic | None) -> str:
    """The clinic's default language (the installation's without a clinic)."""
    return (clinic.default_language if clinic is not None else "") or settings.LANGUAGE_CODE


def staff_language(user: User) -> str:
    """The language of ``user``'s pages and SMS: their own, else their clinic's."""
    return user.language or clinic_language(user.clinic)


def text_in(*, language: str, message: str, **values: object) -> str:
    """``message`` in ``language``, its ``%(name)s`` placeholders filled."""
    with translation.override(language):
        text = gettext(message)
    return text % values if values else text


def staff_text(*, user: User, message: str, **values: object) -> str:
    """``message`` in ``user``'s language (see ``staff_language``), filled."""
    return text_in(language=staff_language(user), message=message, **values)
