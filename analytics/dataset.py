"""The one bridge from the ORM to analytics: a cohort in, tidy DataFrames out.

Everything the statistics read passes through here, in a fixed number of queries
whatever the cohort size, as plain values (never model instances):

* :func:`survival_counts` aggregates in the database — one row per group, time
  and event flag with a count — which is all Kaplan-Meier, the log-rank test and
  reverse-KM follow-up need;
* :func:`patient_frame` returns one row per patient for what needs them (Cox
  models, baseline tables, landmark analyses).

Identifiers never leave this module: the date of birth is read only to compute
the age at diagnosis, and the MRN is never read at all.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.db import connections
from django.db.models import F, Max, OuterRef, QuerySet, Subquery

from registry import choices
from registry.choices import Endpoint, IndexDate, Strategy
from registry.derive import DAYS_PER_MONTH
from registry.models import Patient, Site, SystemicTherapyLine

#: Divisors from days to each time unit a report may use.
TIME_UNITS = {"days": 1.0, "weeks": 7.0, "months": DAYS_PER_MONTH, "years": 365.25}


@dataclass(frozen=True)
class Variable:
    """A patient-level variable a report can group by, adjust for or tabulate.

    ``column`` is the ORM path or annotation to read; ``kind`` is "categorical",
    "ordinal" (ordered categories, in ``choices`` order), "binary" or
    "continuous"; ``post_index`` marks variables that depend on what happened
    after diagnosis (grouping by them invites immortal-time bias).
    """

    name: str
    label: str
    kind: str
    column: str
    choices: tuple[tuple[str, str], ...] = ()
    post_index: bool = False
    unit: str = ""

    def labels(self) -> dict:
        """Return code -> label for categorical values."""
        if self.kind == "binary":
            return {True: "Yes", False: "No"}
        return dict(self.choices)


def _coded(name, label, column, vocabulary, *, kind="categorical", **extra) -> Variable:
    return Variable(name, label, kind, column, tuple(vocabulary.choices), **extra)


#: Every variable a report may name, by the name it uses.
VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        _coded("strategy", "Resection strategy", "strategy", Strategy, post_index=True),
        _coded(
            "staged_order",
            "Staged resection order",
            "staged_order",
            choices.StagedOrder,
            post_index=True,
        ),
        Variable(
            "liver_resected",
            "Liver resection",
            "binary",
            "liver_resected",
            post_index=True,
        ),
        Variable(
            "converted",
            "Converted to resectable",
            "binary",
            "converted",
            post_index=True,
        ),
        Variable(
            "later_palliative",
            "Later palliative surgery",
            "binary",
            "later_palliative",
            post_index=True,
        ),
        Variable("site", "Site", "categorical", "site__code"),
        _coded("sex", "Sex", "sex", choices.Sex),
        Variable("age", "Age at diagnosis", "continuous", "age", unit="years"),
        Variable(
            "ecog",
            "ECOG performance status",
            "ordinal",
            "ecog",
            tuple((i, str(i)) for i in range(5)),
        ),
        _coded("asa_class", "ASA class", "asa_class", choices.AsaClass, kind="ordinal"),
        Variable(
            "charlson", "Charlson comorbidity index", "continuous", "charlson_index"
        ),
        _coded(
            "presenting_symptom",
            "Presenting symptom",
            "presenting_symptom",
            choices.PresentingSymptom,
        ),
        _coded(
            "primary_site", "Primary site", "tumour__primary_site", choices.PrimarySite
        ),
        _coded("histology", "Histology", "tumour__histology", choices.Histology),
        _coded("grade", "Grade", "tumour__grade", choices.Grade, kind="ordinal"),
        _coded("clinical_t", "Clinical T", "tumour__clinical_t", choices.ClinicalT),
        _coded("clinical_n", "Clinical N", "tumour__clinical_n", choices.ClinicalN),
        _coded("clinical_m", "Clinical M", "tumour__clinical_m", choices.ClinicalM),
        Variable(
            "cea", "CEA at diagnosis", "continuous", "tumour__cea_ng_ml", unit="ng/mL"
        ),
        _coded("kras", "KRAS", "tumour__kras", choices.MutationStatus),
        _coded("mmr", "MMR / MSI", "tumour__mmr", choices.MmrStatus),
        Variable(
            "lesions", "Number of liver lesions", "continuous", "liver__lesion_count"
        ),
        Variable(
            "largest_mm",
            "Largest liver lesion",
            "continuous",
            "liver__largest_mm",
            unit="mm",
        ),
        _coded(
            "distribution",
            "Liver distribution",
            "liver__distribution",
            choices.LiverDistribution,
        ),
        _coded(
            "extent",
            "Extent of liver disease",
            "liver__extent",
            choices.LiverExtent,
            kind="ordinal",
        ),
        _coded(
            "extrahepatic",
            "Extrahepatic disease",
            "liver__extrahepatic",
            choices.ExtrahepaticDisease,
        ),
        _coded(
            "resectability",
            "Initial resectability",
            "liver__initial_resectability",
            choices.Resectability,
        ),
        _coded("regimen", "First systemic regimen", "first_regimen", choices.Regimen),
        _coded("biologic", "First-line biologic", "first_biologic", choices.Biologic),
    )
}


class AllSites:
    """A reader who sees every site: the command line and fixture scripts."""

    is_superuser = True
    is_authenticated = True


@dataclass(frozen=True)
class Cohort:
    """Which patients a report covers; every field empty means "all"."""

    sites: tuple[str, ...] = ()
    diagnosed_from: datetime.date | None = None
    diagnosed_to: datetime.date | None = None
    primary_sites: tuple[str, ...] = ()
    m_stages: tuple[str, ...] = ()
    strategies: tuple[str, ...] = ()
    regimens: tuple[str, ...] = ()
    sexes: tuple[str, ...] = ()
    resectability: tuple[str, ...] = ()
    synthetic: bool | None = None


#: How each cohort filter reads the annotated queryset.
COHORT_LOOKUPS = {
    "sites": "site__code__in",
    "primary_sites": "tumour__primary_site__in",
    "m_stages": "tumour__clinical_m__in",
    "strategies": "strategy__in",
    "regimens": "first_regimen__in",
    "sexes": "sex__in",
    "resectability": "liver__initial_resectability__in",
}


@dataclass(frozen=True)
class Exclusions:
    """Patients of the cohort left out of an analysis, by reason."""

    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Return how many patients were left out."""
        return sum(self.counts.values())


