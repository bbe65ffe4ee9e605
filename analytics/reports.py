"""A report specification in, a report result out: the run, in named steps.

:func:`run_report` reads the cohort through :mod:`analytics.dataset`, calls the
pure statistics of :mod:`analytics.survival` and :mod:`analytics.compare`, and
assembles the result from the sections of :mod:`analytics.results` (objects
that serialise themselves); :mod:`analytics.text` writes the Methods and
Results paragraphs from that result. The result is plain data
(:meth:`Report.to_dict` is its JSON) that the result page, the downloads, the
``report`` command and the tests all read.

The steps of a run, as :func:`run_report` reads:

1. :func:`read_cohort` -- the patients, counted (by group, time and event, and
   by what the tables read) or one row each, and who was left out and why (the
   landmark regrouping included);
2. :func:`survival_counts` and the curves -- patients by group, time and event;
3. :func:`split_groups` -- which groups are tested, which too small or hidden;
4. the tests -- log-rank overall and pairwise (:func:`logrank_sections`), Cox
   (:func:`cox_section`), median follow-up (:func:`followup_section`);
5. the tables: from the patients' rows (:func:`patient_sections`), from
   counts (:func:`counted_sections`, the same numbers) or, when the report has
   none, their empty forms (:func:`count_sections`);
6. later events, the immortal-time warning, masking, and the text.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics import compare, competing, dataset, disclosure, survival
from analytics.dataset import VARIABLES
from analytics.formatting import p_text
from analytics.results import (
    Association,
    AtRisk,
    Baseline,
    CompetingAnalysis,
    CompetingRisks,
    Count,
    CoxSection,
    Events,
    FollowUp,
    GraySection,
    GroupSummary,
    IncidenceGroup,
    LogRankSection,
    PairwiseComparison,
    Share,
    SignificanceTest,
    Subgroup,
)
from analytics.spec import InvalidSpec, ReportSpec
from analytics.text import (
    ENDPOINT_EVENTS,
    immortal_time_warning,
    in_sentence,
    methods_text,
    num,
    report_title,
    results_text,
    time_axis,
)
from registry import disclosure as registry_disclosure
from registry.choices import Endpoint, IndexDate
from registry.routers import reading_reports

__all__ = [
    "COUNTED",
    "ENDPOINT_EVENTS",
    "LANDMARK_STEP_MONTHS",
    "Report",
    "ReportError",
    "disclosed",
    "frame_variables",
    "methods_text",
    "min_cell_for",
    "needs_rows",
    "table_variables",
    "results_text",
    "run_report",
    "suggested_landmark",
    "tick_times",
    "weighted_quantile",
]

#: The columns of the counted table the survival statistics read.
COUNTED = {"duration": "time", "event": "event", "weights": "n"}
#: Landmark analyses round the suggested landmark up to a multiple of this (months).
LANDMARK_STEP_MONTHS = 3


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

    Survival curves, medians, the log-rank tests, an unadjusted Cox model,
    follow-up, and the baseline table, associations and subgroup curves need
    only counts of patients (by group, time and event; by group and value; by
    factor and outcome), which the database computes; Cox covariates and a
    landmark's regrouping need the patients.
    """
    return bool(spec.covariates or spec.index == "landmark")


