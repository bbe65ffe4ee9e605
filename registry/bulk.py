"""The stored derived facts of a whole cohort, and survival at a cut-off, in SQL.

The facts themselves are stored one row per patient (``registry_derivedfacts``,
kept by ``registry.facts`` with the rules of ``registry.derive``); this module
only reads them. What depends on the report is computed in the query from the
stored dates: the survival time at the report's cut-off, for its endpoint and
index date, which is arithmetic on those dates (the clock starts at the index
date and stops at the event when it happened by the cut-off, else at the last
known contact or the cut-off, whichever is earlier; registry.derive.survival).
"""

from __future__ import annotations

import datetime

from django.db import connections
from django.db.models import DateField, QuerySet

from registry.choices import Endpoint, IndexDate
from registry.models.facts import DerivedFacts

#: Columns of every row facts_sql() returns, in order (and their names in its SQL).
COLUMNS = (
    "id",
    "registry_number",
    "diagnosis_date",
    "death_date",
    "cancer_death_date",
    "initial_resectability",
    "first_operation",
    "first_primary_resection",
    "first_liver_resection",
    "strategy_completed",
    "last_palliative",
    "first_radiation",
    "first_systemic",
    "first_treatment",
    "last_contact",
    "strategy",
    "staged_order",
    "liver_resected",
    "converted",
    "later_palliative",
    "vital_status",
    "age",
    "first_regimen",
    "first_biologic",
    "survival_start",
    "survival_end",
    "survival_event",
    "survival_competing",
    "survival_days",
)

#: Columns read as stored (all but the id, the number and survival).
STORED = COLUMNS[2:-5]

#: Date columns: the stored facts' date fields (read from the model, not guessed
#: from their names) and the survival dates computed at the cut-off.
DATES = frozenset(
    name for name in STORED if isinstance(DerivedFacts._meta.get_field(name), DateField)
) | {"survival_start", "survival_end"}

#: Yes/no columns (0/1 on SQLite, booleans on PostgreSQL).
FLAGS = (
    "liver_resected",
    "converted",
    "later_palliative",
    "survival_event",
    "survival_competing",
)

#: The stored date each index starts the clock at, and the first recurrence on or
#: after it (recurrence-free survival).
INDEX_COLUMNS = {
    IndexDate.DIAGNOSIS: ("diagnosis_date", "first_recurrence"),
    IndexDate.TREATMENT: ("first_treatment", "recurrence_from_treatment"),
    IndexDate.OPERATION: ("first_operation", "recurrence_from_operation"),
}


def least(vendor: str, *dates: str) -> str:
    """Return SQL for the earliest of nullable dates (NULL only if all are)."""
    if vendor == "sqlite":
        # SQLite's multi-argument min() is NULL if any argument is.
        padded = ", ".join(f"COALESCE({d}, '9999-12-31')" for d in dates)
        return f"NULLIF(min({padded}), '9999-12-31')"
    return f"LEAST({', '.join(dates)})"


def days_between(vendor: str, end: str, start: str) -> str:
    """Return SQL for the whole days from `start` to `end` (NULL if either is)."""
    if vendor == "sqlite":
        return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"
    return f"({end} - {start})"


def selected_facts(cohort: QuerySet) -> tuple[str, tuple]:
    """Return (sql, params) selecting every stored column of `cohort`'s facts.

    ``cohort`` is a queryset of the stored facts (``DerivedFacts``: its own
    filters, a cohort scoped by site reading the facts alone, since each row
    carries the patient's site) or of patients (the facts of its patients, a
    semi-join on them). Used as ``FROM (sql) f``: the database reads the
    selection as the table itself (a plain subquery is flattened).
    """
    facts = cohort
    if cohort.model is not DerivedFacts:
        facts = DerivedFacts.objects.using(cohort.db).filter(
            patient__in=cohort.order_by().values("pk")
        )
    columns = [field.attname for field in DerivedFacts._meta.concrete_fields]
    return facts.order_by().values(*columns).query.sql_with_params()


