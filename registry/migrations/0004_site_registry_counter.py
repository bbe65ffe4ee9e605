"""Give each site a counter row for its registry numbers, set to the highest in use."""

import re

from django.db import migrations, models


def fill_counters(apps, schema_editor):
    Site = apps.get_model("registry", "Site")
    Patient = apps.get_model("registry", "Patient")
    for site in Site.objects.all():
        pattern = re.compile(rf"^{re.escape(site.code)}-([0-9]+)$")
        numbers = (
            Patient.objects.filter(
                site=site, registry_number__startswith=f"{site.code}-"
            )
            .values_list("registry_number", flat=True)
            .iterator()
        )
        matches = (pattern.match(number) for number in numbers)
        highest = max((int(m.group(1)) for m in matches if m), default=0)
        Site.objects.filter(pk=site.pk).update(last_registry_number=highest)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_clinical_record_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="site",
            name="last_registry_number",
            field=models.PositiveIntegerField(
                default=0,
                editable=False,
                help_text="The highest registry number given at this site: the "
                "counter row that new patients lock (Patient.save), so "
                "simultaneous entries each get their own number.",
            ),
        ),
        migrations.RunPython(fill_counters, migrations.RunPython.noop),
    ]
