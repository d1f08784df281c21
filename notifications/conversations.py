"""Check-in invitations to a patient's phone.

First version: the invitation is an SMS with a signed link to the web form, in the
patient's language. The SMS conversation (questions one message at a time) replaces it
for SMS patients (issue 7)."""

from __future__ import annotations

from followup.links import checkin_link_url
from followup.models import ScheduledCheckIn
from notifications.models import MessageKind, OutgoingMessage
from notifications.services import sms_enqueue

INVITATION = {
    "en": "Time for your check-in with {clinic}. Please answer here: {link}",
    "tr": "{clinic} kontrol zamanınız geldi. Lütfen buradan yanıtlayın: {link}",
    "de": "Zeit für Ihre Abfrage der {clinic}. Bitte hier antworten: {link}",
    "ru": "Время ответить на вопросы {clinic}. Пожалуйста, ответьте здесь: {link}",
    "uk": "Час відповісти на запитання {clinic}. Будь ласка, дайте відповідь тут: {link}",
    "az": "{clinic} sorğusunun vaxtıdır. Zəhmət olmasa burada cavab verin: {link}",
}
REMINDER = {
    "en": "Reminder: your {clinic} check-in is still open: {link}",
    "tr": "Hatırlatma: {clinic} kontrolünüz hâlâ açık: {link}",
    "de": "Erinnerung: Ihre Abfrage der {clinic} ist noch offen: {link}",
    "ru": "Напоминание: опрос {clinic} всё ещё открыт: {link}",
    "uk": "Нагадування: опитування {clinic} ще відкрите: {link}",
    "az": "Xatırlatma: {clinic} sorğunuz hələ açıqdır: {link}",
}


def _invite(*, scheduled_check_in: ScheduledCheckIn, texts: dict[str, str], kind: MessageKind) -> OutgoingMessage:
    patient = scheduled_check_in.patient
    text = texts.get(patient.language, texts["en"])
    body = text.format(clinic=patient.clinic.name, link=checkin_link_url(scheduled_check_in_id=scheduled_check_in.pk))
    return sms_enqueue(
        clinic_id=patient.clinic_id,
        to_phone=str(patient.phone),
        body=body,
        kind=kind,
        idempotency_key=f"checkin-{kind}:{scheduled_check_in.pk}",
        patient=patient,
    )


def conversation_start(*, scheduled_check_in: ScheduledCheckIn) -> OutgoingMessage:
    return _invite(scheduled_check_in=scheduled_check_in, texts=INVITATION, kind=MessageKind.CHECK_IN)


def conversation_remind(*, scheduled_check_in: ScheduledCheckIn) -> OutgoingMessage:
    return _invite(scheduled_check_in=scheduled_check_in, texts=REMINDER, kind=MessageKind.REMINDER)
