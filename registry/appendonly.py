"""Database triggers that make the history tables append-only.

A history row (django-simple-history's, a query step) is the registry's record
of who changed what: once written it is never changed or deleted, whatever
path reaches the database (the ORM, a shell, raw SQL). PostgreSQL and SQLite
both refuse an UPDATE or DELETE of such a row with the message below. Tables
are emptied only by TRUNCATE on PostgreSQL (which row triggers do not see) or,
on SQLite, by dropping the triggers first (``flush_statements``: the test
suite's flush).
"""

from __future__ import annotations

#: The append-only tables.
TABLES = (
    "registry_historicalpatient",
    "registry_historicalprimarytumour",
    "registry_historicallivermetastases",
    "registry_historicalradiationcourse",
    "registry_historicalsystemictherapyline",
    "registry_historicaloperation",
    "registry_historicalfollowup",
    "registry_historicaldeath",
    "registry_historicalsite",
    "registry_historicalsite_members",
    "registry_historicalrecordstatus",
    "registry_querystep",
)
MESSAGE = "History rows cannot be changed or deleted"
FUNCTION = "registry_history_append_only"


def create_statements(vendor: str, tables=TABLES) -> list[str]:
    """Return the SQL creating the triggers on `tables` for `vendor`."""
    if vendor == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION USING MESSAGE = '{MESSAGE} (' || TG_TABLE_NAME "
            "|| ').'; END; "
            "$$ LANGUAGE plpgsql",
            *(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON "
                f"{table} FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
                for table in tables
            ),
        ]
    if vendor == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE} ({table}).'); END"
            for table in tables
            for action in ("UPDATE", "DELETE")
        ]
    return []


def drop_statements(vendor: str, tables=TABLES) -> list[str]:
    """Return the SQL dropping the triggers on `tables` for `vendor`."""
    if vendor == "postgresql":
        return [
            *(
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"
                for table in tables
            ),
            f"DROP FUNCTION IF EXISTS {FUNCTION}()",
        ]
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_{action.lower()}"
            for table in tables
            for action in ("UPDATE", "DELETE")
        ]
    return []


def reinstall(schema_editor) -> None:
    """Drop and create the triggers: on SQLite a migration that remakes a history
    table drops its triggers with it, so they are installed again after every
    migrate (registry.apps) and by the migrations that merge branches."""
    vendor = schema_editor.connection.vendor
    for sql in drop_statements(vendor):
        schema_editor.execute(sql)
    for sql in create_statements(vendor):
        schema_editor.execute(sql)
