"""Each run records the sites its result covers; existing runs get their runner's.

A run's result is computed over the sites its runner could see (narrowed to the
cohort's site filter). For runs stored before the sites were recorded, the
runner's memberships now stand in for those at the time; a run whose runner is
a superuser or has been deleted is given every site, so that only those who hold
every site may open it.
"""

from django.conf import settings
from django.db import migrations, models


def fill_sites(apps, schema_editor):
    ReportRun = apps.get_model("analytics", "ReportRun")
    Site = apps.get_model("registry", "Site")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    Covered = ReportRun.sites.through
    superusers = set(
        User.objects.filter(is_superuser=True).values_list("pk", flat=True)
    )
    runs = ReportRun.objects.values_list(
        "pk", "run_by", "result__spec__cohort__sites"
    )
    for run_id, runner, codes in list(runs):
        sites = Site.objects.all()
        if runner is not None and runner not in superusers:
            sites = sites.filter(members=runner)
        if isinstance(codes, list) and codes:
            sites = sites.filter(code__in=codes)
        Covered.objects.bulk_create(
            Covered(reportrun_id=run_id, site_id=site_id)
            for site_id in sites.values_list("pk", flat=True)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_report_permissions"),
        ("registry", "0003_clinical_record_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="reportrun",
            name="sites",
            field=models.ManyToManyField(
                blank=True,
                help_text="The sites whose patients the result covers: who may "
                "open it.",
                related_name="+",
                to="registry.site",
            ),
        ),
        migrations.RunPython(fill_sites, migrations.RunPython.noop, elidable=True),
    ]
