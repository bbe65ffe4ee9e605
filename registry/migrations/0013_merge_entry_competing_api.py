"""Merge of the branches that each added migrations after 0008.

On SQLite, a migration that alters a clinical model remakes its history table,
which drops that table's append-only triggers (0009_r11_entry may run after
0010_r11_status_triggers): registry.apps installs them again after every
migrate, this one included.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0009_r10_competing_cancer_death"),
        ("registry", "0010_r11_entry_unknown_stage_flag"),
        ("registry", "0012_r12_api_tokens"),
    ]

    operations = []
