"""History rows cannot be changed or deleted; data managers verify, lock, query."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from registry import appendonly

MANAGER = [
    "verify_records",
    "lock_records",
    "view_recordstatus",
    "view_historicalrecordstatus",
    "manage_queries",
    "view_dataquery",
]
NURSE = ["view_recordstatus", "view_dataquery"]


def triggers(apps, schema_editor):
    for sql in appendonly.create_statements(schema_editor.connection.vendor):
        schema_editor.execute(sql)


def no_triggers(apps, schema_editor):
    for sql in appendonly.drop_statements(schema_editor.connection.vendor):
        schema_editor.execute(sql)


def grant(apps, schema_editor):
    config = apps.get_app_config("registry")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in (("Data manager", MANAGER), ("Data entry", NURSE)):
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label="registry", codename__in=codenames
                )
            )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(
        name__in=["Data manager", "Data entry"]
    ):
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="registry", codename__in=MANAGER
            )
        )


class Migration(migrations.Migration):
    dependencies = [("registry", "0009_r11_status_queries")]

    operations = [
        migrations.RunPython(triggers, no_triggers),
        migrations.RunPython(grant, revoke),
    ]
