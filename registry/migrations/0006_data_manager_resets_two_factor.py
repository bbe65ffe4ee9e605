"""Data managers may see and delete two-factor devices (reset a lost phone)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PERMISSIONS = {
    "otp_totp": ["view_totpdevice", "delete_totpdevice"],
    "otp_static": ["view_staticdevice", "delete_staticdevice"],
}


def _permissions(apps):
    Permission = apps.get_model("auth", "Permission")
    for app_label, codenames in PERMISSIONS.items():
        yield from Permission.objects.filter(
            content_type__app_label=app_label, codename__in=codenames
        )


def grant(apps, schema_editor):
    for app_label in PERMISSIONS:
        config = apps.get_app_config(app_label)
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    group = apps.get_model("auth", "Group").objects.filter(name="Data manager").first()
    if group is not None:
        group.permissions.add(*_permissions(apps))


def revoke(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name="Data manager").first()
    if group is not None:
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_data_manager_unlocks_logins"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
