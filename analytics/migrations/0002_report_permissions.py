"""Let analysts and data managers run and save outcome reports."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PERMISSIONS = {
    "Analyst": ["run_report", "add_savedreport", "view_savedreport", "view_reportrun"],
    "Data manager": [
        "run_report",
        "add_savedreport",
        "change_savedreport",
        "delete_savedreport",
        "view_savedreport",
        "view_reportrun",
    ],
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="analytics", codename__in=codenames
            )
        )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=PERMISSIONS):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="analytics")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
        ("registry", "0002_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