def table_variables(spec: ReportSpec) -> dict:
    """Return the variables of the tables of `spec`: baseline, subgroups and
    associations (the grouping left out of the first two, which it splits)."""
    return {
        "baseline": [name for name in spec.baseline if name != spec.group_by],
        "subgroups": [name for name in spec.subgroups if name != spec.group_by],
        "associations": [tuple(pair) for pair in spec.associations],
    }


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

    As registry.disclosure.min_cell_for says; whoever runs the ``report``
    command without ``--user`` (:class:`dataset.AllSites`) sees everything.
    """
    if isinstance(user, dataset.AllSites):
        return None
    return registry_disclosure.min_cell_for(user)


# --- the run ------------------------------------------------------------------


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
    counted in the database unless the report needs one row per patient
    (:func:`needs_rows`), otherwise counted from the per-patient frame that the
    other sections read. Without rows, the tables (baseline, associations,
    subgroups) are read from counts too (:func:`dataset.variable_counts`).
    """
    if spec.as_of is None:
        raise InvalidSpec(["as_of: the data cut-off must be given"])
    min_cell = min_cell_for(user)
    cohort = read_cohort(spec, user=user, min_cell=min_cell)
    counts = survival_counts(cohort.table.counts, spec)
    curves = survival.kaplan_meier(
        counts,
        group="group",
        conf_type=spec.conf_type,
        conf_level=spec.conf_level,
        **COUNTED,
    )
    longest = float(counts["time"].max())
    warnings = beyond_follow_up(spec, longest)
    split = split_groups(counts, min_cell)
    warnings += split.warnings()
    sections: dict = {
        "as_of": spec.as_of.isoformat(),
        "time_unit": spec.time_unit,
        "endpoint": {"code": spec.endpoint, "label": ENDPOINT_EVENTS[spec.endpoint][0]},
        "grouping": {"field": spec.group_by, "label": VARIABLES[spec.group_by].label},
        "cohort": cohort.section(counts),
        "groups": [
            GroupSummary.from_curve(curves[g], label=g, times=spec.times).to_dict()
            for g in split.groups
        ],
        "at_risk": AtRisk.from_curves(
            curves, tick_times(longest, spec.time_unit)
        ).to_dict(),
    }
    testable = split.testable(counts)
    sections["logrank"], sections["pairwise"] = logrank_sections(testable, split.tested)
    small = sections["logrank"].get("small_groups")
    if small:
        warnings.append(
            "P values involving groups of fewer than "
            f"{survival.SMALL_GROUP_SIZE} patients are unstable: {', '.join(small)}."
        )
    rows = cohort.analysed
    if spec.covariates:
        patients = rows[rows["group"].isin(split.tested)].copy()
        patients["time"] = patients["days"] / spec.unit_days
        patients["group"] = patients["group"].cat.remove_unused_categories()
        sections["cox"] = cox_section(patients, spec, split.tested, warnings)
    else:
        sections["cox"] = cox_section(
            testable, spec, split.tested, warnings, weights="n"
        )
    sections["followup"] = followup_section(
        followup_counts(cohort.table, spec, counts), spec
    )
    sections["competing_risks"], competing_digest = None, ""
    if spec.competing_risks:
        ticks = tick_times(longest, spec.time_unit)[1:]
        sections["competing_risks"], competing_digest = competing_risks_section(
            spec, user=user, split=split, times=ticks
        )
    if rows is not None:
        sections.update(patient_sections(rows, spec, split.hidden))
    elif cohort.counted is not None:
        sections.update(counted_sections(cohort, spec, split.hidden))
    else:
        sections.update(count_sections(split))
    sections["events"] = events_section(cohort.table.flags).to_dict()
    sections["landmark_analysis"] = cohort.landmark_info
    warning, sections["suggested_landmark"] = immortal_time(spec, cohort.table)
    if warning:
        warnings.insert(0, warning)
    sections["warnings"] = warnings
    if min_cell is not None:
        sections, curves = disclosure.mask_result(sections, curves, min_cell=min_cell)
    sections["title"] = report_title(spec, sections)
    sections["time_axis"] = time_axis(spec)
    sections["methods"] = methods_text(spec, sections)
    sections["results"] = results_text(spec, sections)
    digest = cohort.fingerprint()
    if competing_digest:  # the competing-risks tables are read too
        digest = hashlib.sha256((digest + competing_digest).encode()).hexdigest()
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


# --- step 1: the cohort -------------------------------------------------------


