"""A report specification in, a report result out: numbers, tables, text.

:func:`run_report` reads the cohort through :mod:`analytics.dataset` and calls the
pure statistics of :mod:`analytics.survival` and :mod:`analytics.compare`. The
result is plain data (:meth:`Report.to_dict` is its JSON) that the result page,
the downloads, the ``report`` command and the tests all read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.conf import settings

from analytics import compare, dataset, disclosure, survival
from analytics.dataset import VARIABLES
from analytics.plots import p_text
from analytics.spec import InvalidSpec, ReportSpec
from registry.choices import Endpoint, IndexDate
from registry.routers import reading_reports

ENDPOINT_EVENTS = {
    "os": ("overall survival", "death"),
    "rfs": ("recurrence-free survival", "recurrence, progression or death"),
}
#: The columns of the counted table the survival statistics read.
COUNTED = {"duration": "time", "event": "event", "weights": "n"}
#: Landmark analyses round the suggested landmark up to a multiple of this (months).
LANDMARK_STEP_MONTHS = 3
#: Users with this permission see every count; others see none below
#: settings.REGISTRY_MIN_CELL (analytics.disclosure).
SEES_EVERY_COUNT = "registry.view_identifiers"


class ReportError(ValueError):
    """A valid specification that cannot produce a report on this data."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass
class Report:
    """The result of one report: JSON-ready sections, plus the curves to plot."""

    spec: ReportSpec
    sections: dict
    curves: dict[str, survival.KaplanMeier] = field(repr=False)
    fingerprint: str = ""

    def to_dict(self) -> dict:
        """Return the whole result as JSON-ready data."""
        return {
            "spec": self.spec.to_dict(),
            **self.sections,
            "fingerprint": self.fingerprint,
        }

    def __getitem__(self, key):
        return self.sections[key]


def needs_rows(spec: ReportSpec) -> bool:
    """Return whether `spec` needs one row per patient rather than counts.

    Survival curves, medians, the log-rank tests, an unadjusted Cox model and
    follow-up need only counts of patients by group, time and event, which the
    database computes; Cox covariates, baseline tables, associations, subgroup
    curves, landmark regrouping and first-line groupings need the patients.
    """
    return bool(
        spec.covariates
        or [name for name in spec.baseline if name != spec.group_by]
        or spec.associations
        or [name for name in spec.subgroups if name != spec.group_by]
        or spec.index == "landmark"
        or spec.group_by in dataset.FIRST_LINE
    )


def frame_variables(spec: ReportSpec) -> list[str]:
    """Return the variables the per-patient frame of `spec` carries."""
    return [
        "liver_resected",
        "converted",
        "later_palliative",
        *spec.covariates,
        *spec.baseline,
        *spec.subgroups,
        *(name for pair in spec.associations for name in pair),
    ]


def min_cell_for(user) -> int | None:
    """Return the smallest count `user` may see, or None when they may see any.

    Users who may see identifiers see everything, and so does whoever runs the
    ``report`` command without ``--user`` (:class:`dataset.AllSites`); everyone
    else sees no count below ``settings.REGISTRY_MIN_CELL``.
    """
    if isinstance(user, dataset.AllSites) or user.has_perm(SEES_EVERY_COUNT):
        return None
    return settings.REGISTRY_MIN_CELL


