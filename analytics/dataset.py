"""The one bridge from the ORM to analytics: a cohort in, tidy DataFrames out.

Everything the statistics read passes through here, in a fixed number of queries
whatever the cohort size, as plain values (never model instances):

* :func:`survival_table` counts in the database — one row per group, time,
  event flag and treatment flags with a count — which is all Kaplan-Meier, the
  log-rank test, an unadjusted Cox model and reverse-KM follow-up need;
* :func:`patient_frame` returns one row per patient for what needs them (Cox
  models with covariates, baseline tables, landmark analyses), and
  :func:`table_from_frame` counts it into the same survival table.

Identifiers are never read: the age at diagnosis is registry.derive's, stored
with the derived facts (as is the first line of systemic therapy), and the MRN
and the date of birth are never selected.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connections, transaction
from django.db.models import (
    F,
    FloatField,
    QuerySet,
    TextField,
)
from django.db.models.functions import Cast
from pandas.api.types import union_categoricals

from analytics.variables import (  # noqa: F401 (re-exported)
    TIME_UNITS,
    VARIABLES,
    AllSites,
    Cohort,
    Variable,
)
from registry import bulk, choices
from registry.choices import Endpoint, IndexDate, Strategy
from registry.derive import strategy_from_dates
from registry.models import Death, DerivedFacts, Patient, Site
from registry.summaries import data_version  # noqa: F401 (re-exported)

#: How each filter of a cohort reads a patient: the strategy, first regimen and
#: diagnosis date from the stored facts (the diagnosis date stored is the
#: diagnosis's), the others from the records. cohort_facts reads the same
#: filters from the facts (facts_lookup).
COHORT_LOOKUPS = {
    "sites": "site__code__in",
    "strategies": "facts__strategy__in",
    "regimens": "facts__first_regimen__in",
    "diagnosed_from": "facts__diagnosis_date__gte",
    "diagnosed_to": "facts__diagnosis_date__lte",
    "primary_sites": "tumour__primary_site__in",
    "m_stages": "tumour__clinical_m__in",
    "sexes": "sex__in",
    "resectability": "liver__initial_resectability__in",
    "synthetic": "is_synthetic",
}


def cohort_filters(cohort: Cohort) -> dict:
    """Return the lookups (from a patient) of the filters `cohort` sets."""
    filters = {}
    for name, lookup in COHORT_LOOKUPS.items():
        value = getattr(cohort, name)
        if isinstance(value, (tuple, list)):
            if value:
                filters[lookup] = list(value)
        elif value is not None:
            filters[lookup] = value
    return filters


def facts_lookup(lookup: str) -> str:
    """Return a patient's `lookup` as read from their stored facts (which carry
    the patient's site): ``facts__strategy`` is ``strategy``, ``site__code``
    stays, ``sex`` is ``patient__sex``."""
    if lookup.startswith("facts__"):
        return lookup.removeprefix("facts__")
    if lookup.startswith("site__"):
        return lookup
    return f"patient__{lookup}"


def cohort_queryset(user, cohort: Cohort) -> QuerySet:
    """Return the user's patients in `cohort` (a plain queryset of patients).

    The stored derived facts are joined only when a filter needs them
    (strategy, first regimen, diagnosis date). What counts the cohort reads
    :func:`cohort_facts` instead.
    """
    return Patient.objects.for_user(user).filter(**cohort_filters(cohort))


def cohort_facts(user, cohort: Cohort) -> QuerySet:
    """Return the stored facts of the user's patients in `cohort`.

    The same patients as :func:`cohort_queryset`, selected on the facts: the
    user's sites and the strategy, regimen, diagnosis date and site filters
    are the facts' own columns, so a report of them reads the facts alone; the
    patients (and their records) are joined only for the other filters.
    """
    return DerivedFacts.objects.for_user(user).filter(
        **{facts_lookup(k): v for k, v in cohort_filters(cohort).items()}
    )


def group_labels(name: str) -> dict:
    """Return code -> label for the values of variable `name`.

    A vocabulary's labels (:meth:`Variable.labels`); for ``site``, whose groups
    are the sites' names, each site's code -> name (one query), so a Cox
    reference may be named by either.
    """
    if name == "site":
        return dict(Site.objects.values_list("code", "name"))
    return VARIABLES[name].labels()


def unknown_sites(user, codes: Sequence[str]) -> list[str]:
    """Return the site codes in `codes` that are not among the user's sites."""
    if not codes:
        return []
    known = set(
        Site.objects.for_user(user)
        .filter(code__in=codes)
        .values_list("code", flat=True)
    )
    return [code for code in codes if code not in known]


