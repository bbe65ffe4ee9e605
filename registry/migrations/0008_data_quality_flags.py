"""The data-quality flags and completeness, stored with each patient's facts."""

from django.db import migrations, models

from registry import facts

FLAGS = (
    "no_diagnosis",
    "no_liver",
    "no_ecog",
    "no_cea",
    "no_verge",
    "no_margin",
    "late_operation",
    "follow_up_gap",
    "no_follow_up",
)


def fill(apps, schema_editor):
    """Compute the new columns of every patient already in the registry."""
    Patient = apps.get_model("registry", "Patient")
    facts.refresh(Patient.objects.values_list("pk", flat=True), apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0007_derived_facts"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name="derivedfacts",
                name=name,
                field=models.BooleanField(default=False),
                preserve_default=False,
            )
            for name in FLAGS
        ),
        migrations.AddField(
            model_name="derivedfacts",
            name="key_fields_filled",
            field=models.PositiveSmallIntegerField(
                default=0,
                help_text="How many of the data-quality page's key fields are filled.",
            ),
            preserve_default=False,
        ),
        *(
            migrations.AddIndex(
                model_name="derivedfacts",
                index=models.Index(
                    condition=models.Q((name, True)),
                    fields=["patient"],
                    name=f"facts_{name}_idx",
                ),
            )
            for name in FLAGS
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
