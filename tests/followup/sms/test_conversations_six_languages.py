"""A whole SMS check-in in each of the six languages, as patients text (H16): natural
words for every choice, yes and no in the patient's language, decimal commas and units,
one reply in a sentence. Each ends as one complete check-in with the values meant."""

from __future__ import annotations

from typing import Any

import pytest

from followup.models import CheckIn
from followup.sms.conversations import conversation_start
from notifications.models import SmsConversation
from tests.factories import last_outbound

pytestmark = pytest.mark.django_db

NO = {"en": "nope", "tr": "hayır", "de": "nein", "ru": "нет", "uk": "ні", "az": "yox"}
# Replies other than a plain no, per language: (question id, reply, value meant).
REPLIES: dict[str, list[tuple[str, str, Any]]] = {
    "en": [
        ("temperature_c", "37.4 C", 37.4),
        ("jaundice", "yes, my eyes look yellow", True),
        ("abdominal_pain", "about 3", 3),
        ("abdominal_swelling", "a bit", "mild"),
        ("vomiting_episodes_24h", "0", 0),
        ("bowel_movement_days", "1", 1),
        ("appetite", "less than usual", "reduced"),
        ("weight_kg", "about 72 kg", 72.0),
        ("leg_swelling", "both", "both"),
        ("wound", "its red around it", "red"),
    ],
    "tr": [
        ("temperature_c", "38,4 derece", 38.4),
        ("jaundice", "evet gözlerim sarı", True),
        ("abdominal_pain", "3", 3),
        ("abdominal_swelling", "biraz şişti", "mild"),
        ("vomiting_episodes_24h", "hiç", 0),
        ("bowel_movement_days", "1", 1),
        ("appetite", "iştahım yok", "none"),
        ("weight_kg", "72,5 kilo", 72.5),
        ("leg_swelling", "ikisi de", "both"),
        ("wound", "kizarik", "red"),
    ],
    "de": [
        ("temperature_c", "37,9", 37.9),
        ("jaundice", "ja leider", True),
        ("abdominal_pain", "4", 4),
        ("abdominal_swelling", "nicht stark", "mild"),
        ("vomiting_episodes_24h", "0", 0),
        ("bowel_movement_days", "2", 2),
        ("appetite", "weniger als sonst", "reduced"),
        ("weight_kg", "71,3 kg", 71.3),
        ("leg_swelling", "beide", "both"),
        ("wound", "gerötet", "red"),
    ],
    "ru": [
        ("temperature_c", "температура 38.5", 38.5),
        ("jaundice", "да, глаза пожелтели", True),
        ("abdominal_pain", "2", 2),
        ("abdominal_swelling", "не сильно", "mild"),
        ("vomiting_episodes_24h", "0", 0),
        ("bowel_movement_days", "1", 1),
        ("appetite", "меньше обычного", "reduced"),
        ("weight_kg", "70 кг", 70.0),
        ("leg_swelling", "обе", "both"),
        ("wound", "покраснела", "red"),
    ],
    "uk": [
        ("temperature_c", "37,6", 37.6),
        ("jaundice", "tak", True),
        ("abdominal_pain", "2", 2),
        ("abdominal_swelling", "трохи", "mild"),
        ("vomiting_episodes_24h", "0", 0),
        ("bowel_movement_days", "1", 1),
        ("appetite", "звичайний", "normal"),
        ("weight_kg", "68,4", 68.4),
        ("leg_swelling", "обидві", "both"),
        ("wound", "почервоніла", "red"),
    ],
    "az": [
        ("temperature_c", "37,8-dir", 37.8),
        ("jaundice", "he", True),
        ("abdominal_pain", "3", 3),
        ("abdominal_swelling", "bir az şişib", "mild"),
        ("vomiting_episodes_24h", "0", 0),
        ("bowel_movement_days", "1", 1),
        ("appetite", "heç yoxdur", "none"),
        ("weight_kg", "80 kq", 80.0),
        ("leg_swelling", "hər iki ayaqda", "both"),
        ("wound", "qizarib", "red"),
    ],
}


@pytest.mark.parametrize("language", list(REPLIES))
def test_a_whole_check_in_in_the_patients_own_words(
    language: str, webhooks: Any, make_enrolled: Any, make_due_check_in: Any
) -> None:
    patient = make_enrolled(language=language)
    conversation_start(scheduled_check_in=make_due_check_in(patient))
    replies = {question: reply for question, reply, _ in REPLIES[language]}
    for _ in range(40):
        conversation = SmsConversation.objects.filter(patient=patient, state=SmsConversation.State.ACTIVE).first()
        if conversation is None:
            break
        question_id = last_outbound(patient).question_id
        assert ":reask:" not in last_outbound(patient).idempotency_key, question_id  # understood first time
        webhooks.sms(str(patient.phone), replies.get(question_id, NO[language]))
    check_in = CheckIn.objects.get(patient=patient)
    assert check_in.complete is True and check_in.unanswered == []
    for question, _, value in REPLIES[language]:
        assert check_in.answers[question] == value, question
        assert type(check_in.answers[question]) is type(value), question
    assert check_in.answers["chills"] is False and check_in.answers["patient_urgent"] is False
    assert check_in.level == "red"  # jaundice