#: Variables that registry.bulk derives; the others are read through the ORM.
DERIVED = (
    "strategy",
    "staged_order",
    "liver_resected",
    "converted",
    "later_palliative",
)

#: Variables that the counts read from registry.bulk's stored facts, by column.
STORED_FACTS = {
    **{name: name for name in DERIVED},
    "age": "age",
    "regimen": "first_regimen",
    "biologic": "first_biologic",
}

#: Yes/no columns of a survival table besides the event (SurvivalTable.flags),
#: each as survival_table reads it from the stored facts (f).
TABLE_FLAG_COLUMNS = {
    "liver_resected": "f.liver_resected",
    "converted": "f.converted",
    "unresected_primary": "f.first_primary_resection IS NULL",
    "later_palliative": "f.later_palliative",
}
TABLE_FLAGS = tuple(TABLE_FLAG_COLUMNS)
#: Why a patient of the cohort is left out of the survival analysis.
EXCLUSION_REASONS = ("no_index_date", "group_unknown")


@dataclass(frozen=True)
class SurvivalTable:
    """A cohort counted by what its survival analysis needs, and nothing more.

    ``counts`` has one row per distinct (group, days, event, competing) with
    ``n`` patients, for the patients kept: group is a categorical of labels
    (as in :func:`patient_frame`), ``days`` an int, ``event`` and ``competing``
    (a death that competes with the event a cumulative incidence estimates:
    ``registry.bulk``'s survival_competing) bools. After a landmark in months
    or years the restarted clock is not in whole days (6 months is 182.625
    days): :func:`table_from_frame` then keeps ``days`` as floats, as R times
    them. ``excluded`` counts the others by reason (:data:`EXCLUSION_REASONS`:
    no index date on or before the cut-off, or no value for the grouping).
    ``flags`` counts the kept patients by the :data:`TABLE_FLAGS` bools
    (``unresected_primary``: no resection of the primary), the later events a
    report counts over the whole cohort, so they are no part of ``counts``.
    ``resections`` counts the kept patients resected (primary, liver or both) by
    the days from diagnosis to the later of the two first resections (columns
    ``days``, ``n``), for the landmark a report suggests.
    """

    counts: pd.DataFrame
    excluded: dict[str, int]
    resections: pd.DataFrame
    flags: pd.DataFrame

    @property
    def patients(self) -> int:
        """Return how many patients the cohort has, kept or not."""
        return int(self.counts["n"].sum()) + sum(self.excluded.values())


#: Group values that are no group: blank and the missing-data codes (which
#: patient_frame reads as missing), for :func:`no_group`.
NO_GROUP = ("", *sorted(choices.MISSING_CODES))


def no_group(source: str) -> str:
    """Return SQL true when `source` has no group (parameters: NO_GROUP)."""
    placeholders = ", ".join(["%s"] * len(NO_GROUP))
    return f"COALESCE(CAST({source} AS TEXT), '') IN ({placeholders})"


