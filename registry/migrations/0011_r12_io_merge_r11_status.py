"""Merge of r12-io's and r11-status's migrations.

On SQLite, 0009_r12_io adding source_record_id to the patient's history table
remakes that table, which drops the append-only triggers of 0010_r11_status when
it runs after them: install them again (dropped first, so either order works).
"""

from django.db import migrations

from registry import appendonly


def reinstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in appendonly.drop_statements(vendor):
        schema_editor.execute(sql)
    for sql in appendonly.create_statements(vendor):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0009_r12_io_source_id_transfer_log"),
        ("registry", "0010_r11_status_triggers"),
    ]

    operations = [migrations.RunPython(reinstall, migrations.RunPython.noop)]
