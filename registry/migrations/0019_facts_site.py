"""The patient's site, copied onto their stored facts (DerivedFacts.site).

A copy, not a rule: filled here from the patients in one statement, and
written by registry.facts.refresh with the facts from now on (check_facts
compares it too).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_sites(apps, schema_editor):
    DerivedFacts = apps.get_model("registry", "DerivedFacts")
    Patient = apps.get_model("registry", "Patient")
    DerivedFacts.objects.using(schema_editor.connection.alias).update(
        site_id=Subquery(
            Patient.objects.filter(pk=OuterRef("patient_id")).values("site_id")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0018_merge_first_line_list_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="derivedfacts",
            name="site",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.site",
            ),
        ),
        migrations.RunPython(copy_sites, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="derivedfacts",
            name="site",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.site",
            ),
        ),
    ]