def survival_table(
    queryset: QuerySet,
    *,
    group: str,
    endpoint: Endpoint = Endpoint.OVERALL,
    index: IndexDate = IndexDate.DIAGNOSIS,
    as_of: datetime.date,
) -> SurvivalTable:
    """Return the survival table of `queryset`, counted in the database (one query).

    `queryset` holds the cohort's patients or, read without joining the
    patients, their stored facts (:func:`cohort_facts`).

    registry.bulk's per-patient facts are counted by ``GROUP BY`` group, days,
    event and competing death (packed as the bits of one integer) and exclusion
    reason, and (in the same statement) by exclusion reason, days to resection
    and :data:`TABLE_FLAGS` (packed likewise), so only distinct rows leave the
    database: at national scale, tens of thousands of rows instead of millions.
    The two counts are two plain aggregates over the same rows: on PostgreSQL
    each its own parallel scan, on SQLite one temporary table read twice.
    :func:`table_from_frame` gives the same table from a :func:`patient_frame`.
    """
    variable = VARIABLES[group]
    connection = connections[queryset.db]
    vendor = connection.vendor
    q = connection.ops.quote_name
    facts, params = bulk.facts_sql(
        queryset, endpoint=endpoint, index=index, as_of=as_of
    )
    if group in DERIVED:
        source, join, join_params = f"f.{group}", "", ()
    else:
        groups = (
            Patient.objects.order_by()
            .annotate(gid=F("pk"), grp=F(variable.column))
            .values_list("gid", "grp")
        )
        group_sql, join_params = groups.query.sql_with_params()
        source = f"g.{q('grp')}"
        join = f"LEFT JOIN ({group_sql}) g ON g.{q('gid')} = f.id"
    cutoff = connection.ops.adapt_datefield_value(as_of)

    def packed(conditions: dict[str, str]) -> str:
        # yes/no columns as the bits of one integer: one key to hash, not many
        return " + ".join(
            f"CASE WHEN {condition} THEN {1 << i} ELSE 0 END"
            for i, condition in enumerate(conditions.values())
        )

    status = {
        "event": "f.survival_event = 1",
        "competing": "f.survival_competing = 1",
    }
    # the later events a report counts over the whole cohort, not by time
    flags = TABLE_FLAG_COLUMNS
    rows = f"""
        SELECT {source} AS grp, f.survival_days AS days, {packed(status)} AS status,
            {packed(flags)} AS flags,
            CASE WHEN f.survival_start IS NULL OR f.survival_start > %s THEN 1
                WHEN {no_group(source)} THEN 2
                ELSE 0 END AS reason,
            {bulk.days_between(vendor, "f.strategy_completed", "f.diagnosis_date")}
                AS resected
        FROM ({facts}) f {join}"""
    # PostgreSQL plans each reference to the rows on its own (NOT MATERIALIZED):
    # two plain aggregates, each over parallel workers. GROUPING SETS (one pass
    # in one process) was no faster (the survival core at 10^6 on 2 cores:
    # 1.65 s against 1.55 s this way), and Citus refuses it on distributed
    # tables. SQLite reads the rows once into a temporary table.
    inline = "NOT MATERIALIZED " if vendor == "postgresql" else ""
    sql = f"""
    WITH c AS {inline}({rows})
    SELECT 1, grp, days, status, reason, NULL, COUNT(*)
    FROM c GROUP BY grp, days, status, reason
    UNION ALL
    SELECT 0, NULL, NULL, flags, reason, resected, COUNT(*)
    FROM c GROUP BY reason, resected, flags"""
    with connection.cursor() as cursor:
        cursor.execute(sql, (cutoff, *NO_GROUP, *params, *join_params))
        fetched = cursor.fetchall()
    counted, group, days, bits, reason, resection, n = (
        list(zip(*fetched, strict=True)) or [()] * 7
    )
    counted = np.array(counted, dtype=bool)
    n = np.array(n, dtype=np.int64)
    reasons = np.array(reason, dtype=float)
    bits = np.array(bits, dtype=float)
    # the kept patients (reason 0) of the second count: by days to resection
    # and by flags, summed in Python. PostgreSQL cannot estimate the rows of a
    # WHERE on the reason's CASE, and planned a nested loop over every patient
    # for them.
    second = ~counted & (reasons == 0)
    resected = np.array(resection, dtype=float)[second]
    done = ~np.isnan(resected)
    resections = (
        pd.DataFrame({"days": resected[done].astype(int), "n": n[second][done]})
        .groupby("days", as_index=False)["n"]
        .sum()
    )
    flag_table = (
        pd.DataFrame({**_unpacked(bits[second], TABLE_FLAGS), "n": n[second]})
        .groupby(list(TABLE_FLAGS), as_index=False)["n"]
        .sum()
    )
    reason = reasons[counted]
    kept = reason == 0
    excluded = {
        why: int(n[counted][reason == code].sum())
        for code, why in enumerate(EXCLUSION_REASONS, start=1)
        if (reason == code).any()
    }
    counts = pd.DataFrame(
        {
            "group": _labels(np.array(group, dtype=object)[counted][kept], variable),
            "days": np.array(days, dtype=float)[counted][kept].astype(np.int64),
            **_unpacked(bits[counted][kept], status),
            "n": n[counted][kept],
        }
    )
    return SurvivalTable(
        counts=counts,
        excluded=excluded,
        resections=resections,
        flags=flag_table,
    )


