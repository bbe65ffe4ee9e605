from django.db import migrations


def fill(apps, schema_editor):
    """Compute again the facts of the patients two rules now read differently
    (registry.derive): last_known_contact counts the detection of metachronous
    liver metastases (and the follow-up overdue date follows the last contact);
    lacks_margin counts a resection whose margin is "not applicable" as one
    without a margin."""
    from registry import facts

    liver = apps.get_model("registry", "LiverMetastases")
    operation = apps.get_model("registry", "Operation")
    ids = set(
        liver.objects.filter(detected_date__isnull=False).values_list(
            "patient_id", flat=True
        )
    )
    ids |= set(
        operation.objects.filter(margin="na").values_list("patient_id", flat=True)
    )
    ordered = sorted(ids)
    for start in range(0, len(ordered), 5000):
        facts.refresh(ordered[start : start + 5000], apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0026_mrn_one_line"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