@dataclass
class Cohort:
    """The patients a report reads, after exclusions (and the landmark).

    ``table`` counts the analysed patients by group, days, event and flags;
    ``analysed`` holds one row per analysed patient when the report needs them
    (:func:`needs_rows`), else None, and then ``counted`` the counts its tables
    read, if it has any; ``patients`` is the cohort's size before any
    exclusion; ``excluded`` the patients left out, by reason in words.
    """

    table: dataset.SurvivalTable
    analysed: pd.DataFrame | None
    patients: int
    excluded: dict[str, int]
    landmark_info: dict | None = None
    counted: dataset.VariableCounts | None = None
    #: The variables the report reads from each analysed patient's row (its
    #: covariates, baseline variables, ...), besides group, days and event.
    variables: tuple[str, ...] = ()

    def section(self, counts: pd.DataFrame) -> dict:
        """Return the cohort section: patients, analysed, events, exclusions."""
        return {
            "patients": int(self.patients),
            "analysed": int(counts["n"].sum()),
            "events": int(counts.loc[counts["event"], "n"].sum()),
            "excluded": self.excluded,
        }

    def fingerprint(self) -> str:
        """Return the digest of what the report read.

        A change to any of it changes the fingerprint: the cohort's size and
        its exclusions by reason; then the patients' rows when the report read
        them (every variable it read of them), else the counts (all it read):
        the survival table's (its counts, flags and resections), then each of
        the tables' counts, in the report's order.
        """
        digests = [f"patients {self.patients}", repr(sorted(self.excluded.items()))]
        if self.analysed is not None:
            read = [v for v in self.variables if v in self.analysed.columns]
            digests.append(
                dataset.fingerprint(
                    self.analysed.assign(group=self.analysed["group"].astype(str)),
                    ["registry_number", "group", "days", "event", *read],
                )
            )
            return hashlib.sha256("\n".join(digests).encode()).hexdigest()
        counts = self.table.counts
        digests += [
            dataset.counts_fingerprint(
                counts.assign(group=counts["group"].astype(str))
            ),
            "flags",
            dataset.counts_fingerprint(self.table.flags),
            "resections",
            dataset.counts_fingerprint(self.table.resections),
        ]
        for name, part in self.counted.parts() if self.counted else ():
            digests.append(name)
            digests.append(dataset.counts_fingerprint(part))
        return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def read_cohort(spec: ReportSpec, *, user, min_cell: int | None) -> Cohort:
    """Read the patients of `spec` that `user` may see; refuse what cannot be run.

    Counts them in the database, or reads one row each when the report needs
    them (then restarting the clock at the landmark, for a landmark report).
    Raises ReportError for an unknown site, an empty cohort, one with nobody
    to analyse, or one too small for `min_cell`.
    """
    unknown = dataset.unknown_sites(user, spec.cohort.sites)
    if unknown:
        raise ReportError(
            [f"cohort.sites: no site {', '.join(unknown)} among the sites you can see"]
        )
    read = {
        "group": spec.group_by,
        "endpoint": Endpoint(spec.endpoint),
        "index": IndexDate.DIAGNOSIS
        if spec.index == "landmark"
        else IndexDate(spec.index),
        "as_of": spec.as_of,
    }
    analysed = counted = None
    variables: tuple[str, ...] = ()
    if needs_rows(spec):
        queryset = dataset.cohort_queryset(user, spec.cohort)
        variables = tuple(frame_variables(spec))
        frame = dataset.patient_frame(queryset, variables=list(variables), **read)
        table = dataset.table_from_frame(frame)
        analysed = frame[frame["days"].notna() & frame["group"].notna()].copy()
    else:
        # counted from the stored facts alone when the filters are theirs
        facts = dataset.cohort_facts(user, spec.cohort)
        table = dataset.survival_table(facts, **read)
        tables = table_variables(spec)
        if any(tables.values()):
            counted = dataset.variable_counts(facts, **tables, **read)
    cohort = Cohort(
        table=table,
        analysed=analysed,
        patients=table.patients,
        excluded=_exclusions(table, spec),
        counted=counted,
        variables=variables,
    )
    if analysed is not None and spec.index == "landmark" and not analysed.empty:
        cohort.analysed, cohort.landmark_info = _landmark(
            analysed, spec, cohort.excluded
        )
        cohort.table = dataset.table_from_frame(cohort.analysed)
    if min_cell is not None:
        _refuse_too_few(cohort.table.counts, spec, min_cell)
    if not cohort.patients:
        raise ReportError(
            ["cohort: no patients match these filters among the sites you can see"]
        )
    if cohort.table.counts.empty:
        raise ReportError(
            [
                f"cohort: none of the {cohort.patients} patients can be analysed "
                f"({_describe_exclusions(cohort.excluded)})"
            ]
        )
    return cohort


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
                f"{in_sentence(VARIABLES[spec.group_by].label)} has fewer than "
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
        "group_unknown": f"{in_sentence(VARIABLES[spec.group_by].label)} not recorded",
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
                f"landmark: {num(spec.landmark)} {spec.time_unit} is beyond the "
                f"longest follow-up ({num(longest / spec.unit_days)} {spec.time_unit})"
            ]
        )
    # the groups, and the subgroups, as they stood at the landmark: a liver
    # resection after it must not count (the bias the landmark removes)
    as_at = {
        "strategy": dataset.strategy_by,
        "liver_resected": dataset.liver_resected_by,
    }
    for name, regroup in as_at.items():
        if name in analysed.columns:
            analysed[name] = regroup(analysed, int(landmark_days))
    if spec.group_by in as_at:
        analysed["group"] = analysed[spec.group_by]
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