def _unpacked(bits: np.ndarray, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Return yes/no columns packed as the bits of `bits`, a column per name."""
    packed = bits.astype(np.int64)
    return {name: (packed & (1 << i)) > 0 for i, name in enumerate(names)}


@dataclass(frozen=True)
class VariableCounts:
    """A cohort's analysed patients counted by what a report's tables read.

    For the patients a :class:`SurvivalTable` keeps (an index date on or before
    the cut-off and a group): ``baseline`` counts them by group and the
    variable's value (columns ``group``, the variable's name, ``n``), for each
    baseline variable; ``subgroups`` by the variable's value, days and event
    (columns the name, ``days``, ``event``, ``n``); ``associations`` by the
    factor and the outcome (their names, ``n``). Values are those of
    :func:`patient_frame` (labels as categoricals, numbers as floats), a
    missing value counted as one (NaN).
    """

    baseline: dict[str, pd.DataFrame]
    subgroups: dict[str, pd.DataFrame]
    associations: dict[tuple[str, str], pd.DataFrame]

    def parts(self) -> list[tuple[str, pd.DataFrame]]:
        """Return every count frame with a name saying what it counts."""
        return [
            *((f"baseline {name}", f) for name, f in self.baseline.items()),
            *((f"subgroup {name}", f) for name, f in self.subgroups.items()),
            *((f"association {a} {b}", f) for (a, b), f in self.associations.items()),
        ]


def variable_counts(
    queryset: QuerySet,
    *,
    group: str,
    endpoint: Endpoint = Endpoint.OVERALL,
    index: IndexDate = IndexDate.DIAGNOSIS,
    as_of: datetime.date,
    baseline: Sequence[str] = (),
    subgroups: Sequence[str] = (),
    associations: Sequence[tuple[str, str]] = (),
) -> VariableCounts:
    """Return the counts of `queryset` a report's tables read (one query).

    What :func:`patient_frame` would give one row per patient, counted in the
    database instead: one ``GROUP BY`` per baseline variable (group, value),
    subgroup (value, days, event) and association (factor, outcome), in one
    statement over registry.bulk's facts (``GROUPING SETS`` on PostgreSQL, one
    pass; ``UNION ALL`` elsewhere), so that only distinct rows leave the
    database. Continuous variables are counted by distinct value (their
    statistics read the values, which counts keep).
    """
    names = list(
        dict.fromkeys(
            [group, *baseline, *subgroups, *(n for p in associations for n in p)]
        )
    )
    unknown = [name for name in names if name not in VARIABLES]
    if unknown:
        raise KeyError(f"unknown variable(s): {', '.join(unknown)}")
    connection = connections[queryset.db]
    q = connection.ops.quote_name
    facts, params = bulk.facts_sql(
        queryset, endpoint=endpoint, index=index, as_of=as_of
    )
    recorded = [name for name in names if name not in STORED_FACTS]
    column = {name: f"f.{STORED_FACTS[name]}" for name in names if name in STORED_FACTS}
    join, join_params = "", ()
    if recorded:
        # as patient_frame reads them: numbers as floats, codes as stored
        values = {
            f"v_{name}": Cast(VARIABLES[name].column, FloatField())
            if VARIABLES[name].kind == "continuous"
            else F(VARIABLES[name].column)
            for name in recorded
        }
        rows = (
            Patient.objects.order_by()
            .annotate(gid=F("pk"), **values)
            .values_list("gid", *values)
        )
        rows_sql, join_params = rows.query.sql_with_params()
        join = f"LEFT JOIN ({rows_sql}) v ON v.{q('gid')} = f.id"
        column |= {name: f"v.{q(f'v_{name}')}" for name in recorded}
    # one output column per variable, then days and event
    slots = [f"c{i}" for i in range(len(names))] + ["days", "event"]
    slot = dict(zip([*names, "days", "event"], slots, strict=True))
    select = ", ".join(f"{column[name]} AS {slot[name]}" for name in names)
    cutoff = connection.ops.adapt_datefield_value(as_of)
    # the patients survival_table keeps
    kept = (
        f"f.survival_start IS NOT NULL AND f.survival_start <= %s "
        f"AND NOT {no_group(column[group])}"
    )
    parts = {
        **{("baseline", name): (group, name) for name in baseline},
        **{("subgroup", name): (name, "days", "event") for name in subgroups},
        **{("association", tuple(pair)): tuple(pair) for pair in associations},
    }
    if not parts:
        return VariableCounts({}, {}, {})
    # Each part is known by the columns it is not counted by, as the bits of
    # SQL's GROUPING(the columns some part counts by) give them (the last
    # column the lowest bit).
    used = [
        name
        for name in slots
        if any(name in (slot[n] for n in by) for by in parts.values())
    ]
    sets = {by: _grouping_mask([slot[n] for n in by], used) for by in parts.values()}
    # a pair counted twice (a baseline variable and an association) once
    distinct = list({mask: by for by, mask in reversed(sets.items())}.items())
    rows = f"""
        SELECT {select}, f.survival_days AS days, f.survival_event AS event
        FROM ({facts}) f {join}
        WHERE {kept}"""
    if connection.vendor == "postgresql":
        # one pass over the patients, a hash table per grouping set (a column
        # no set counts by may not be selected)
        outputs = [name if name in used else "NULL" for name in slots]
        grouping = ", ".join(
            f"({', '.join(slot[n] for n in dict.fromkeys(by))})" for _, by in distinct
        )
        sql = f"""
        SELECT GROUPING({", ".join(used)}), {", ".join(outputs)}, COUNT(*)
        FROM ({rows}) c GROUP BY GROUPING SETS ({grouping})"""
    else:
        union = []
        for mask, by in distinct:
            keys = [slot[n] for n in dict.fromkeys(by)]
            outputs = [name if name in keys else "NULL" for name in slots]
            union.append(
                f"SELECT {mask}, {', '.join(outputs)}, COUNT(*) FROM c "
                f"GROUP BY {', '.join(keys)}"
            )
        sql = f"WITH c AS ({rows}) {' UNION ALL '.join(union)}"
    with transaction.atomic(using=queryset.db), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The grouping sets are counted in one process, but the joins and
            # the scans under them can run on parallel workers, the rows then
            # gathered: PostgreSQL's default cost of gathering a row keeps it
            # from choosing that plan, which took half the time (10^5
            # patients: 0.52-0.56 s against 0.69-1.09 s; 10^6: 4.9-5.6 s
            # against 8.6-9.3 s). For this statement only.
            cursor.execute("SET LOCAL parallel_tuple_cost = 0")
        cursor.execute(sql, (*params, *join_params, cutoff, *NO_GROUP))
        fetched = pd.DataFrame(
            cursor.fetchall(), columns=["mask", *names, "days", "event", "n"]
        )
        if connection.vendor == "postgresql":
            cursor.execute("RESET parallel_tuple_cost")

    def counted(kind: str, by: tuple[str, ...]) -> pd.DataFrame:
        rows = fetched[fetched["mask"] == sets[by]]
        # a baseline part counts by the group, then the variable
        labels = ["group", by[1]] if kind == "baseline" else list(by)
        frame = pd.DataFrame(
            {
                label: _variable_column(rows[name], VARIABLES[name])
                for label, name in zip(labels, by, strict=False)
                if name not in ("days", "event")
            },
            index=rows.index,
        )
        if kind == "subgroup":
            frame["days"] = rows["days"].astype(int)
            frame["event"] = rows["event"].astype(bool)
        frame["n"] = rows["n"].astype(int)
        return frame.reset_index(drop=True)

    found = {key: counted(key[0], by) for key, by in parts.items()}
    return VariableCounts(
        baseline={n: found["baseline", n] for n in baseline},
        subgroups={n: found["subgroup", n] for n in subgroups},
        associations={tuple(p): found["association", tuple(p)] for p in associations},
    )


def _grouping_mask(keys: Sequence[str], columns: Sequence[str]) -> int:
    """Return SQL's GROUPING(columns) for rows grouped by `keys`: a bit per
    column not among them, the last column the lowest bit."""
    return sum(
        1 << (len(columns) - 1 - i)
        for i, name in enumerate(columns)
        if name not in keys
    )


def table_from_frame(frame: pd.DataFrame) -> SurvivalTable:
    """Return the survival table of a :func:`patient_frame` (counted in pandas).

    The same table :func:`survival_table` counts in the database, so that a
    report's survival sections are computed one way whichever the source. The
    frame must carry the variables ``converted`` and ``later_palliative``.
    """
    no_time = frame["days"].isna()
    no_group = frame["group"].isna() & ~no_time
    kept = frame[~no_time & ~no_group]
    days = kept["days"].astype(float)
    if (days == days.round()).all():
        days = days.astype(np.int64)
    counts = pd.DataFrame(
        {
            "group": kept["group"],
            "days": days,
            "event": kept["event"].astype(bool),
            "competing": kept["competing"].astype(bool),
        }
    )
    counts = (
        counts.groupby(list(counts.columns), observed=True, dropna=False)
        .size()
        .rename("n")
        .reset_index()
    )
    flags = (
        pd.DataFrame(
            {
                "liver_resected": kept["first_liver_resection"].notna(),
                "converted": kept["converted"] == "Yes",
                "unresected_primary": kept["first_primary_resection"].isna(),
                "later_palliative": kept["later_palliative"] == "Yes",
            }
        )
        .groupby(list(TABLE_FLAGS))
        .size()
        .rename("n")
        .reset_index()
    )
    resected = kept[["first_primary_resection", "first_liver_resection"]].max(axis=1)
    days = (resected - kept["diagnosis_date"]).dt.days.dropna().astype(int)
    resections = days.value_counts().rename_axis("days").rename("n").reset_index()
    excluded = {
        reason: int(mask.sum())
        for reason, mask in zip(EXCLUSION_REASONS, (no_time, no_group), strict=True)
        if mask.any()
    }
    return SurvivalTable(counts, excluded, resections, flags)


#: The derived facts a patient frame carries (registry.bulk.COLUMNS, in order).
FRAME_FACTS = (
    "id",
    "registry_number",
    "diagnosis_date",
    "initial_resectability",
    "first_primary_resection",
    "first_liver_resection",
    "first_systemic",
    "strategy",
    "staged_order",
    "liver_resected",
    "converted",
    "later_palliative",
    "survival_start",
    "survival_event",
    "survival_competing",
    "survival_days",
)


def patient_frame(
    queryset: QuerySet,
    *,
    group: str,
    endpoint: Endpoint = Endpoint.OVERALL,
    index: IndexDate = IndexDate.DIAGNOSIS,
    as_of: datetime.date,
    variables: Iterable[str] = (),
) -> pd.DataFrame:
    """Return one row per patient: group, days, event, derived dates and variables.

    Columns: ``registry_number``, ``group`` (a categorical of labels in the
    vocabulary's order), ``days``, ``event``, ``competing``, ``survival_start``,
    ``diagnosis_date``, ``first_primary_resection``, ``first_liver_resection``,
    ``first_systemic``, ``initial_resectability`` and one column per named
    variable (categorical variables as labels, ordinal as ordered categoricals).
    Patients whose index date is missing or after ``as_of`` have NaN ``days``;
    the caller decides (and reports) what to exclude.

    At most two queries whatever the cohort size: the derived facts
    (registry.bulk) and the recorded variables (with the stored age and first
    line of systemic therapy).
    """
    names = list(dict.fromkeys([group, *variables]))
    unknown = [name for name in names if name not in VARIABLES]
    if unknown:
        raise KeyError(f"unknown variable(s): {', '.join(unknown)}")
    facts = bulk.fetch_frame(
        queryset, endpoint=endpoint, index=index, as_of=as_of, columns=FRAME_FACTS
    )
    frame = facts.rename(
        columns={
            "survival_days": "days",
            "survival_event": "event",
            "survival_competing": "competing",
        }
    )
    recorded = {name: VARIABLES[name].column for name in names if name not in DERIVED}
    columns = {f"v_{name}": column for name, column in recorded.items()}
    kinds = {"id": "value"} | {
        f"v_{name}": {"continuous": "number", "binary": "value"}.get(
            VARIABLES[name].kind, "code"
        )
        for name in recorded
    }
    if columns:
        # Dates as ISO text and numbers as floats from the database, which
        # pandas converts in bulk (Python dates and Decimals it converts one by
        # one: at 10^5 patients, most of the frame's time).
        cast = {
            f"cast_{name}": Cast(column, TextField())
            if kinds[name] == "date"
            else Cast(column, FloatField())
            if kinds[name] == "number"
            else F(column)
            for name, column in columns.items()
        }
        rows = (
            queryset.model.objects.filter(pk__in=queryset.values("pk"))
            .annotate(**cast)
            .values_list("pk", *cast)
        )
        frame = frame.merge(_compact_frame(rows, kinds), on="id", how="left")
    for name in names:
        if name in DERIVED:
            frame[f"v_{name}"] = frame[name]
    at_risk = frame["survival_start"].notna() & (
        frame["survival_start"] <= pd.Timestamp(as_of)
    )
    frame["days"] = frame["days"].astype(float).where(at_risk)
    frame["event"] = frame["event"].astype(bool)
    frame["competing"] = frame["competing"].astype(bool)
    frame = frame.drop(columns=[n for n in DERIVED if n in frame.columns])
    for name in names:
        frame[f"v_{name}"] = _variable_column(frame[f"v_{name}"], VARIABLES[name])
    frame = frame.rename(columns={f"v_{name}": name for name in names})
    frame["group"] = frame[group]
    return frame.drop(columns=["id"]).reset_index(drop=True)


def _compact_frame(rows: QuerySet, kinds: dict[str, str]) -> pd.DataFrame:
    """Return the values_list `rows` as a frame, read bulk.FETCH_CHUNK rows at a time.

    ``kinds`` names the columns in order with how to store them: "date"
    (datetime64), "number" (float), "code" (text codes) or "value" (as read). Each
    chunk is made compact before the next is read, codes as categoricals (one
    string per distinct code, not one per row), so that peak memory is the frame
    plus one chunk rather than a Python object per value. Codes come back as
    plain object columns.
    """
    columns = list(kinds)

    def compact(chunk: list[tuple]) -> pd.DataFrame:
        part = pd.DataFrame.from_records(chunk, columns=columns)
        for name, kind in kinds.items():
            if kind == "date":
                # out of pandas' range (validation bypassed): missing, not a crash
                part[name] = pd.to_datetime(
                    part[name], format="ISO8601", errors="coerce"
                )
            elif kind == "number":
                part[name] = pd.to_numeric(part[name], errors="coerce").astype(float)
            elif kind == "code":
                part[name] = pd.Categorical(part[name])
        return part

    parts = []
    chunk: list[tuple] = []
    for row in rows.iterator(chunk_size=bulk.FETCH_CHUNK):
        chunk.append(row)
        if len(chunk) == bulk.FETCH_CHUNK:
            parts.append(compact(chunk))
            chunk = []
    if chunk or not parts:
        parts.append(compact(chunk))
    codes = [name for name, kind in kinds.items() if kind == "code"]
    frame = pd.concat([part.drop(columns=codes) for part in parts], ignore_index=True)
    for name in codes:
        # chunks have their own categories; the objects point at shared strings
        values = union_categoricals([part[name] for part in parts])
        frame[name] = pd.Series(values, index=frame.index).astype(object)
    return frame[columns]


def _labels(values: np.ndarray, variable: Variable):
    """Return :func:`_variable_column` of `values`, converting each distinct value
    once (the counted table repeats each group on thousands of rows)."""
    codes, uniques = pd.factorize(values)
    labels = _variable_column(pd.Series(uniques, dtype=object), variable)
    if not isinstance(labels, pd.Categorical):
        return _variable_column(pd.Series(values), variable)
    return labels.take(codes, allow_fill=True)


def _variable_column(values: pd.Series, variable: Variable) -> pd.Series:
    """Return codes as labels: a categorical in vocabulary order, or numbers."""
    if variable.kind == "continuous":
        return pd.to_numeric(values, errors="coerce").astype(float)
    # Blank and the missing-data codes (unknown, not applicable, not recorded)
    # are no answer: counted as missing, never shown as a category.
    values = pd.Series(values).replace(
        {code: None for code in ("", *choices.MISSING_CODES)}
    )
    labels = {
        code: label
        for code, label in variable.labels().items()
        if code not in choices.MISSING_CODES
    }
    if variable.kind == "binary":
        # 0/1 (SQLite) or booleans (PostgreSQL), in an int, bool or object column
        yes = values.where(values.notna(), False).astype(bool)
        mapped = pd.Series(np.where(yes, "Yes", "No"), index=values.index).where(
            values.notna()
        )
        order = ["No", "Yes"]
    elif labels:
        known = values.map(labels)
        # A code outside the vocabulary keeps its code as its label.
        mapped = known.where(known.notna() | values.isna(), values.astype(str))
        order = list(labels.values())
        order += sorted(set(mapped.dropna()) - set(order))
    else:
        mapped = values.where(values.isna(), values.astype(str))
        order = sorted(set(mapped.dropna()))
    return pd.Categorical(mapped, categories=order, ordered=variable.kind == "ordinal")


def unknown_cause_deaths(queryset: QuerySet, *, as_of: datetime.date) -> int:
    """Return how many patients of `queryset` died by `as_of` of an unknown cause
    (one query): the competing-risks section counts them with the other causes."""
    return Death.objects.filter(
        patient__in=queryset.values("pk"),
        date__lte=as_of,
        cause=choices.CauseOfDeath.UNKNOWN,
    ).count()


def strategy_by(frame: pd.DataFrame, landmark_days: int) -> pd.Series:
    """Return each patient's resection strategy as it stood `landmark_days` after
    diagnosis: registry.derive's rule applied to the resections done by then."""
    cutoff = pd.to_datetime(frame["diagnosis_date"]) + pd.to_timedelta(
        landmark_days, unit="D"
    )

    def done(column: str) -> list:
        dates = pd.to_datetime(frame[column]).where(lambda d: d <= cutoff)
        return [None if pd.isna(d) else d.date() for d in dates]

    labels = dict(Strategy.choices)
    strategies = [
        labels[strategy_from_dates(primary, liver).strategy]
        for primary, liver in zip(
            done("first_primary_resection"), done("first_liver_resection"), strict=True
        )
    ]
    return pd.Series(
        pd.Categorical(strategies, categories=list(labels.values())), index=frame.index
    )


def liver_resected_by(frame: pd.DataFrame, landmark_days: int) -> pd.Series:
    """Return whether the liver had been resected `landmark_days` after diagnosis."""
    cutoff = pd.to_datetime(frame["diagnosis_date"]) + pd.to_timedelta(
        landmark_days, unit="D"
    )
    done = pd.to_datetime(frame["first_liver_resection"]) <= cutoff
    return pd.Series(
        pd.Categorical(np.where(done, "Yes", "No"), categories=["No", "Yes"]),
        index=frame.index,
    )


def _csv_field(value: str, *, alone: bool) -> str:
    """Return `value` as the csv module writes it in a row (quoted when needed)."""
    if value and value.replace(".", "").replace("-", "").isalnum():
        return value  # numbers, flags and words: never quoted
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([value] if alone else [value, ""])
    return buffer.getvalue()[: -1 if alone else -2]


def fingerprint(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """Return a SHA-256 of the analysis rows, independent of row order.

    The rows are written as CSV text in sorted order and hashed, so the same
    data give the same fingerprint on any machine and database: each value as
    its text (``astype(str)``), the rows sorted by those texts column after
    column, written as ``to_csv(index=False, header=False)`` writes them. Every
    column is converted, ranked and quoted once per distinct value, so the
    work per row is in numpy (at 10^5 patients, pandas' sort and CSV writer
    took most of a survival-only report's Python time).
    """
    columns = list(columns)
    keys, texts = [], []
    for name in columns:
        codes, uniques = pd.factorize(frame[name], use_na_sentinel=False)
        text = np.asarray(pd.Series(uniques, dtype=object).astype(str), dtype=object)
        rank = np.empty(len(text), dtype=np.int64)
        rank[np.argsort(text, kind="stable")] = np.arange(len(text))
        keys.append(rank[codes])
        alone = len(columns) == 1
        quoted = [_csv_field(value, alone=alone) for value in text]
        texts.append(np.array(quoted, dtype=object)[codes])
    order = np.lexsort(keys[::-1])
    rows = zip(*(column[order].tolist() for column in texts), strict=True)
    text = "".join([",".join(row) + "\n" for row in rows])
    return hashlib.sha256(text.encode()).hexdigest()


def counts_fingerprint(frame: pd.DataFrame) -> str:
    """Return a SHA-256 of a frame of counts, independent of row order.

    Each row's 64-bit hash of its values (pandas' ``hash_pandas_object``: of
    the labels and numbers, not of how they are stored) is sorted, and the
    column names and the sorted hashes hashed: the same counts give the same
    fingerprint on any machine and database, without writing them as text.
    """
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(repr(list(frame.columns)).encode())
    digest.update(np.sort(rows).astype("<u8").tobytes())
    return digest.hexdigest()


def site_scope(user) -> list[int]:
    """Return the ids of the sites whose patients `user` may see (sorted)."""
    return sorted(Site.objects.for_user(user).values_list("pk", flat=True))


__all__ = [
    "COHORT_LOOKUPS",
    "AllSites",
    "Cohort",
    "TIME_UNITS",
    "VARIABLES",
    "Variable",
    "cohort_facts",
    "cohort_filters",
    "cohort_queryset",
    "data_version",
    "counts_fingerprint",
    "fingerprint",
    "group_labels",
    "liver_resected_by",
    "patient_frame",
    "site_scope",
    "strategy_by",
    "survival_table",
    "table_from_frame",
    "unknown_cause_deaths",
    "variable_counts",
    "SurvivalTable",
    "VariableCounts",
]
