"""The sections of a report result, as objects that serialise themselves.

Each section is built from the statistic it reports (a Kaplan-Meier curve, a
log-rank test, a Cox fit, a baseline table) by a ``from_...`` constructor and
gives its JSON-ready data with ``to_dict()``, as lifelines' and statsmodels'
results summarise themselves. The keys of that data are the result's public
shape: the result page, the downloads, stored runs and the tests read them, so
a key may be added but never renamed. Non-finite numbers become None (JSON
null) here, once, for every section.

No Django: this module is pure, like :mod:`analytics.survival`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from analytics import compare, competing, survival


def finite(value) -> float | None:
    """Return `value` as a float, or None when missing, infinite or NaN."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class Section:
    """A part of a result that gives its JSON-ready data."""

    def to_dict(self) -> dict:
        """Return the section as JSON-ready data (nested sections included)."""
        return asdict(self)


# --- survival -----------------------------------------------------------------


@dataclass(frozen=True)
class MedianSurvival(Section):
    """A median survival time with its CI; None where not reached."""

    estimate: float | None
    lower: float | None
    upper: float | None

    @classmethod
    def from_median(cls, median: survival.Median) -> MedianSurvival:
        return cls(finite(median.estimate), finite(median.lower), finite(median.upper))


@dataclass(frozen=True)
class SurvivalAt(Section):
    """Survival at one of the report's times, as ``summary(survfit, times=)``."""

    time: float
    survival: float | None
    std_err: float | None
    lower: float | None
    upper: float | None
    n_risk: int
    estimable: bool

    @classmethod
    def from_landmark(cls, point: survival.Landmark) -> SurvivalAt:
        return cls(
            time=float(point.time),
            survival=finite(point.survival),
            std_err=finite(point.std_err),
            lower=finite(point.lower),
            upper=finite(point.upper),
            n_risk=int(point.n_risk),
            estimable=bool(point.estimable),
        )


@dataclass(frozen=True)
class GroupSummary(Section):
    """One group's (or subgroup level's) n, events, median and survival at times.

    ``group`` is the label shown for the group; ``small`` marks a group of fewer
    than :data:`analytics.survival.SMALL_GROUP_SIZE` patients.
    """

    group: str
    n: int
    events: int
    median: MedianSurvival
    landmarks: list[SurvivalAt]
    small: bool

    @classmethod
    def from_curve(
        cls, curve: survival.KaplanMeier, *, label: str, times
    ) -> GroupSummary:
        return cls(
            group=label,
            n=int(curve.n),
            events=int(curve.events),
            median=MedianSurvival.from_median(curve.median()),
            landmarks=[SurvivalAt.from_landmark(p) for p in curve.at(times)],
            small=bool(curve.n < survival.SMALL_GROUP_SIZE),
        )


@dataclass(frozen=True)
class AtRisk(Section):
    """The number at risk under the figure: one row per group, one column a tick."""

    ticks: list[float]
    groups: dict[str, list[int]]

    @classmethod
    def from_curves(cls, curves: dict, ticks: list[float]) -> AtRisk:
        return cls(
            ticks=ticks,
            groups={
                label: list(map(int, curve.at_risk(ticks)))
                for label, curve in curves.items()
            },
        )


@dataclass(frozen=True)
class Subgroup(Section):
    """Survival by the levels of one more variable (e.g. liver resection)."""

    field: str
    label: str
    levels: list[GroupSummary]


@dataclass(frozen=True)
class FollowUp(Section):
    """Median follow-up by the reverse Kaplan-Meier method, with CI and range.

    ``conf_type`` and ``conf_level`` are those of the median's interval, the
    report's own.
    """

    median: float | None
    lower: float | None
    upper: float | None
    minimum: float | None
    maximum: float | None
    n: int
    method: str = "reverse Kaplan-Meier"
    conf_type: str = "log-log"
    conf_level: float = 0.95

    @classmethod
    def from_followup(cls, result: survival.FollowUp, *, conf_level: float) -> FollowUp:
        return cls(
            median=finite(result.median),
            lower=finite(result.lower),
            upper=finite(result.upper),
            minimum=finite(result.minimum),
            maximum=finite(result.maximum),
            n=int(result.n),
            conf_type=result.conf_type,
            conf_level=float(conf_level),
        )


# --- tests --------------------------------------------------------------------


@dataclass(frozen=True)
class LogRankSection(Section):
    """The overall log-rank test, or why there is none (``note``)."""

    statistic: float | None
    df: int
    p_value: float | None
    observed: dict[str, float] | None = None
    expected: dict[str, float] | None = None
    small_groups: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    note: str = ""

    @classmethod
    def from_result(cls, result: survival.LogRank) -> LogRankSection:
        return cls(
            statistic=finite(result.statistic),
            df=int(result.df),
            p_value=finite(result.p_value),
            observed={k: float(v) for k, v in result.observed.items()},
            expected={k: float(v) for k, v in result.expected.items()},
            small_groups=list(result.small_groups),
            warnings=list(result.warnings),
        )

    @classmethod
    def nothing_to_compare(cls) -> LogRankSection:
        return cls(
            statistic=None, df=0, p_value=None, note="one group: nothing to compare"
        )

    def to_dict(self) -> dict:
        if self.note:
            return {
                "statistic": self.statistic,
                "df": self.df,
                "p_value": self.p_value,
                "note": self.note,
            }
        data = asdict(self)
        del data["note"]
        return data