# --- step 2: survival counts --------------------------------------------------


def survival_counts(table_counts: pd.DataFrame, spec: ReportSpec) -> pd.DataFrame:
    """Return the patients by group, days and event, with ``time`` in the unit.

    The survival statistics need nothing else; the groups without a patient
    are dropped from the categories.
    """
    counts = table_counts.groupby(
        ["group", "days", "event"], observed=True, as_index=False
    )["n"].sum()
    return counts.assign(
        time=counts["days"] / spec.unit_days,
        group=counts["group"].cat.remove_unused_categories(),
    )


def beyond_follow_up(spec: ReportSpec, longest: float) -> list[str]:
    """Return a warning for each of the report's times past the longest follow-up."""
    return [
        f"Survival at {num(time)} {spec.time_unit} is not estimable: the "
        f"longest follow-up is {num(longest)} {spec.time_unit}."
        for time in spec.times
        if time > longest
    ]


# --- step 3: which groups are tested ------------------------------------------


@dataclass(frozen=True)
class GroupSplit:
    """The groups of a report and which of them the tests compare.

    ``hidden`` are those a user's minimum cell hides (never tested); ``lonely``
    those of one patient (shown, not tested); ``tested`` the rest.
    """

    groups: list[str]
    sizes: pd.Series
    hidden: list[str]
    tested: list[str]
    lonely: list[str]

    def warnings(self) -> list[str]:
        """Return a warning for each group left out of the tests for its size."""
        return [
            f"Group '{g}' has only {self.sizes[g]} patient: shown in the curves and "
            "tables, left out of the tests and the Cox model."
            for g in self.lonely
        ]

    def testable(self, counts: pd.DataFrame) -> pd.DataFrame:
        """Return the counts of the tested groups only."""
        testable = counts[counts["group"].isin(self.tested)].copy()
        testable["group"] = testable["group"].cat.remove_unused_categories()
        return testable


def split_groups(counts: pd.DataFrame, min_cell: int | None) -> GroupSplit:
    """Return the report's groups, split into tested, too small and hidden."""
    groups = list(counts["group"].cat.categories)
    sizes = counts.groupby("group", observed=False)["n"].sum()
    hidden = disclosure.suppressed_groups(sizes.to_dict(), min_cell) if min_cell else []
    return GroupSplit(
        groups=groups,
        sizes=sizes,
        hidden=hidden,
        tested=[g for g in groups if sizes[g] >= 2 and g not in hidden],
        lonely=[g for g in groups if sizes[g] < 2 and g not in hidden],
    )


# --- step 4: the tests --------------------------------------------------------


