"""Create the registry's three user groups with fitting model permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CLINICAL = [
    "patient",
    "primarytumour",
    "livermetastases",
    "radiationcourse",
    "systemictherapyline",
    "operation",
    "followup",
    "death",
]
HISTORICAL = [f"historical{model}" for model in CLINICAL + ["site"]]

GROUPS = {
    # Research nurses: enter and correct patients and their records; may remove a
    # mistaken record, but not a whole patient.
    "Data entry": [
        *(f"registry.{action}_{m}" for m in CLINICAL for action in ("add", "change", "view")),
        *(f"registry.delete_{m}" for m in CLINICAL if m != "patient"),
        "registry.view_site",
        "registry.view_identifiers",
    ],
    # Data managers: everything on clinical data, sites and users, and the history.
    "Data manager": [
        *(
            f"registry.{action}_{m}"
            for m in CLINICAL + ["site"]
            for action in ("add", "change", "delete", "view")
        ),
        *(f"registry.view_{m}" for m in HISTORICAL),
        "registry.view_identifiers",
        *(f"auth.{action}_user" for action in ("add", "change", "view")),
        "auth.view_group",
    ],
    # Analysts: outcome reports on de-identified data; no identifiers, no editing.
    "Analyst": ["registry.view_site"],
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; create them now so
    # the groups can be given them in the same run.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