@dataclass(frozen=True)
class PairwiseComparison(Section):
    """A log-rank test of two groups, with its Holm-adjusted P value."""

    group_a: str
    group_b: str
    statistic: float | None
    p_value: float | None
    p_holm: float | None
    small_groups: list[str]

    @classmethod
    def from_pair(cls, pair: survival.PairwiseLogRank) -> PairwiseComparison:
        return cls(
            group_a=pair.group_a,
            group_b=pair.group_b,
            statistic=finite(pair.statistic),
            p_value=finite(pair.p_value),
            p_holm=finite(pair.p_adjusted),
            small_groups=list(pair.small_groups),
        )


@dataclass(frozen=True)
class HazardRatio(Section):
    """One Cox term: the hazard ratio with its CI and Wald P value."""

    term: str
    coef: float | None
    se: float | None
    hazard_ratio: float | None
    lower: float | None
    upper: float | None
    p_value: float | None

    @classmethod
    def from_term(cls, t: survival.HazardRatio) -> HazardRatio:
        return cls(
            term=t.term,
            coef=finite(t.coef),
            se=finite(t.se),
            hazard_ratio=finite(t.hazard_ratio),
            lower=finite(t.lower),
            upper=finite(t.upper),
            p_value=finite(t.p_value),
        )


@dataclass(frozen=True)
class PHCheck(Section):
    """The proportional-hazards score test of one Cox term, or GLOBAL."""

    term: str
    statistic: float | None
    df: int
    p_value: float | None

    @classmethod
    def from_test(cls, t: survival.PHTest) -> PHCheck:
        return cls(
            term=t.term,
            statistic=finite(t.statistic),
            df=int(t.df),
            p_value=finite(t.p_value),
        )


@dataclass(frozen=True)
class CoxSection(Section):
    """The Cox model's hazard ratios against the reference group and its PH check.

    A model that could not be fitted keeps the reference and says why
    (``error``), with no terms.
    """

    reference: str
    covariates: list[str] = field(default_factory=list)
    #: each categorical covariate's reference level (the others' ratios are
    #: against it)
    covariate_references: dict[str, str] = field(default_factory=dict)
    n: int = 0
    events: int = 0
    terms: list[HazardRatio] = field(default_factory=list)
    ph_test: list[PHCheck] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str = ""

    @classmethod
    def from_fit(
        cls, fit: survival.Cox, *, covariates: list[str], notes: list[str]
    ) -> CoxSection:
        return cls(
            reference=fit.reference,
            covariates=covariates,
            covariate_references=dict(fit.covariate_references),
            n=int(fit.n),
            events=int(fit.events),
            terms=[HazardRatio.from_term(t) for t in fit.terms],
            ph_test=[PHCheck.from_test(t) for t in fit.ph_test],
            warnings=notes,
        )

    def to_dict(self) -> dict:
        if self.error:
            return {
                "reference": self.reference,
                "error": self.error,
                "terms": [],
                "ph_test": [],
            }
        data = asdict(self)
        del data["error"]
        return data


# --- tables -------------------------------------------------------------------


@dataclass(frozen=True)
class SignificanceTest(Section):
    """One significance test: its name, statistic, df and P (None if not run)."""

    name: str
    statistic: float | None
    df: float | None
    p_value: float | None
    note: str

    @classmethod
    def from_test(cls, test: compare.StatTest) -> SignificanceTest:
        return cls(
            name=test.name,
            statistic=finite(test.statistic),
            df=finite(test.df),
            p_value=finite(test.p_value),
            note=test.note,
        )


def _summary(s: compare.ContinuousSummary) -> dict:
    return {
        key: (finite(value) if isinstance(value, float) else value)
        for key, value in vars(s).items()
    }


@dataclass(frozen=True)
class Baseline(Section):
    """Baseline characteristics by group: one row (a plain dict) per variable."""

    groups: list[str]
    n: dict[str, int]
    rows: list[dict]

    @classmethod
    def from_table(cls, table: compare.BaselineTable, variables: dict) -> Baseline:
        """Return the table's rows labelled from `variables` (dataset.VARIABLES)."""
        rows = []
        for row in table.rows:
            variable = variables[row.variable]
            if isinstance(row, compare.ContinuousRow):
                rows.append(
                    {
                        "variable": row.variable,
                        "label": variable.label,
                        "unit": variable.unit,
                        "kind": "continuous",
                        "groups": {g: _summary(s) for g, s in row.groups.items()},
                        "overall": _summary(row.overall),
                        "tests": [
                            SignificanceTest.from_test(row.anova).to_dict(),
                            SignificanceTest.from_test(row.kruskal).to_dict(),
                        ],
                    }
                )
                continue
            tests = [SignificanceTest.from_test(row.test).to_dict()]
            if row.trend is not None:
                tests.append(SignificanceTest.from_test(row.trend).to_dict())
            rows.append(
                {
                    "variable": row.variable,
                    "label": variable.label,
                    "kind": "categorical",
                    "levels": list(row.levels),
                    "counts": row.counts,
                    "percents": {
                        g: {k: finite(v) for k, v in levels.items()}
                        for g, levels in row.percents.items()
                    },
                    "overall": row.overall,
                    "missing": row.missing,
                    "expected_min": finite(row.expected_min),
                    "tests": tests,
                }
            )
        return cls(groups=list(table.groups), n=table.n, rows=rows)


