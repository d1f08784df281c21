"""Outgoing SMS texts that are not a protocol's.

The check-in conversation speaks with the protocol's texts (questions, intro,
re-ask, advice, HELP/STOP/START answers: reviewed per language there, H6). These
are the few messages around it that belong to the SMS service rather than to a
protocol: the answer to a free-text message, the recall request and its
confirmation, and the replies to on-call staff. All are gettext messages: the patient
texts built in the patient's language (drafts until a clinician of the clinic reviews
them, like the protocol's texts), the staff replies in the staff member's own language
(backend.staff_texts).

Dates are written day.month.year with a 24-hour clock, as the check-in advice
writes them: unambiguous in all six languages.
"""

from __future__ import annotations

from typing import Final

from django.utils.translation import gettext_noop

DATE_FORMAT: Final = "%d.%m.%Y %H:%M"

# Patient texts: gettext messages (translations in locale/*/LC_MESSAGES/django.po),
# built with backend.patient_texts.patient_text in the patient's language.
FREE_TEXT_RECEIVED: Final = gettext_noop(
    "Thank you, your message has been passed to the nurses. If it is urgent, call the clinic at %(clinic_phone)s."
)
RECALL_REQUEST: Final = gettext_noop(
    "%(clinic_name)s: your care team asks you to come to the clinic on %(when)s. "
    "Reply YES to confirm, or call %(clinic_phone)s."
)
RECALL_CONFIRMED: Final = gettext_noop("Thank you, your visit on %(when)s is confirmed.")
# To a number that matches no patient of the clinic texted, in the language of the
# number's country: whose number it is and whom to call. Nothing else is said or kept.
UNKNOWN_SENDER: Final = gettext_noop(
    "%(clinic)s: we could not match this number to a patient. Please call the clinic at %(phone)s."
)

# On-call pages (followup.escalation.staff_page_body), in the language of the person
# paged (the clinic's default for its fallback number). Minimal PHI (H13): the rule's
# title, the patient's initials and the MRN's last three characters, a link to the
# alert, the code to acknowledge it.
PAGE_RED: Final = gettext_noop(
    "Vigil RED: %(rule)s - patient %(initials)s MRN ..%(mrn_end)s. %(link)s Reply ACK %(code)s to acknowledge."
)
PAGE_AMBER: Final = gettext_noop(
    "Vigil AMBER: %(rule)s - patient %(initials)s MRN ..%(mrn_end)s. %(link)s Reply ACK %(code)s to acknowledge."
)
PAGE_RED_FALLBACK: Final = gettext_noop(
    "Vigil ESCALATED, on-call did not answer RED: %(rule)s - patient %(initials)s MRN ..%(mrn_end)s. "
    "%(link)s Reply ACK %(code)s to acknowledge."
)
PAGE_AMBER_FALLBACK: Final = gettext_noop(
    "Vigil ESCALATED, on-call did not answer AMBER: %(rule)s - patient %(initials)s MRN ..%(mrn_end)s. "
    "%(link)s Reply ACK %(code)s to acknowledge."
)

# Staff replies (on-call pages are answered from the on-call phone), built with
# backend.staff_texts.staff_text in the staff member's language. "ACK" stays "ACK" in
# every language: it is the word the reply reader (followup.sms.reading) knows.
ACK_DONE: Final = gettext_noop("Vigil: alert %(code)s acknowledged by you. Escalation stopped.")
ACK_ALREADY: Final = gettext_noop("Vigil: alert %(code)s was already acknowledged.")
ACK_RESOLVED: Final = gettext_noop("Vigil: alert %(code)s is already resolved.")
ACK_UNKNOWN: Final = gettext_noop("Vigil: no open alert with code %(code)s. Check the code in the page.")
STAFF_HELP: Final = gettext_noop(
    "Vigil: reply ACK followed by the code in the page (for example ACK 4F7K) to acknowledge an alert."
)

# Country calling code -> language, to answer a number that matches no patient in a
# language they probably read (the longest prefix wins).
LANGUAGE_BY_CALLING_CODE: Final[dict[str, str]] = {
    "+90": "tr",
    "+49": "de",
    "+43": "de",
    "+41": "de",
    "+7": "ru",
    "+375": "ru",
    "+380": "uk",
    "+994": "az",
}


def language_for_number(phone: str) -> str:
    for length in (4, 3, 2):
        language = LANGUAGE_BY_CALLING_CODE.get(phone[:length])
        if language is not None:
            return language
    return "en"
