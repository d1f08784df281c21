# The published texts move out of the version row into their own table (see
# ProtocolVersionTexts): copied across first, so every stored version keeps its texts.

import django.db.models.deletion
from django.db import migrations, models


def texts_copy_out(apps, schema_editor):
    ProtocolVersion = apps.get_model("followup", "ProtocolVersion")
    ProtocolVersionTexts = apps.get_model("followup", "ProtocolVersionTexts")
    ProtocolVersionTexts.objects.bulk_create(
        ProtocolVersionTexts(version_id=pk, files=files)
        for pk, files in ProtocolVersion.objects.values_list("pk", "files").iterator()
    )


def texts_copy_back(apps, schema_editor):
    ProtocolVersion = apps.get_model("followup", "ProtocolVersion")
    ProtocolVersionTexts = apps.get_model("followup", "ProtocolVersionTexts")
    for version_id, files in ProtocolVersionTexts.objects.values_list("version_id", "files").iterator():
        ProtocolVersion.objects.filter(pk=version_id).update(files=files)


class Migration(migrations.Migration):
    dependencies = [
        ("followup", "0002_plans_plan_keys"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProtocolVersionTexts",
            fields=[
                (
                    "version",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="texts",
                        serialize=False,
                        to="followup.protocolversion",
                    ),
                ),
                ("files", models.JSONField()),
            ],
        ),
        # Back to 0002 the column must exist again before the copy back: nullable on
        # the way down, as RemoveField's reverse re-adds it.
        migrations.AlterField(
            model_name="protocolversion",
            name="files",
            field=models.JSONField(null=True),
        ),
        migrations.RunPython(texts_copy_out, texts_copy_back),
        migrations.RemoveField(
            model_name="protocolversion",
            name="files",
        ),
    ]