@dataclass(frozen=True)
class Association(Section):
    """Whether a factor predicts a yes/no outcome: the table and its tests.

    ``tests`` holds the test of independence and, for an ordered factor, the
    test for trend last (the one the Results text quotes).
    """

    factor: str
    factor_label: str
    outcome: str
    outcome_label: str
    table: dict[str, dict[str, int]]
    #: the factor's levels in their order (clinical order for an ordered factor):
    #: PostgreSQL's jsonb, which stores results, does not keep a dict's order
    levels: list[str]
    tests: list[SignificanceTest]


@dataclass(frozen=True)
class Share(Section):
    """k of n patients, with the percentage (None when n is 0)."""

    n: int
    of: int
    percent: float | None

    @classmethod
    def of_total(cls, k: int, total: int) -> Share:
        return cls(n=k, of=total, percent=100 * k / total if total else None)


@dataclass(frozen=True)
class Count(Section):
    """k of n patients, without a percentage."""

    n: int
    of: int


@dataclass(frozen=True)
class Events(Section):
    """Counts of later events: liver resection, conversion, palliative surgery."""

    liver_resected: Share
    converted: Share
    later_palliative_unresected_primary: Count


# --- competing risks ----------------------------------------------------------


@dataclass(frozen=True)
class IncidenceAtTime(Section):
    """Cumulative incidence at one time, as ``cmprsk::timepoints``, with its CI."""

    time: float
    estimate: float | None
    std_err: float | None
    lower: float | None
    upper: float | None
    estimable: bool

    @classmethod
    def from_point(cls, point: competing.IncidenceAt) -> IncidenceAtTime:
        return cls(
            time=float(point.time),
            estimate=finite(point.estimate),
            std_err=finite(point.std_err),
            lower=finite(point.lower),
            upper=finite(point.upper),
            estimable=bool(point.estimable),
        )


@dataclass(frozen=True)
class IncidenceGroup(Section):
    """One group's cumulative incidence of the event, with its counts.

    ``events`` counts the event, ``competing`` the competing event; ``at`` the
    estimate at the table's times; ``curve`` the step function to draw (the
    times the event occurred and the estimate after each, and the group's last
    follow-up time, to which the last value is carried).
    """

    group: str
    n: int
    events: int
    competing: int
    at: list[IncidenceAtTime]
    curve: dict

    @classmethod
    def from_curves(
        cls,
        event: competing.CumulativeIncidence,
        other: competing.CumulativeIncidence | None,
        *,
        label: str,
        times,
    ) -> IncidenceGroup:
        return cls(
            group=label,
            n=int(event.n),
            events=int(event.events),
            competing=int(other.events) if other is not None else 0,
            at=[IncidenceAtTime.from_point(p) for p in event.at(times)],
            curve={
                "time": [float(t) for t in event.time],
                "estimate": [float(f) for f in event.estimate],
                "last_time": float(event.last_time),
            },
        )


@dataclass(frozen=True)
class GraySection(Section):
    """Gray's test of equal cumulative incidence across the tested groups."""

    statistic: float | None
    df: int
    p_value: float | None
    groups: list[str]

    @classmethod
    def from_test(cls, test: competing.GrayTest) -> GraySection:
        return cls(
            statistic=finite(test.statistic),
            df=int(test.df),
            p_value=finite(test.p_value),
            groups=list(test.groups),
        )


@dataclass(frozen=True)
class CompetingAnalysis(Section):
    """The cumulative incidence of one event, with one competing event, by group.

    ``event`` is ``"recurrence"`` or ``"cancer_death"``; ``label`` and
    ``competing_label`` name the event and the competing event in words. ``gray``
    tests the event, ``gray_competing`` the competing event (None with fewer than
    two groups to compare).
    """

    event: str
    label: str
    competing_label: str
    times: list[float]
    groups: list[IncidenceGroup]
    gray: GraySection | None
    gray_competing: GraySection | None


@dataclass(frozen=True)
class CompetingRisks(Section):
    """The competing-risks section: one analysis per event, and how it was run.

    ``deaths_unknown_cause`` counts the cohort's deaths by the cut-off without a
    recorded cause (counted with the other causes).
    """

    analyses: list[CompetingAnalysis]
    conf_type: str
    conf_level: float
    deaths_unknown_cause: int
