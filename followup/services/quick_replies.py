"""Quick replies: the clinic's ready texts a nurse starts a reply to a patient from.

Clinic data in the patient's language (edited by the clinic admin in Django admin),
not catalogue strings: the clinic words what it tells its patients."""

from __future__ import annotations

from followup.models import QuickReply

# The examples every clinic starts with (migration 0009 holds a frozen copy).
SEED: dict[str, list[str]] = {
    "en": ["We will call you today.", "Please come to the clinic tomorrow at …"],
    "tr": ["Bugün sizi arayacağız.", "Lütfen yarın saat … kliniğe gelin."],
    "de": ["Wir rufen Sie heute an.", "Bitte kommen Sie morgen um … Uhr in die Klinik."],
    "ru": ["Мы позвоним вам сегодня.", "Пожалуйста, приходите в клинику завтра в …"],
    "uk": ["Ми зателефонуємо вам сьогодні.", "Будь ласка, приходьте до клініки завтра о …"],
    "az": ["Bu gün sizə zəng edəcəyik.", "Xahiş edirik, sabah saat … klinikaya gəlin."],
}


def quick_replies_seed(*, clinic_id: int) -> int:
    """Give a clinic that has none the example quick replies; returns how many."""
    if QuickReply.objects.filter(clinic_id=clinic_id).exists():
        return 0
    rows = [
        QuickReply(clinic_id=clinic_id, language=language, text=text, position=position)
        for language, texts in SEED.items()
        for position, text in enumerate(texts)
    ]
    QuickReply.objects.bulk_create(rows)
    return len(rows)


def quick_reply_list(*, clinic_id: int, language: str) -> list[str]:
    """The clinic's quick replies in one language (the patient's), in order."""
    return list(
        QuickReply.objects.filter(clinic_id=clinic_id, language=language)
        .order_by("position", "id")
        .values_list("text", flat=True)
    )