def cohort_queryset(user, cohort: Cohort) -> QuerySet:
    """Return the user's patients in `cohort`, with the derived facts annotated."""
    first_line = SystemicTherapyLine.objects.filter(patient=OuterRef("pk")).order_by(
        "start_date", "pk"
    )
    queryset = (
        Patient.objects.for_user(user)
        .with_derived()
        .annotate(
            first_regimen=Subquery(first_line.values("regimen")[:1]),
            first_biologic=Subquery(first_line.values("biologic")[:1]),
        )
    )
    for name, lookup in COHORT_LOOKUPS.items():
        values = getattr(cohort, name)
        if values:
            queryset = queryset.filter(**{lookup: list(values)})
    if cohort.diagnosed_from:
        queryset = queryset.filter(tumour__diagnosis_date__gte=cohort.diagnosed_from)
    if cohort.diagnosed_to:
        queryset = queryset.filter(tumour__diagnosis_date__lte=cohort.diagnosed_to)
    if cohort.synthetic is not None:
        queryset = queryset.filter(is_synthetic=cohort.synthetic)
    return queryset


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


def _survival(queryset, *, endpoint, index, as_of):
    return queryset.with_survival(endpoint=endpoint, index=index, as_of=as_of)


def survival_counts(
    queryset: QuerySet,
    *,
    group: str,
    endpoint: Endpoint = Endpoint.OVERALL,
    index: IndexDate = IndexDate.DIAGNOSIS,
    as_of: datetime.date,
) -> tuple[pd.DataFrame, Exclusions]:
    """Return (group, days, event, n) counts computed in the database, and exclusions.

    One query: the per-patient annotated query is wrapped in
    ``SELECT group, days, event, COUNT(*) ... GROUP BY group, days, event``, so only
    the distinct (group, time, event) triples leave the database. Patients whose
    index date is missing or after ``as_of``, or whose group is unknown, are counted
    in the exclusions (one row per reason, from the same query).
    """
    variable = VARIABLES[group]
    rows = _survival(queryset, endpoint=endpoint, index=index, as_of=as_of).annotate(
        grp=F(variable.column)
    )
    inner = rows.values_list("grp", "survival_start", "survival_days", "survival_event")
    sql, params = inner.query.sql_with_params()
    connection = connections[queryset.db]
    q = connection.ops.quote_name
    cutoff = connection.ops.adapt_datefield_value(as_of)
    outer = (
        f"SELECT t.{q('grp')}, t.{q('survival_days')}, t.{q('survival_event')}, "
        f"CASE WHEN t.{q('survival_start')} IS NULL THEN 'no_index_date' "
        f"WHEN t.{q('survival_start')} > %s THEN 'index_after_cutoff' "
        f"WHEN t.{q('grp')} IS NULL THEN 'group_unknown' ELSE '' END AS reason, "
        f"COUNT(*) FROM ({sql}) t GROUP BY 1, 2, 3, 4"
    )
    with connection.cursor() as cursor:
        cursor.execute(outer, (cutoff, *params))
        fetched = cursor.fetchall()
    frame = pd.DataFrame(fetched, columns=["group", "days", "event", "reason", "n"])
    excluded = frame[frame["reason"] != ""].groupby("reason")["n"].sum()
    kept = frame[frame["reason"] == ""].drop(columns="reason")
    kept = kept.assign(
        days=kept["days"].astype(int),
        event=kept["event"].astype(bool),
        n=kept["n"].astype(int),
        group=_group_column(kept["group"], variable),
    )
    exclusions = Exclusions({reason: int(n) for reason, n in excluded.items()})
    return kept.reset_index(drop=True), exclusions


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
    vocabulary's order), ``days``, ``event``, ``survival_start``,
    ``diagnosis_date``, ``first_primary_resection``, ``first_liver_resection``,
    ``first_systemic``, ``initial_resectability`` and one column per named
    variable (categorical variables as labels, ordinal as ordered categoricals).
    Patients whose index date is missing or after ``as_of`` have NaN ``days``;
    the caller decides (and reports) what to exclude.
    """
    names = list(dict.fromkeys([group, *variables]))
    unknown = [name for name in names if name not in VARIABLES]
    if unknown:
        raise KeyError(f"unknown variable(s): {', '.join(unknown)}")
    columns = {
        "registry_number": "registry_number",
        "survival_start": "survival_start",
        "days": "survival_days",
        "event": "survival_event",
        "diagnosis_date": "diagnosis_date",
        "first_primary_resection": "first_primary_resection",
        "first_liver_resection": "first_liver_resection",
        "first_systemic": "first_systemic",
        "initial_resectability": "initial_resectability",
    }
    needs_age = "age" in names
    for name in names:
        if name != "age":
            columns[f"v_{name}"] = VARIABLES[name].column
    if needs_age:
        columns["date_of_birth"] = "date_of_birth"
    rows = _survival(queryset, endpoint=endpoint, index=index, as_of=as_of)
    frame = pd.DataFrame.from_records(
        list(rows.values_list(*columns.values())), columns=list(columns)
    )
    if needs_age:
        frame["v_age"] = _age_years(frame.pop("date_of_birth"), frame["diagnosis_date"])
    at_risk = frame["survival_start"].notna() & (
        pd.to_datetime(frame["survival_start"]) <= pd.Timestamp(as_of)
    )
    frame.loc[~at_risk, "days"] = np.nan
    frame["event"] = frame["event"].astype(bool)
    for name in names:
        frame[f"v_{name}"] = _variable_column(frame[f"v_{name}"], VARIABLES[name])
    frame = frame.rename(columns={f"v_{name}": name for name in names})
    frame["group"] = frame[group]
    return frame


def _age_years(birth: pd.Series, diagnosis: pd.Series) -> pd.Series:
    """Return age at diagnosis in whole years (the birth date goes no further)."""
    birth = pd.to_datetime(birth)
    diagnosis = pd.to_datetime(diagnosis)
    years = diagnosis.dt.year - birth.dt.year
    before_birthday = (diagnosis.dt.month < birth.dt.month) | (
        (diagnosis.dt.month == birth.dt.month) & (diagnosis.dt.day < birth.dt.day)
    )
    return (years - before_birthday.astype(int)).astype("float")


def _group_column(values: pd.Series, variable: Variable) -> pd.Series:
    return _variable_column(values, variable)


def _variable_column(values: pd.Series, variable: Variable) -> pd.Series:
    """Return codes as labels: a categorical in vocabulary order, or numbers."""
    if variable.kind == "continuous":
        return pd.to_numeric(values, errors="coerce").astype(float)
    labels = variable.labels()
    if variable.kind == "binary":
        mapped = values.map(lambda v: None if v is None else labels[bool(v)])
        order = ["No", "Yes"]
    elif labels:
        mapped = values.map(
            lambda v: None if v in (None, "") else labels.get(v, str(v))
        )
        order = [label for label in labels.values()]
        order += sorted(set(mapped.dropna()) - set(order))
    else:
        mapped = values.map(lambda v: None if v in (None, "") else str(v))
        order = sorted(set(mapped.dropna()))
    return pd.Categorical(mapped, categories=order, ordered=variable.kind == "ordinal")


def strategy_by(frame: pd.DataFrame, landmark_days: int) -> pd.Series:
    """Return each patient's resection strategy as it stood `landmark_days` after
    diagnosis, by registry.derive's rule applied to the resections done by then."""
    cutoff = pd.to_datetime(frame["diagnosis_date"]) + pd.to_timedelta(
        landmark_days, unit="D"
    )
    primary = pd.to_datetime(frame["first_primary_resection"]).where(
        lambda d: d <= cutoff
    )
    liver = pd.to_datetime(frame["first_liver_resection"]).where(lambda d: d <= cutoff)
    labels = dict(Strategy.choices)
    strategy = np.select(
        [
            primary.isna() & liver.isna(),
            liver.isna(),
            primary.isna(),
            primary == liver,
        ],
        [
            labels[Strategy.NONE],
            labels[Strategy.PRIMARY_ONLY],
            labels[Strategy.LIVER_ONLY],
            labels[Strategy.SYNCHRONOUS],
        ],
        default=labels[Strategy.STAGED],
    )
    return pd.Series(
        pd.Categorical(strategy, categories=list(labels.values())), index=frame.index
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


def fingerprint(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """Return a SHA-256 of the analysis rows, independent of row order."""
    rows = frame[list(columns)].astype(str).agg("|".join, axis=1).sort_values()
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def counts_fingerprint(counts: pd.DataFrame) -> str:
    """Return a SHA-256 of aggregated (group, days, event, n) rows."""
    return fingerprint(counts, ["group", "days", "event", "n"])


def latest_record_date(queryset: QuerySet) -> datetime.date | None:
    """Return the latest last-contact date in the cohort (a natural cut-off)."""
    return queryset.aggregate(latest=Max("last_contact"))["latest"]


__all__ = [
    "COHORT_LOOKUPS",
    "AllSites",
    "Cohort",
    "Exclusions",
    "TIME_UNITS",
    "VARIABLES",
    "Variable",
    "cohort_queryset",
    "counts_fingerprint",
    "fingerprint",
    "latest_record_date",
    "liver_resected_by",
    "patient_frame",
    "strategy_by",
    "survival_counts",
]
