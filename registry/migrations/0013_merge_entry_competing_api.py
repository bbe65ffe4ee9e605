"""Merge of the branches that each added migrations after 0008.

On SQLite, a migration that alters a clinical model remakes its history table,
which drops that table's append-only triggers: 0009_r11_entry does, and may run
after 0010_r11_status_triggers. The triggers are installed again here (dropped
first, so any order works), and after every later migrate by registry.apps.
"""

from django.db import migrations

from registry import appendonly


def reinstall(apps, schema_editor):
    appendonly.reinstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ('registry', '0009_r10_competing_cancer_death'),
        ('registry', '0010_r11_entry_unknown_stage_flag'),
        ('registry', '0012_r12_api_tokens'),
    ]

    operations = [migrations.RunPython(reinstall, migrations.RunPython.noop)]