def logrank_sections(testable: pd.DataFrame, tested: list[str]) -> tuple[dict, list]:
    """Return the overall log-rank test and the Holm-adjusted pairwise ones."""
    if len(tested) < 2:
        return LogRankSection.nothing_to_compare().to_dict(), []
    result = survival.logrank(testable, group="group", **COUNTED)
    pairs = survival.pairwise_logrank(testable, group="group", adjust="holm", **COUNTED)
    return (
        LogRankSection.from_result(result).to_dict(),
        [PairwiseComparison.from_pair(pair).to_dict() for pair in pairs],
    )


def cox_section(
    testable: pd.DataFrame,
    spec: ReportSpec,
    tested: list[str],
    warnings: list[str],
    weights: str | None = None,
) -> dict | None:
    """Fit the Cox model: on patients, or on counts (``weights``) without covariates.

    A model that cannot be fitted gives a section that says why, and a warning.
    """
    if len(tested) < 2:
        return None
    reference = _reference(spec, tested)
    covariates = list(spec.covariates)
    extra = [weights] if weights else []
    frame = testable[["time", "event", "group", *covariates, *extra]].copy()
    for name in covariates:
        column = frame[name]
        # a categorical column keeps its levels' order (the dictionary's: "< 25%"
        # first, the reference, as R's factor in clinical order); others as text
        if VARIABLES[name].kind != "continuous" and not isinstance(
            column.dtype, pd.CategoricalDtype
        ):
            frame[name] = column.astype(str).where(column.notna())
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
        return CoxSection(reference=reference, error=str(exc)).to_dict()
    # the doubtful terms in words, as the rest of the report writes a variable
    # and a P value
    notes = list(fit.warnings) + [
        f"Proportional hazards doubtful for {_ph_term(test.term)} (cox.zph, "
        f"{p_text(test.p_value)})"
        for test in fit.doubtful
    ]
    if dropped:
        notes.append(
            f"{dropped} patients with a missing covariate were left out of the Cox "
            "model."
        )
    return CoxSection.from_fit(fit, covariates=covariates, notes=notes).to_dict()


def _ph_term(term: str) -> str:
    """Return a cox.zph term in words: a covariate by its label, the group
    variable as "the groups", GLOBAL as "the model as a whole"."""
    if term == "GLOBAL":
        return "the model as a whole"
    if term == "group":
        return "the groups"
    variable = VARIABLES.get(term)
    return in_sentence(variable.label) if variable else term


def _reference(spec: ReportSpec, tested: list[str]) -> str:
    """Return the reference group: as named (code or label), else the first."""
    if spec.reference:
        labels = dataset.group_labels(spec.group_by)
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


def followup_section(counts: pd.DataFrame, spec: ReportSpec) -> dict:
    """Return median follow-up by the reverse Kaplan-Meier method, with the range.

    Its confidence interval is of the report's type and level, like every other
    interval of the report.
    """
    result = survival.median_followup(
        counts, conf_type=spec.conf_type, conf_level=spec.conf_level, **COUNTED
    )
    return FollowUp.from_followup(result, conf_level=spec.conf_level).to_dict()


def followup_counts(
    table: dataset.SurvivalTable, spec: ReportSpec, counts: pd.DataFrame
) -> pd.DataFrame:
    """Return the counts reverse Kaplan-Meier reads: a death of any cause ends
    follow-up, so for cancer-specific survival (where a death from another cause
    is censored) the competing deaths count as deaths too. ``counts`` are the
    report's (:func:`survival_counts` of `table`): the answer for every other
    endpoint."""
    if spec.endpoint != Endpoint.CANCER_SPECIFIC:
        return counts
    table_counts = table.counts
    table_counts = table_counts.assign(
        event=table_counts["event"] | table_counts["competing"]
    )
    return survival_counts(table_counts, spec)


# --- step 4b: competing risks -------------------------------------------------

#: The competing-risks analyses: the event, the endpoint whose survival table
#: holds it (its time and event, split by the competing death of
#: registry.bulk's survival_competing), and the event and competing event in words.
COMPETING_ANALYSES = (
    (
        "recurrence",
        Endpoint.RECURRENCE_FREE,
        "recurrence or progression",
        "death without recurrence",
    ),
    (
        "cancer_death",
        Endpoint.CANCER_SPECIFIC,
        "death from colorectal cancer",
        "death from other causes",
    ),
)


