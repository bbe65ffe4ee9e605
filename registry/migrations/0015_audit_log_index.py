"""An index on (history_date, history_id), newest first, on every history table
the registry's audit log reads (registry.audit.LogIndex), so that its first page
is read down the index rather than by sorting the whole log.

Written as SQL rather than as model indexes: the history models are generated
by django-simple-history, whose Meta the registry does not declare; the index
is a storage matter of these tables, which the models need not know.
"""

from django.db import migrations

TABLES = (
    "registry_historicalpatient",
    "registry_historicalprimarytumour",
    "registry_historicallivermetastases",
    "registry_historicalradiationcourse",
    "registry_historicalsystemictherapyline",
    "registry_historicaloperation",
    "registry_historicalfollowup",
    "registry_historicaldeath",
    "registry_historicalrecordstatus",
)


def create(apps, schema_editor):
    q = schema_editor.quote_name
    for table in TABLES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {q(table + '_log')} "
            f"ON {q(table)} (history_date DESC, history_id DESC)"
        )


def drop(apps, schema_editor):
    q = schema_editor.quote_name
    for table in TABLES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {q(table + '_log')}")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0014_contradiction_flag"),
    ]

    operations = [migrations.RunPython(create, drop)]