@reading_reports()
def run_report(spec: ReportSpec, *, user) -> Report:
    """Compute the report `spec` describes over the patients `user` may see.

    Its reads go to the read replica when one is configured
    (``DATABASE_REPLICA_URL``; registry.routers): a report writes nothing.

    ``spec.as_of`` must be set (the caller decides the data cut-off; this
    function never reads today's date). Raises ReportError when the data cannot
    give the report (an empty cohort, a landmark beyond follow-up).

    For a user with a minimum cell size (:func:`min_cell_for`) the report is
    refused when fewer patients than that can be analysed, groups of fewer
    patients are left out of every test, and the result (sections and curves)
    comes out masked by :func:`analytics.disclosure.mask_result`, its text
    written from the masked numbers: nothing unmasked leaves this function.

    The survival sections are always computed from a :class:`SurvivalTable`:
    counted in the database when the report needs nothing else
    (:func:`needs_rows`), otherwise counted from the per-patient frame that the
    other sections read.
    """
    if spec.as_of is None:
        raise InvalidSpec(["as_of: the data cut-off must be given"])
    unknown = dataset.unknown_sites(user, spec.cohort.sites)
    if unknown:
        raise ReportError(
            [f"cohort.sites: no site {', '.join(unknown)} among the sites you can see"]
        )
    queryset = dataset.cohort_queryset(user, spec.cohort)
    read = {
        "group": spec.group_by,
        "endpoint": Endpoint(spec.endpoint),
        "index": IndexDate.DIAGNOSIS
        if spec.index == "landmark"
        else IndexDate(spec.index),
        "as_of": spec.as_of,
    }
    analysed = None  # one row per analysed patient, when the report needs them
    landmark_info = None
    if needs_rows(spec):
        frame = dataset.patient_frame(queryset, variables=frame_variables(spec), **read)
        table = dataset.table_from_frame(frame)
        analysed = frame[frame["days"].notna() & frame["group"].notna()].copy()
    else:
        table = dataset.survival_table(queryset, **read)
    patients = table.patients
    excluded = _exclusions(table, spec)
    if analysed is not None and spec.index == "landmark" and not analysed.empty:
        analysed, landmark_info = _landmark(analysed, spec, excluded)
        table = dataset.table_from_frame(analysed)
    min_cell = min_cell_for(user)
    if min_cell is not None:
        _refuse_too_few(table.counts, spec, min_cell)
    if not patients:
        raise ReportError(
            ["cohort: no patients match these filters among the sites you can see"]
        )
    counts = table.counts
    if counts.empty:
        raise ReportError(
            [
                f"cohort: none of the {patients} patients can be analysed "
                f"({_describe_exclusions(excluded)})"
            ]
        )
    warnings: list[str] = []
    table_counts = counts
    # the survival statistics need only patients by group, time and event
    counts = counts.groupby(["group", "days", "event"], observed=True, as_index=False)[
        "n"
    ].sum()
    counts = counts.assign(
        time=counts["days"] / spec.unit_days,
        group=counts["group"].cat.remove_unused_categories(),
    )
    groups = list(counts["group"].cat.categories)
    curves = survival.kaplan_meier(
        counts,
        group="group",
        conf_type=spec.conf_type,
        conf_level=spec.conf_level,
        **COUNTED,
    )
    longest = float(counts["time"].max())
    for time in spec.times:
        if time > longest:
            warnings.append(
                f"Survival at {_num(time)} {spec.time_unit} is not estimable: the "
                f"longest follow-up is {_num(longest)} {spec.time_unit}."
            )
    sizes = counts.groupby("group", observed=False)["n"].sum()
    hidden = disclosure.suppressed_groups(sizes.to_dict(), min_cell) if min_cell else []
    tested = [g for g in groups if sizes[g] >= 2 and g not in hidden]
    lonely = [g for g in groups if sizes[g] < 2 and g not in hidden]
    for g in lonely:
        warnings.append(
            f"Group '{g}' has only {sizes[g]} patient: shown in the curves and "
            "tables, left out of the tests and the Cox model."
        )
    testable = counts[counts["group"].isin(tested)].copy()
    testable["group"] = testable["group"].cat.remove_unused_categories()
    logrank_section, pairwise_section = _logrank(testable, tested)
    small = logrank_section.get("small_groups")
    if small:
        warnings.append(
            "P values involving groups of fewer than "
            f"{survival.SMALL_GROUP_SIZE} patients are unstable: {', '.join(small)}."
        )

    sections: dict = {
        "as_of": spec.as_of.isoformat(),
        "time_unit": spec.time_unit,
        "endpoint": {"code": spec.endpoint, "label": ENDPOINT_EVENTS[spec.endpoint][0]},
        "grouping": {"field": spec.group_by, "label": VARIABLES[spec.group_by].label},
        "cohort": {
            "patients": int(patients),
            "analysed": int(counts["n"].sum()),
            "events": int(counts.loc[counts["event"], "n"].sum()),
            "excluded": excluded,
        },
        "groups": [_group_summary(curves[g], spec, g) for g in groups],
        "at_risk": _at_risk(curves, spec, longest),
    }
    sections["logrank"], sections["pairwise"] = logrank_section, pairwise_section
    if spec.covariates:
        rows = analysed[analysed["group"].isin(tested)].copy()
        rows["time"] = rows["days"] / spec.unit_days
        rows["group"] = rows["group"].cat.remove_unused_categories()
        sections["cox"] = _cox(rows, spec, tested, warnings)
    else:
        sections["cox"] = _cox(testable, spec, tested, warnings, weights="n")
    sections["followup"] = _followup(counts)
    if analysed is not None:
        analysed["time"] = analysed["days"] / spec.unit_days
        sections["subgroups"] = [
            _subgroup(analysed, spec, name)
            for name in spec.subgroups
            if name != spec.group_by
        ]
        # suppressed groups are left out of the baseline comparisons too
        shown = analysed[~analysed["group"].isin(hidden)].copy()
        shown["group"] = shown["group"].cat.remove_unused_categories()
        sections["baseline"] = _baseline(shown, spec)
        sections["associations"] = [
            _association(analysed, factor, outcome)
            for factor, outcome in spec.associations
        ]
        # the rows the report read: a change to any of them changes the fingerprint
        digest = dataset.fingerprint(
            analysed.assign(group=analysed["group"].astype(str)),
            ["registry_number", "group", "days", "event"],
        )
    else:
        sections["subgroups"] = []
        sections["baseline"] = {
            "groups": groups,
            "n": {g: int(sizes[g]) for g in groups},
            "rows": [],
        }
        sections["associations"] = []
        # the counts are all the report read
        digest = dataset.fingerprint(
            table_counts.assign(group=table_counts["group"].astype(str)),
            ["group", "days", "event", *dataset.TABLE_FLAGS, "n"],
        )
    sections["events"] = _events(table_counts)
    sections["landmark_analysis"] = landmark_info
    sections["suggested_landmark"] = None
    if VARIABLES[spec.group_by].post_index and spec.index != "landmark":
        suggested = suggested_landmark(table.resections, spec)
        sections["suggested_landmark"] = suggested
        warnings.insert(0, _immortal_time_warning(spec, suggested))
    sections["warnings"] = warnings
    if min_cell is not None:
        sections, curves = disclosure.mask_result(sections, curves, min_cell=min_cell)
    sections["methods"] = methods_text(spec, sections)
    sections["results"] = results_text(spec, sections)
    return Report(spec=spec, sections=sections, curves=curves, fingerprint=digest)