def competing_risks_section(
    spec: ReportSpec, *, user, split: GroupSplit, times: list[float]
) -> tuple[dict, str]:
    """Return the competing-risks section and the digest of the rows it read.

    For recurrence (death without recurrence competing) and for death from
    colorectal cancer (death from any other cause competing): the cumulative
    incidence per group at `times` and Gray's test across the tested groups
    (:mod:`analytics.competing`). Each reads one counted survival table (two
    queries), and one query counts the deaths of unknown cause.
    """
    queryset = dataset.cohort_facts(user, spec.cohort)
    analyses, digests = [], []
    for event, endpoint, label, competing_label in COMPETING_ANALYSES:
        counts = _competing_counts(queryset, spec, endpoint)
        digests.append(
            dataset.fingerprint(
                counts.assign(group=counts["group"].astype(str)),
                ["group", "days", "status", "n"],
            )
        )
        fit = {"duration": "time", "status": "status", "weights": "n"}
        curves = competing.cumulative_incidence(
            counts,
            group="group",
            causes=(1, 2),
            conf_type=spec.conf_type,
            conf_level=spec.conf_level,
            **fit,
        )
        tested = counts[counts["group"].isin(split.tested)].copy()
        tested["group"] = tested["group"].cat.remove_unused_categories()
        tests = (
            competing.gray_test(tested, group="group", causes=(1, 2), **fit)
            if len(split.tested) > 1
            else {}
        )
        analyses.append(
            CompetingAnalysis(
                event=event,
                label=label,
                competing_label=competing_label,
                times=list(times),
                groups=[
                    IncidenceGroup.from_curves(
                        curves[g]["1"], curves[g]["2"], label=g, times=times
                    )
                    for g in split.groups
                    if g in curves
                ],
                gray=GraySection.from_test(tests["1"]) if tests else None,
                gray_competing=GraySection.from_test(tests["2"]) if tests else None,
            )
        )
    section = CompetingRisks(
        analyses=analyses,
        conf_type=spec.conf_type,
        conf_level=spec.conf_level,
        deaths_unknown_cause=dataset.unknown_cause_deaths(queryset, as_of=spec.as_of),
    )
    return section.to_dict(), "".join(digests)


def _competing_counts(queryset, spec: ReportSpec, endpoint: Endpoint) -> pd.DataFrame:
    """Return patients by group, days and status (0 censored, 1 the event, 2 the
    competing death), with ``time`` in the report's unit."""
    read = {
        "group": spec.group_by,
        "endpoint": endpoint,
        "index": IndexDate(spec.index),
        "as_of": spec.as_of,
    }
    counts = dataset.survival_table(queryset, **read).counts
    status = np.where(counts["competing"], 2, np.where(counts["event"], 1, 0))
    counts = (
        counts.assign(status=status)
        .groupby(["group", "days", "status"], observed=True, as_index=False)["n"]
        .sum()
    )
    return counts.assign(
        time=counts["days"] / spec.unit_days,
        group=counts["group"].cat.remove_unused_categories(),
    )


# --- step 5: the tables -------------------------------------------------------


def patient_sections(
    analysed: pd.DataFrame, spec: ReportSpec, hidden: list[str]
) -> dict:
    """Return the sections read from one row per patient.

    Subgroup curves, the baseline table (without the groups a minimum cell
    hides) and the associations.
    """
    analysed["time"] = analysed["days"] / spec.unit_days
    # suppressed groups are left out of the baseline comparisons too
    shown = analysed[~analysed["group"].isin(hidden)].copy()
    shown["group"] = shown["group"].cat.remove_unused_categories()
    tables = table_variables(spec)
    return {
        "subgroups": [
            subgroup_section(analysed, spec, name) for name in tables["subgroups"]
        ],
        "baseline": baseline_section(shown, spec),
        "associations": [
            association_section(analysed, factor, outcome)
            for factor, outcome in spec.associations
        ],
    }


