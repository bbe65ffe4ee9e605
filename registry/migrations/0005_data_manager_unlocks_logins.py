"""Data managers may see and delete django-axes' access attempts (unlock a login)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PERMISSIONS = ["view_accessattempt", "delete_accessattempt"]


def grant(apps, schema_editor):
    axes = apps.get_app_config("axes")
    axes.models_module = True
    create_permissions(axes, apps=apps, verbosity=0)
    axes.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Data manager").first()
    if group is not None:
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="axes", codename__in=PERMISSIONS
            )
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Data manager").first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="axes", codename__in=PERMISSIONS
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0004_site_registry_counter"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