def disclosed(data: dict, *, user) -> dict:
    """Return a stored result (``export.result_json``'s data) as `user` may see it.

    A result stored for a user with a minimum cell size is masked already and
    comes back as stored. One stored unmasked (before the rule, or run by a user
    who may see every count) is masked for a user who may not, its text written
    again from the masked numbers.
    """
    min_cell = min_cell_for(user)
    done = data.get("disclosure")
    if min_cell is None or (done and done["min_cell"] >= min_cell):
        return data
    masked, _ = disclosure.mask_result(data, min_cell=min_cell)
    try:
        spec = ReportSpec.from_dict(data["spec"])
        masked["methods"] = methods_text(spec, masked)
        masked["results"] = results_text(spec, masked)
    except (InvalidSpec, KeyError, TypeError, ValueError):
        # a specification this version no longer reads: no text rather than
        # the stored one, which may quote the hidden counts
        masked["methods"] = masked["disclosure"]["note"]
        masked["results"] = ""
    return masked


# --- cohort, exclusions, landmark ---------------------------------------------


def _refuse_too_few(counts: pd.DataFrame, spec: ReportSpec, min_cell: int) -> None:
    """Refuse a cohort, or a grouping, that would show fewer than `min_cell`."""
    sizes = counts.groupby("group", observed=True)["n"].sum()
    rule = (
        f"reports for users who may not see identifiers need at least {min_cell} "
        "patients (REGISTRY_MIN_CELL), so that no patient can be recognised"
    )
    if sizes.sum() < min_cell:
        raise ReportError(
            [f"cohort: fewer than {min_cell} patients can be analysed; {rule}"]
        )
    if (sizes < min_cell).all():
        raise ReportError(
            [
                f"group_by: every group of "
                f"{VARIABLES[spec.group_by].label.lower()} has fewer than "
                f"{min_cell} patients; {rule}"
            ]
        )