def counted_sections(cohort: Cohort, spec: ReportSpec, hidden: list[str]) -> dict:
    """Return the sections of :func:`patient_sections`, from the cohort's counts.

    Each count frame (one variable, or one pair) is expanded to one row per
    patient in memory (:func:`expand`), one at a time, and read by the same
    functions as the patients' rows: the same numbers whichever the source.
    """
    counted = cohort.counted
    groups = cohort.table.counts[["group", "n"]]
    frames = {}
    for name, counts in counted.baseline.items():
        shown = expand(counts[~counts["group"].isin(hidden)])
        shown["group"] = shown["group"].cat.remove_unused_categories()
        frames[name] = shown
    subgroups = []
    for name, counts in counted.subgroups.items():
        rows = expand(counts)
        rows["time"] = rows["days"] / spec.unit_days
        subgroups.append(subgroup_section(rows, spec, name))
    shown = expand(groups[groups["group"].notna() & ~groups["group"].isin(hidden)])
    shown["group"] = shown["group"].cat.remove_unused_categories()
    return {
        "subgroups": subgroups,
        "baseline": baseline_section(shown, spec, frames=frames),
        "associations": [
            association_section(expand(counts), factor, outcome)
            for (factor, outcome), counts in counted.associations.items()
        ],
    }


def expand(counts: pd.DataFrame) -> pd.DataFrame:
    """Return one row per patient of a frame of counts (column ``n``)."""
    rows = np.repeat(np.arange(len(counts)), counts["n"].to_numpy())
    return counts.drop(columns="n").iloc[rows].reset_index(drop=True)


def count_sections(split: GroupSplit) -> dict:
    """Return the patient sections of a report read from counts: empty."""
    return {
        "subgroups": [],
        "baseline": Baseline(
            groups=split.groups,
            n={g: int(split.sizes[g]) for g in split.groups},
            rows=[],
        ).to_dict(),
        "associations": [],
    }


def subgroup_section(analysed: pd.DataFrame, spec: ReportSpec, name: str) -> dict:
    """Return survival by the levels of `name`, over every analysed patient."""
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
    return Subgroup(
        field=name,
        label=VARIABLES[name].label,
        levels=[
            GroupSummary.from_curve(curve, label=level, times=spec.times)
            for level, curve in curves.items()
        ],
    ).to_dict()


def baseline_section(
    analysed: pd.DataFrame, spec: ReportSpec, *, frames: dict | None = None
) -> dict:
    """Return the baseline table by group, with the right test per variable.

    ``frames`` holds one frame per variable when they were counted apart
    (:func:`counted_sections`); ``analysed`` then gives the groups.
    """
    names = table_variables(spec)["baseline"]
    kinds = {name: VARIABLES[name].kind for name in names}
    table = compare.baseline_table(
        analysed,
        frames=frames,
        group="group",
        continuous=[n for n in names if kinds[n] == "continuous"],
        categorical=[n for n in names if kinds[n] in ("categorical", "binary")],
        ordinal=[n for n in names if kinds[n] == "ordinal"],
    )
    return Baseline.from_table(table, VARIABLES).to_dict()


def association_section(analysed: pd.DataFrame, factor: str, outcome: str) -> dict:
    """Test whether `factor` predicts the yes/no `outcome` (trend and independence)."""
    frame = analysed[[factor, outcome]].dropna()
    table = pd.crosstab(frame[factor], frame[outcome])
    tests = [SignificanceTest.from_test(compare.independence_test(table.to_numpy()))]
    if VARIABLES[factor].kind == "ordinal":
        yes_no = frame.assign(**{outcome: frame[outcome] == "Yes"})
        trend = compare.trend_test(yes_no, factor=factor, outcome=outcome)
        tests.append(SignificanceTest.from_test(trend.test))
    return Association(
        factor=factor,
        factor_label=VARIABLES[factor].label,
        outcome=outcome,
        outcome_label=VARIABLES[outcome].label,
        table={
            str(level): {str(k): int(v) for k, v in row.items()}
            for level, row in table.iterrows()
        },
        levels=[str(level) for level in table.index],
        tests=tests,
    ).to_dict()


