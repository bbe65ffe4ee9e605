"""No table carries an index that another index of it already gives.

Every index is written on every insert and update of its table, and built
again whenever seed_demo loads a registry (at 10^6 patients, the follow-ups'
eight million rows and their history's). An index whose columns lead another
index of the same table serves no read the longer one cannot: a
``WHERE a = ...`` or ``ORDER BY a`` reads ``(a, b)`` as well as ``(a)``.
"""

from __future__ import annotations

from django.apps import apps
from django.db import connection
from django.test import TestCase

from registry import audit

#: Kept though a longer index leads with the same columns, and why.
KEPT = {
    # the home page counts each site's patients from this index alone
    # (index-only), a sixth of (site, registry number)'s size
    ("registry_patient", ("site_id",)): "counted alone",
    # Django's own table for Site.members: its indexes are Django's
    ("registry_site_members", ("site_id",)): "Django's many-to-many table",
}


def partial_indexes() -> set[str]:
    """Return the names of the registry's partial indexes (a condition): the
    models' and the history tables' (written as SQL)."""
    return {
        index.name
        for model in apps.get_app_config("registry").get_models()
        for index in model._meta.indexes
        if index.condition is not None
    } | {audit.DELETIONS_INDEX}


def redundant_indexes() -> list[str]:
    """Return each index led by another of its table, as 'table: (a) in (a, b)'."""
    partial = partial_indexes()
    found = []
    with connection.cursor() as cursor:
        tables = [
            name
            for name in connection.introspection.table_names(cursor)
            if name.startswith("registry_")
        ]
        for table in sorted(tables):
            constraints = connection.introspection.get_constraints(cursor, table)
            # what can lead: every index, and the unique constraints (on
            # PostgreSQL not reported as indexes, though each has one)
            indexes = {
                name: tuple(found["columns"])
                for name, found in constraints.items()
                if found["columns"]
                and (found["index"] or found["unique"] or found["primary_key"])
            }
            unique = {
                name
                for name, found in constraints.items()
                if found["unique"] or found["primary_key"]
            }
            for name, columns in indexes.items():
                # a unique index enforces something, a partial one holds fewer
                # rows, a pattern one (_like, PostgreSQL) serves LIKE 'x%'
                if name in unique or name in partial or name.endswith("_like"):
                    continue
                if (table, columns) in KEPT:
                    continue
                for other, longer in indexes.items():
                    if (
                        other != name
                        and other not in partial
                        and not other.endswith("_like")
                        and longer[: len(columns)] == columns
                        and (len(longer) > len(columns) or other in unique)
                    ):
                        found.append(f"{table}: {columns} in {other} {longer}")
    return found


class RedundantIndexTests(TestCase):
    def test_no_index_is_led_by_another_of_its_table(self):
        self.assertEqual(redundant_indexes(), [])

    def test_the_check_finds_an_index_another_leads(self):
        # the check itself: an index the (patient, date) index already gives
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE INDEX test_redundant ON registry_followup (patient_id)"
            )
        self.assertIn(
            "registry_followup: ('patient_id',) in",
            "\n".join(redundant_indexes()),
        )


class AuditLogIndexTests(TestCase):
    def test_every_history_table_the_log_reads_keeps_its_log_index(self):
        # On SQLite a migration that remakes a history table (0023 did, to
        # drop its history_date index) loses the index migration 0015 made:
        # registry.apps makes it again after every migrate.
        from registry import audit

        with connection.cursor() as cursor:
            for table in audit.log_index_tables():
                with self.subTest(table=table):
                    found = connection.introspection.get_constraints(cursor, table)
                    self.assertIn(
                        ["history_date", "history_id"],
                        [c["columns"] for c in found.values() if c["index"]],
                    )
