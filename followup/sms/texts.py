"""Outgoing SMS texts that are not a protocol's (pure data, no Django).

The check-in conversation speaks with the protocol's texts (questions, intro,
re-ask, advice, HELP/STOP/START answers: reviewed per language there, H6). These
are the few messages around it that belong to the SMS service rather than to a
protocol: the answer to a free-text message, the recall request and its
confirmation, and the replies to on-call staff (English: staff read the dashboard in
English). They are drafts until a clinician of the clinic reviews them, like the
protocol's texts.

Dates are written day.month.year with a 24-hour clock, as the check-in advice
writes them: unambiguous in all six languages.
"""

from __future__ import annotations

from typing import Final

DATE_FORMAT: Final = "%d.%m.%Y %H:%M"

FREE_TEXT_RECEIVED: Final[dict[str, str]] = {
    "en": "Thank you, your message has been passed to the nurses. If it is urgent, call the clinic at {clinic_phone}.",
    "tr": "Teşekkürler, mesajınız hemşirelere iletildi. Acil ise kliniği arayın: {clinic_phone}.",
    "de": (
        "Danke, Ihre Nachricht wurde an die Pflege weitergegeben. "
        "Wenn es dringend ist, rufen Sie die Klinik an: {clinic_phone}."
    ),
    "ru": "Спасибо, ваше сообщение передано медсёстрам. Если это срочно, позвоните в клинику: {clinic_phone}.",
    "uk": (
        "Дякуємо, ваше повідомлення передано медсестрам. Якщо це терміново, зателефонуйте до клініки: {clinic_phone}."
    ),
    "az": "Təşəkkür edirik, mesajınız tibb bacılarına çatdırıldı. Təcilidirsə, klinikaya zəng edin: {clinic_phone}.",
}

RECALL_REQUEST: Final[dict[str, str]] = {
    "en": (
        "{clinic_name}: your care team asks you to come to the clinic on {when}. "
        "Reply YES to confirm, or call {clinic_phone}."
    ),
    "tr": (
        "{clinic_name}: tedavi ekibiniz sizi {when} tarihinde kliniğe çağırıyor. "
        "Onaylamak için EVET yazın ya da arayın: {clinic_phone}."
    ),
    "de": (
        "{clinic_name}: Ihr Behandlungsteam bittet Sie am {when} in die Klinik. "
        "Antworten Sie JA zur Bestätigung oder rufen Sie an: {clinic_phone}."
    ),
    "ru": (
        "{clinic_name}: ваши врачи просят вас прийти в клинику {when}. "
        "Ответьте ДА для подтверждения или позвоните: {clinic_phone}."
    ),
    "uk": (
        "{clinic_name}: ваші лікарі просять вас прийти до клініки {when}. "
        "Надішліть ТАК для підтвердження або зателефонуйте: {clinic_phone}."
    ),
    "az": (
        "{clinic_name}: həkimləriniz sizi {when} klinikaya dəvət edir. "
        "Təsdiq üçün BƏLİ yazın və ya zəng edin: {clinic_phone}."
    ),
}

RECALL_CONFIRMED: Final[dict[str, str]] = {
    "en": "Thank you, your visit on {when} is confirmed.",
    "tr": "Teşekkürler, {when} randevunuz onaylandı.",
    "de": "Danke, Ihr Termin am {when} ist bestätigt.",
    "ru": "Спасибо, ваш визит {when} подтверждён.",
    "uk": "Дякуємо, ваш візит {when} підтверджено.",
    "az": "Təşəkkür edirik, {when} tarixli qəbulunuz təsdiqləndi.",
}

# Staff replies (on-call pages are answered from the on-call phone).
ACK_DONE: Final = "Vigil: alert {code} acknowledged by you. Escalation stopped."
ACK_ALREADY: Final = "Vigil: alert {code} was already acknowledged."
ACK_RESOLVED: Final = "Vigil: alert {code} is already resolved."
ACK_UNKNOWN: Final = "Vigil: no open alert with code {code}. Check the code in the page."
STAFF_HELP: Final = "Vigil: reply ACK followed by the code in the page (for example ACK 4F7K) to acknowledge an alert."

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


def text_for(table: dict[str, str], language: str) -> str:
    """The text in ``language``, or English."""
    return table.get(language, table["en"])


def language_for_number(phone: str) -> str:
    for length in (4, 3, 2):
        language = LANGUAGE_BY_CALLING_CODE.get(phone[:length])
        if language is not None:
            return language
    return "en"