# --- step 6: later events, landmark suggestion --------------------------------


def events_section(flags: pd.DataFrame) -> Events:
    """Return the later events: liver resection, conversion, palliative surgery.

    ``flags`` counts the analysed patients by them (:attr:`SurvivalTable.flags`).
    """
    n = int(flags["n"].sum())

    def patients(mask) -> int:
        return int(flags.loc[mask, "n"].sum())

    unresected = flags["unresected_primary"]
    return Events(
        liver_resected=Share.of_total(patients(flags["liver_resected"]), n),
        converted=Share.of_total(patients(flags["converted"]), n),
        later_palliative_unresected_primary=Count(
            n=patients(unresected & flags["later_palliative"]),
            of=patients(unresected),
        ),
    )


#: The groupings a landmark analysis can regroup as they stood at the landmark.
REGROUPED_AT_LANDMARK = ("strategy", "liver_resected")
#: The later event each grouping that depends on one is defined by:
#: (flag of the counted table, the event in words).
LATER_EVENTS = {
    "strategy": ("resected", "a resection"),
    "staged_order": ("resected", "a resection"),
    "liver_resected": ("liver_resected", "a liver resection"),
    "converted": ("liver_resected", "a liver resection"),
    "later_palliative": ("later_palliative", "palliative surgery"),
}


def immortal_time(
    spec: ReportSpec, table: dataset.SurvivalTable
) -> tuple[str | None, float | None]:
    """Return the immortal-time warning and the landmark it suggests, if any.

    A grouping by what happened after the index date (:attr:`Variable.post_index`)
    favours the groups a patient joins by surviving to a later event; it is
    warned of only when that event happened after diagnosis to some analysed
    patient (a cohort with no resection has no such bias to warn of). The
    landmark is derived from those events alone (:func:`suggested_landmark`),
    and suggested only for the groupings a landmark analysis can regroup
    (:data:`REGROUPED_AT_LANDMARK`).
    """
    variable = VARIABLES[spec.group_by]
    if not variable.post_index or spec.index == "landmark":
        return None, None
    flag, event = LATER_EVENTS.get(spec.group_by, ("resected", "a resection"))
    resections = table.resections[table.resections["days"] > 0]
    flags = table.flags
    if flag == "resected":
        happened = int(resections["n"].sum())
    else:
        happened = int(flags.loc[flags[flag], "n"].sum())
        if flag == "liver_resected" and resections.empty:
            happened = 0  # every resection on the day of diagnosis: nothing later
    if not happened:
        return None, None
    suggested = None
    if spec.group_by in REGROUPED_AT_LANDMARK and not resections.empty:
        suggested = suggested_landmark(resections, spec)
    return immortal_time_warning(
        spec, patients=happened, event=event, suggested=suggested
    ), suggested


def suggested_landmark(resections: pd.DataFrame, spec: ReportSpec) -> float:
    """Return a landmark (in the spec's unit) by which 90% of resections were done,
    rounded up to a multiple of LANDMARK_STEP_MONTHS.

    ``resections`` counts the resected patients (``n``) by the days from diagnosis
    to their last first resection (``days``), as :class:`dataset.SurvivalTable`
    holds them; the 90th percentile is numpy's default (linear, R's type 7) over
    the patients.
    There must be at least one: with no resection there is no landmark to
    suggest (:func:`immortal_time` gives none).
    """
    if resections.empty or not resections["n"].sum():
        raise ValueError("no resections to derive a landmark from")
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


def tick_times(longest: float, time_unit: str) -> list[float]:
    """Return axis ticks covering follow-up: every 12 months, 1 year, ..."""
    step = {"months": 12.0, "years": 1.0, "weeks": 52.0, "days": 365.0}[time_unit]
    if longest / step < 3:
        step /= 2
    count = int(math.floor(longest / step)) + 1
    return [i * step for i in range(count + 1) if i * step <= longest + step]
