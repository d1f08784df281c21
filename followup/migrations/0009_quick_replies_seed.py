"""The two example quick replies in the six languages, for every clinic there is.

A frozen copy of ``followup.services.quick_replies.SEED`` (a migration must not change
when the code does); a clinic created later gets them from ``quick_replies_seed``."""

from django.db import migrations

SEED = {
    "en": ["We will call you today.", "Please come to the clinic tomorrow at …"],
    "tr": ["Bugün sizi arayacağız.", "Lütfen yarın saat … kliniğe gelin."],
    "de": ["Wir rufen Sie heute an.", "Bitte kommen Sie morgen um … Uhr in die Klinik."],
    "ru": ["Мы позвоним вам сегодня.", "Пожалуйста, приходите в клинику завтра в …"],
    "uk": ["Ми зателефонуємо вам сьогодні.", "Будь ласка, приходьте до клініки завтра о …"],
    "az": ["Bu gün sizə zəng edəcəyik.", "Xahiş edirik, sabah saat … klinikaya gəlin."],
}


def seed(apps, schema_editor):
    Clinic = apps.get_model("backend", "Clinic")
    QuickReply = apps.get_model("followup", "QuickReply")
    rows = []
    for clinic_id in Clinic.objects.values_list("pk", flat=True):
        if QuickReply.objects.filter(clinic_id=clinic_id).exists():
            continue
        for language, texts in SEED.items():
            rows += [
                QuickReply(clinic_id=clinic_id, language=language, text=text, position=position)
                for position, text in enumerate(texts)
            ]
    QuickReply.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [
        ("followup", "0008_quick_replies"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