def _exclusions(table: dataset.SurvivalTable, spec: ReportSpec) -> dict[str, int]:
    """Return the patients left out, by reason in words."""
    what = {"diagnosis": "diagnosis", "landmark": "diagnosis"}.get(
        spec.index, f"first {spec.index}"
    )
    words = {
        "no_index_date": f"no {what} date on or before the cut-off",
        "group_unknown": f"{VARIABLES[spec.group_by].label.lower()} not recorded",
    }
    return {
        words[reason]: table.excluded[reason]
        for reason in dataset.EXCLUSION_REASONS
        if table.excluded.get(reason)
    }


def _describe_exclusions(excluded: dict[str, int]) -> str:
    return "; ".join(f"{n} {reason}" for reason, n in excluded.items()) or "none"


def _landmark(analysed: pd.DataFrame, spec: ReportSpec, excluded: dict[str, int]):
    """Restart the clock at the landmark and regroup by what had happened by then."""
    landmark_days = spec.landmark * spec.unit_days
    longest = analysed["days"].max()
    if landmark_days >= longest:
        raise ReportError(
            [
                f"landmark: {_num(spec.landmark)} {spec.time_unit} is beyond the "
                f"longest follow-up ({_num(longest / spec.unit_days)} {spec.time_unit})"
            ]
        )
    if spec.group_by == "strategy":
        analysed["group"] = dataset.strategy_by(analysed, int(landmark_days))
    elif spec.group_by == "liver_resected":
        analysed["group"] = dataset.liver_resected_by(analysed, int(landmark_days))
    elif VARIABLES[spec.group_by].post_index:
        raise ReportError(
            [
                f"group_by: '{spec.group_by}' cannot be regrouped at a landmark; use "
                "strategy or liver_resected"
            ]
        )
    kept = survival.landmark(
        analysed, landmark=landmark_days, duration="days", event="event"
    )
    reasons = {
        "event_by_landmark": "died (or had the event) by the landmark",
        "censored_before_landmark": "follow-up ended before the landmark",
    }
    for key, n in kept.excluded.items():
        if n:
            excluded[reasons.get(key, key)] = int(n)
    info = {
        "landmark": spec.landmark,
        "included": int(kept.included),
        "excluded": {reasons.get(k, k): int(v) for k, v in kept.excluded.items()},
        "grouped_by": f"{VARIABLES[spec.group_by].label} as it stood at the landmark",
    }
    frame = kept.frame.copy()
    frame["group"] = pd.Categorical(frame["group"])
    return frame, info


def suggested_landmark(resections: pd.DataFrame, spec: ReportSpec) -> float:
    """Return a landmark (in the spec's unit) by which 90% of resections were done,
    rounded up to a multiple of LANDMARK_STEP_MONTHS.

    ``resections`` counts the resected patients (``n``) by the days from diagnosis
    to their last first resection (``days``), as :class:`dataset.SurvivalTable`
    holds them; the 90th percentile is numpy's default (linear, R's type 7) over
    the patients.
    """
    if resections.empty:
        suggestion = 6
    else:
        months = resections["days"].to_numpy() / dataset.TIME_UNITS["months"]
        late = weighted_quantile(months, resections["n"].to_numpy(), 0.9)
        suggestion = max(
            LANDMARK_STEP_MONTHS,
            math.ceil(late / LANDMARK_STEP_MONTHS) * LANDMARK_STEP_MONTHS,
        )
    return suggestion * dataset.TIME_UNITS["months"] / spec.unit_days


