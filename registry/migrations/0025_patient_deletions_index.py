"""A partial index of the patients' deletions (their history rows of type '-'),
which the registry's audit log reads once per page to leave out the changes of
patients deleted at another site (registry.audit.LogFilter.moved_away): a few
rows, where reading them without it scanned every patient's history.

Written as SQL, as 0015's log index: the history models are django-simple-
history's. registry.audit.ensure_log_indexes makes it again after a migrate
that rebuilt the table (SQLite).
"""

from django.db import migrations

SQL = (
    'CREATE INDEX IF NOT EXISTS "registry_historicalpatient_deleted" '
    'ON "registry_historicalpatient" (id, site_id) WHERE history_type = \'-\''
)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0024_patient_mrn_search_index"),
    ]

    operations = [
        migrations.RunSQL(
            SQL, 'DROP INDEX IF EXISTS "registry_historicalpatient_deleted"'
        )
    ]
