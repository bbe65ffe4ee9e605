"""The date of death from colorectal cancer, stored with each patient's facts
(cancer-specific survival, and cancer death as a cause of its own)."""

from django.db import migrations, models

from registry import facts


def fill(apps, schema_editor):
    """Compute the new column of every patient already in the registry."""
    Patient = apps.get_model("registry", "Patient")
    facts.refresh(Patient.objects.values_list("pk", flat=True), apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0008_data_quality_flags"),
    ]

    operations = [
        migrations.AddField(
            model_name="derivedfacts",
            name="cancer_death_date",
            field=models.DateField(
                help_text="The date of death, if from colorectal cancer.", null=True
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