def weighted_quantile(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Return ``np.quantile(np.repeat(values, counts), q)`` without the repeat."""
    order = np.argsort(values, kind="stable")
    values, ends = values[order], np.cumsum(counts[order])
    position = (ends[-1] - 1) * q
    below = int(math.floor(position))
    # the k-th smallest value (0-based) is the first whose cumulative count > k
    low = values[np.searchsorted(ends, below, side="right")]
    high = values[np.searchsorted(ends, min(below + 1, ends[-1] - 1), side="right")]
    return float(low + (position - below) * (high - low))


def _immortal_time_warning(spec: ReportSpec, suggested: float) -> str:
    """Warn that grouping by later events favours the groups defined by surviving."""
    return (
        f"Immortal-time bias: '{VARIABLES[spec.group_by].label}' depends on events "
        "after the index date (a staged resection happens months after diagnosis), "
        "so patients in the later-defined groups had to survive to be counted in "
        f"them. Compare with a landmark analysis (index 'landmark', landmark "
        f"{_num(suggested)} {spec.time_unit}: 90% of resections are done by then)."
    )


# --- survival sections --------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _float(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _group_summary(curve: survival.KaplanMeier, spec: ReportSpec, label: str) -> dict:
    median = curve.median()
    return {
        "group": label,
        "n": int(curve.n),
        "events": int(curve.events),
        "median": {
            "estimate": _float(median.estimate),
            "lower": _float(median.lower),
            "upper": _float(median.upper),
        },
        "landmarks": [
            {
                "time": float(point.time),
                "survival": _float(point.survival),
                "std_err": _float(point.std_err),
                "lower": _float(point.lower),
                "upper": _float(point.upper),
                "n_risk": int(point.n_risk),
                "estimable": bool(point.estimable),
            }
            for point in curve.at(spec.times)
        ],
        "small": bool(curve.n < survival.SMALL_GROUP_SIZE),
    }


def tick_times(longest: float, time_unit: str) -> list[float]:
    """Return axis ticks covering follow-up: every 12 months, 1 year, ..."""
    step = {"months": 12.0, "years": 1.0, "weeks": 52.0, "days": 365.0}[time_unit]
    if longest / step < 3:
        step /= 2
    count = int(math.floor(longest / step)) + 1
    return [i * step for i in range(count + 1) if i * step <= longest + step]


def _at_risk(curves: dict, spec: ReportSpec, longest: float) -> dict:
    ticks = tick_times(longest, spec.time_unit)
    return {
        "ticks": ticks,
        "groups": {
            label: list(map(int, curve.at_risk(ticks)))
            for label, curve in curves.items()
        },
    }


def _logrank(testable: pd.DataFrame, tested: list[str]):
    if len(tested) < 2:
        return (
            {
                "statistic": None,
                "df": 0,
                "p_value": None,
                "note": "one group: nothing to compare",
            },
            [],
        )
    result = survival.logrank(testable, group="group", **COUNTED)
    overall = {
        "statistic": _float(result.statistic),
        "df": int(result.df),
        "p_value": _float(result.p_value),
        "observed": {k: float(v) for k, v in result.observed.items()},
        "expected": {k: float(v) for k, v in result.expected.items()},
        "small_groups": list(result.small_groups),
        "warnings": list(result.warnings),
    }
    pairs = survival.pairwise_logrank(testable, group="group", adjust="holm", **COUNTED)
    pairwise = [
        {
            "group_a": pair.group_a,
            "group_b": pair.group_b,
            "statistic": _float(pair.statistic),
            "p_value": _float(pair.p_value),
            "p_holm": _float(pair.p_adjusted),
            "small_groups": list(pair.small_groups),
        }
        for pair in pairs
    ]
    return overall, pairwise


def _cox(
    testable: pd.DataFrame,
    spec: ReportSpec,
    tested: list[str],
    warnings,
    weights: str | None = None,
) -> dict | None:
    """Fit the Cox model: on patients, or on counts (``weights``) without covariates."""
    if len(tested) < 2:
        return None
    reference = _reference(spec, tested)
    covariates = list(spec.covariates)
    extra = [weights] if weights else []
    frame = testable[["time", "event", "group", *covariates, *extra]].copy()
    for name in covariates:
        if VARIABLES[name].kind != "continuous":
            frame[name] = frame[name].astype(str).where(frame[name].notna())
    before = len(frame)
    frame = frame.dropna()
    dropped = before - len(frame)
    try:
        fit = survival.cox(
            frame,
            duration="time",
            event="event",
            group="group",
            reference=reference,
            covariates=covariates,
            conf_level=spec.conf_level,
            weights=weights,
        )
    except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
        warnings.append(f"The Cox model could not be fitted: {exc}")
        return {"reference": reference, "error": str(exc), "terms": [], "ph_test": []}
    notes = list(fit.warnings)
    if dropped:
        notes.append(
            f"{dropped} patients with a missing covariate were left out of the Cox "
            "model."
        )
    return {
        "reference": reference,
        "covariates": covariates,
        "n": int(fit.n),
        "events": int(fit.events),
        "terms": [
            {
                "term": t.term,
                "coef": _float(t.coef),
                "se": _float(t.se),
                "hazard_ratio": _float(t.hazard_ratio),
                "lower": _float(t.lower),
                "upper": _float(t.upper),
                "p_value": _float(t.p_value),
            }
            for t in fit.terms
        ],
        "ph_test": [
            {
                "term": t.term,
                "statistic": _float(t.statistic),
                "df": int(t.df),
                "p_value": _float(t.p_value),
            }
            for t in fit.ph_test
        ],
        "warnings": notes,
    }


def _reference(spec: ReportSpec, tested: list[str]) -> str:
    """Return the reference group: as named (code or label), else the first."""
    if spec.reference:
        labels = VARIABLES[spec.group_by].labels()
        wanted = labels.get(spec.reference, spec.reference)
        if wanted not in tested:
            raise ReportError(
                [
                    f"reference: {spec.reference!r} is not one of the groups "
                    f"compared ({', '.join(tested)})"
                ]
            )
        return wanted
    return tested[0]


def _followup(counts: pd.DataFrame) -> dict:
    result = survival.median_followup(counts, **COUNTED)
    return {
        "median": _float(result.median),
        "lower": _float(result.lower),
        "upper": _float(result.upper),
        "minimum": _float(result.minimum),
        "maximum": _float(result.maximum),
        "n": int(result.n),
        "method": "reverse Kaplan-Meier",
    }


def _subgroup(analysed: pd.DataFrame, spec: ReportSpec, name: str) -> dict:
    frame = analysed[["time", "event", name]].dropna()
    frame = frame.rename(columns={name: "level"})
    frame["level"] = frame["level"].cat.remove_unused_categories()
    curves = survival.kaplan_meier(
        frame,
        duration="time",
        event="event",
        group="level",
        conf_type=spec.conf_type,
        conf_level=spec.conf_level,
    )
    return {
        "field": name,
        "label": VARIABLES[name].label,
        "levels": [
            _group_summary(curve, spec, level) for level, curve in curves.items()
        ],
    }


# --- tables -------------------------------------------------------------------


def _baseline(analysed: pd.DataFrame, spec: ReportSpec) -> dict:
    names = [name for name in spec.baseline if name != spec.group_by]
    kinds = {name: VARIABLES[name].kind for name in names}
    table = compare.baseline_table(
        analysed,
        group="group",
        continuous=[n for n in names if kinds[n] == "continuous"],
        categorical=[n for n in names if kinds[n] in ("categorical", "binary")],
        ordinal=[n for n in names if kinds[n] == "ordinal"],
    )
    rows = []
    for row in table.rows:
        variable = VARIABLES[row.variable]
        if isinstance(row, compare.ContinuousRow):
            rows.append(
                {
                    "variable": row.variable,
                    "label": variable.label,
                    "unit": variable.unit,
                    "kind": "continuous",
                    "groups": {g: _summary(s) for g, s in row.groups.items()},
                    "overall": _summary(row.overall),
                    "tests": [_test(row.anova), _test(row.kruskal)],
                }
            )
        else:
            tests = [_test(row.test)]
            if row.trend is not None:
                tests.append(_test(row.trend))
            rows.append(
                {
                    "variable": row.variable,
                    "label": variable.label,
                    "kind": "categorical",
                    "levels": list(row.levels),
                    "counts": row.counts,
                    "percents": {
                        g: {k: _float(v) for k, v in levels.items()}
                        for g, levels in row.percents.items()
                    },
                    "overall": row.overall,
                    "missing": row.missing,
                    "expected_min": _float(row.expected_min),
                    "tests": tests,
                }
            )
    return {"groups": list(table.groups), "n": table.n, "rows": rows}


def _summary(s: compare.ContinuousSummary) -> dict:
    return {
        key: (_float(value) if isinstance(value, float) else value)
        for key, value in vars(s).items()
    }


def _test(test: compare.StatTest) -> dict:
    return {
        "name": test.name,
        "statistic": _float(test.statistic),
        "df": _float(test.df),
        "p_value": _float(test.p_value),
        "note": test.note,
    }


def _association(analysed: pd.DataFrame, factor: str, outcome: str) -> dict:
    """Test whether `factor` predicts the yes/no `outcome` (trend and independence)."""
    frame = analysed[[factor, outcome]].dropna()
    table = pd.crosstab(frame[factor], frame[outcome])
    result = {
        "factor": factor,
        "factor_label": VARIABLES[factor].label,
        "outcome": outcome,
        "outcome_label": VARIABLES[outcome].label,
        "table": {
            str(level): {str(k): int(v) for k, v in row.items()}
            for level, row in table.iterrows()
        },
        "tests": [_test(compare.independence_test(table.to_numpy()))],
    }
    if VARIABLES[factor].kind == "ordinal":
        yes_no = frame.assign(**{outcome: frame[outcome] == "Yes"})
        trend = compare.trend_test(yes_no, factor=factor, outcome=outcome)
        result["tests"].append(_test(trend.test))
    return result


def _events(counts: pd.DataFrame) -> dict:
    n = int(counts["n"].sum())

    def patients(mask) -> int:
        return int(counts.loc[mask, "n"].sum())

    def share(mask) -> dict:
        k = patients(mask)
        return {"n": k, "of": n, "percent": 100 * k / n if n else None}

    unresected = counts["unresected_primary"]
    return {
        "liver_resected": share(counts["liver_resected"]),
        "converted": share(counts["converted"]),
        "later_palliative_unresected_primary": {
            "n": patients(unresected & counts["later_palliative"]),
            "of": patients(unresected),
        },
    }


# --- text ---------------------------------------------------------------------


def _rounded(value: float, unit: str) -> str:
    """Return a time as a paper prints it: whole months, weeks or days; years to .1."""
    return _num(value) if unit == "years" else f"{value:.0f}"


def methods_text(spec: ReportSpec, s: dict) -> str:
    """Return the methods paragraph, from the specification and what was run."""
    endpoint, event = ENDPOINT_EVENTS[spec.endpoint]
    index = {
        "diagnosis": "the date of diagnosis",
        "treatment": "the start of the first treatment",
        "operation": "the first operation",
        "landmark": f"a landmark {_num(spec.landmark or 0)} {spec.time_unit} after "
        "diagnosis",
    }[spec.index]
    ci = {
        "log-log": "the log-log transformation (as lifelines and Stata do)",
        "log": "the log transformation (R survfit's default)",
        "plain": "no transformation (plain Greenwood intervals)",
    }[spec.conf_type]
    text = [
        f"{endpoint.capitalize()} was measured from {index} to {event}; patients "
        f"without the event were censored at their last known contact or at the data "
        f"cut-off ({spec.as_of.isoformat()}), whichever came first.",
        "Survival was estimated by the Kaplan-Meier method with Greenwood's variance; "
        f"{int(round(spec.conf_level * 100))}% confidence intervals used {ci}.",
        f"Groups ({s['grouping']['label'].lower()}) were compared with the log-rank "
        "test, overall and pairwise with Holm's correction for multiple comparisons.",
    ]
    if s.get("cox"):
        adjusted = (
            ", adjusted for "
            + ", ".join(VARIABLES[c].label.lower() for c in spec.covariates)
            if spec.covariates
            else ""
        )
        text.append(
            "Hazard ratios against the reference group "
            f"({s['cox']['reference']}) came from a Cox proportional-hazards model"
            f"{adjusted} (Efron ties); proportional hazards were checked with the "
            "score test of R's cox.zph (survival 3.x, Kaplan-Meier time transform)."
        )
    text.append("Median follow-up was estimated by the reverse Kaplan-Meier method.")
    if s["baseline"]["rows"] or s["associations"]:
        text.append(
            "Baseline characteristics were compared by one-way ANOVA and the "
            "Kruskal-Wallis test (continuous), chi-square or Fisher's exact test when "
            "an expected count was below 5 (categorical), and the Cochran-Armitage "
            "test for trend (ordered factor against a yes/no outcome)."
        )
    if spec.index == "landmark":
        text.append(
            "In the landmark analysis, only patients alive and under follow-up at the "
            "landmark were included, grouped by the treatment they had received by "
            "then."
        )
    if s.get("disclosure"):
        text.append(s["disclosure"]["note"])
    return " ".join(text)


def _share(share: dict) -> str:
    """Return "12 (16%)", or the count alone when its percentage is hidden."""
    if share["percent"] is None:
        return f"{share['n']}"
    return f"{share['n']} ({share['percent']:.0f}%)"


def results_text(spec: ReportSpec, s: dict) -> str:
    """Return the results paragraph, written from the numbers, abstract-style."""
    unit = spec.time_unit
    cohort = s["cohort"]
    groups = s["groups"]
    parts = [
        f"{cohort['analysed']} patients were analysed: "
        + ", ".join(f"{g['group'].lower()} {g['n']}" for g in groups)
        + "."
    ]
    follow = s["followup"]
    if follow["median"] is not None:
        parts.append(
            f"Median follow-up was {_num(follow['median'])} {unit} (range "
            f"{_num(follow['minimum'])}–{_num(follow['maximum'])})."
        )
    # a suppressed group (analytics.disclosure) has no median to give
    shown = [g for g in groups if not g.get("suppressed")]
    medians = [
        _rounded(g["median"]["estimate"], unit)
        if g["median"]["estimate"] is not None
        else "not reached"
        for g in shown
    ]
    if len(shown) > 1:
        logrank = s["logrank"]
        parts.append(
            f"Median {ENDPOINT_EVENTS[spec.endpoint][0]} was {' vs '.join(medians)} "
            f"{unit} ({', '.join(g['group'].lower() for g in shown)}; "
            f"{p_text(logrank.get('p_value'))})."
        )
    elif len(groups) > 1:
        parts.append(
            f"Median {ENDPOINT_EVENTS[spec.endpoint][0]} was {medians[0]} {unit} "
            f"({shown[0]['group'].lower()})."
        )
    else:
        parts.append(
            f"Median {ENDPOINT_EVENTS[spec.endpoint][0]} was {medians[0]} {unit}."
        )
    if 0 < len(s["pairwise"]) <= 3:
        parts.append(
            "Pairwise (Holm-adjusted): "
            + "; ".join(
                f"{p['group_a'].lower()} vs {p['group_b'].lower()} "
                f"{p_text(p['p_holm'])}"
                for p in s["pairwise"]
            )
            + "."
        )
    elif s["pairwise"]:
        parts.append("Pairwise comparisons, Holm-adjusted, are in the table.")
    events = s["events"]
    parts.append(
        f"{_share(events['liver_resected'])} patients had a liver resection; "
        f"{_share(events['converted'])} became resectable only after systemic "
        "therapy."
    )
    for association in s["associations"]:
        test = association["tests"][-1]
        parts.append(
            f"{association['factor_label']} was associated with "
            f"{association['outcome_label'].lower()} ({test['name']}, "
            f"{p_text(test['p_value'])})."
        )
    for subgroup in s["subgroups"]:
        for level in subgroup["levels"]:
            marks = [m for m in level["landmarks"] if m["estimable"]]
            if (
                subgroup["field"] == "liver_resected"
                and level["group"] == "No"
                and marks
            ):
                mark = next((m for m in marks if m["time"] == 24), marks[0])
                parts.append(
                    f"Without liver resection, {_num(mark['time'])}-{unit[:-1]} "
                    f"survival was {mark['survival'] * 100:.0f}%."
                )
    later = events["later_palliative_unresected_primary"]
    if later["of"]:
        parts.append(
            f"{later['n']} of {later['of']} patients whose primary was not resected "
            "needed palliative surgery later."
        )
    return " ".join(parts)