def facts_sql(
    cohort: QuerySet,
    *,
    endpoint: Endpoint = Endpoint.OVERALL,
    index: IndexDate = IndexDate.DIAGNOSIS,
    as_of: datetime.date,
) -> tuple[str, tuple]:
    """Return (sql, params) selecting COLUMNS for every patient of `cohort`.

    ``cohort`` is a queryset of patients or of their stored facts (filters and
    scoping as the caller needs; :func:`selected_facts`). As in
    ``registry.derive.survival``, survival_start is NULL when the index date is
    missing, and callers leave out patients whose start is NULL or after
    ``as_of``; survival_competing is 1 for a death that is not the event a
    cumulative incidence estimates (cancer-specific survival: a death from
    another cause, censored at death; recurrence-free survival: a death without
    recurrence). The patient table is joined only for the registry number (a
    LEFT JOIN, which the database drops when a caller reads no column of it, as
    the counted survival table does).
    """
    connection = connections[cohort.db]
    vendor = connection.vendor
    selected, selected_params = selected_facts(cohort)
    cutoff = connection.ops.adapt_datefield_value(as_of)
    start_column, recurrence_column = INDEX_COLUMNS[IndexDate(index)]
    start = f"f.{start_column}"
    endpoint = Endpoint(endpoint)
    recurrence = f"f.{recurrence_column}"
    if endpoint == Endpoint.RECURRENCE_FREE:
        event_date = least(vendor, "f.death_date", recurrence)
    elif endpoint == Endpoint.CANCER_SPECIFIC:
        event_date = "f.cancer_death_date"  # derive.cancer_death, stored
    else:
        event_date = "f.death_date"
    censored_at = least(vendor, f"COALESCE(f.last_contact, {start})", "%s")
    # a death by the cut-off that is not a cancer death (stored: derive's rule)
    other_death = "f.cancer_death_date IS NULL AND f.death_date <= %s"
    # each piece of SQL with its parameters, in the order they appear
    if endpoint == Endpoint.CANCER_SPECIFIC:
        end = (
            f"CASE WHEN {start} IS NULL THEN NULL WHEN {event_date} <= %s "
            f"THEN {event_date} WHEN {other_death} THEN f.death_date "
            f"ELSE {censored_at} END",
            (cutoff, cutoff, cutoff),
        )
        competing = (f"CASE WHEN {other_death} THEN 1 ELSE 0 END", (cutoff,))
    else:
        end = (
            f"CASE WHEN {start} IS NULL THEN NULL WHEN {event_date} <= %s "
            f"THEN {event_date} ELSE {censored_at} END",
            (cutoff, cutoff),
        )
        competing = ("0", ())
    if endpoint == Endpoint.RECURRENCE_FREE:
        competing = (
            f"CASE WHEN {event_date} <= %s AND ({recurrence} IS NULL "
            f"OR {recurrence} > {event_date}) THEN 1 ELSE 0 END",
            (cutoff,),
        )
    stored = ", ".join(f"f.{name}" for name in STORED)
    sql = f"""
    SELECT s.*, {days_between(vendor, "s.survival_end", "s.survival_start")}
        AS survival_days
    FROM (
        SELECT f.patient_id AS id, p.registry_number, {stored},
            {start} AS survival_start,
            {end[0]} AS survival_end,
            CASE WHEN {event_date} <= %s THEN 1 ELSE 0 END AS survival_event,
            {competing[0]} AS survival_competing
        FROM ({selected}) f
        LEFT JOIN registry_patient p ON p.id = f.patient_id
    ) s
    """
    params = (*end[1], cutoff, *competing[1], *selected_params)
    return sql, params


def fetch_facts(
    cohort: QuerySet,
    *,
    endpoint: Endpoint = Endpoint.OVERALL,
    index: IndexDate = IndexDate.DIAGNOSIS,
    as_of: datetime.date,
) -> list[dict]:
    """Return the derived facts of every patient of `cohort` as dictionaries.

    Dates come back as ``datetime.date`` and flags as ``bool`` on every
    database (one query).
    """
    connection = connections[cohort.db]
    sql, params = facts_sql(cohort, endpoint=endpoint, index=index, as_of=as_of)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    dates = {i for i, name in enumerate(COLUMNS) if _is_date(name)}
    flags = {COLUMNS.index(name) for name in FLAGS}
    result = []
    for row in rows:
        values = list(row)
        for i in dates:
            values[i] = _date(values[i])
        for i in flags:
            values[i] = bool(values[i])
        result.append(dict(zip(COLUMNS, values, strict=True)))
    return result


#: Rows converted at a time by fetch_frame: its peak memory is the frame plus this.
#: Each chunk costs pandas a fixed overhead per column; 10,000 rows (a few MB of
#: Python objects) halved the frame's time at 10^5 patients against 2,000.
FETCH_CHUNK = 10_000


def fetch_frame(
    cohort: QuerySet,
    *,
    endpoint: Endpoint = Endpoint.OVERALL,
    index: IndexDate = IndexDate.DIAGNOSIS,
    as_of: datetime.date,
    columns: tuple[str, ...] = COLUMNS,
):
    """Return the derived facts of `cohort` as a pandas DataFrame (one query).

    Only ``columns`` (a subset of COLUMNS, in that order) are selected. Dates are
    ``datetime64[ns]`` columns (NaT for none) and flags ``bool``, converted
    column by column rather than value by value, and FETCH_CHUNK rows at a time,
    so that the database's rows as Python objects never exist all at once.
    """
    import pandas as pd

    unknown = [name for name in columns if name not in COLUMNS]
    if unknown:
        raise ValueError(f"unknown fact column(s): {', '.join(unknown)}")
    connection = connections[cohort.db]
    sql, params = facts_sql(cohort, endpoint=endpoint, index=index, as_of=as_of)
    # Dates come as ISO text, which pandas parses in bulk; date objects it would
    # convert one by one (at 10^5 patients: most of the frame's time).
    selected = ", ".join(
        f"CAST(f.{name} AS TEXT)" if _is_date(name) else f"f.{name}" for name in columns
    )
    select = f"SELECT {selected} FROM ({sql}) f"

    def typed(rows) -> pd.DataFrame:
        frame = pd.DataFrame.from_records(rows, columns=list(columns))
        for name in columns:
            if _is_date(name):
                # A date pandas cannot hold (before 1677-09-21: one that slipped
                # past validation) is a missing value, not a failed report.
                frame[name] = pd.to_datetime(
                    frame[name], format="ISO8601", errors="coerce"
                )
            elif name in FLAGS:
                frame[name] = frame[name].astype(bool)
        return frame

    parts = []
    with connection.cursor() as cursor:
        cursor.execute(select, params)
        while rows := cursor.fetchmany(FETCH_CHUNK):
            parts.append(typed(rows))
    if not parts:
        return typed([])
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _is_date(name: str) -> bool:
    return name in DATES


def _date(value):
    if value is None or isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(value)
