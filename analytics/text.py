"""The written parts of a report: the Methods and Results paragraphs, warnings.

Every sentence is written from a result's JSON-ready data (the sections of
:class:`analytics.reports.Report`, or a stored run's data) and its
specification, never from the statistics objects, so a stored or masked
result (:mod:`analytics.disclosure`) gets its text written again from the
numbers it shows.

It reads the variables' labels from :data:`analytics.dataset.VARIABLES` and
touches no database.
"""

from __future__ import annotations

from analytics.dataset import VARIABLES
from analytics.formatting import in_sentence
from analytics.plots import p_text
from analytics.spec import ReportSpec

ENDPOINT_EVENTS = {
    "os": ("overall survival", "death"),
    "rfs": ("recurrence-free survival", "recurrence, progression or death"),
    "css": ("cancer-specific survival", "death from colorectal cancer"),
}


#: How each confidence-interval type is named in the Methods paragraph.
CI_METHODS = {
    "log-log": "the log-log transformation (as lifelines and Stata do)",
    "log": "the log transformation (R survfit's default)",
    "plain": "no transformation (plain Greenwood intervals)",
}
#: The same, once the paragraph has named it.
CI_SHORT = {
    "log-log": "the log-log transformation",
    "log": "the log transformation",
    "plain": "no transformation (plain)",
}


def num(value: float) -> str:
    """Return a number to one decimal, without a trailing ".0"."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def rounded(value: float, unit: str) -> str:
    """Return a time as a paper prints it: whole months, weeks or days; years to .1."""
    return num(value) if unit == "years" else f"{value:.0f}"


def landmark_name(spec: ReportSpec) -> str:
    """Return "the 12-month landmark" (the unit in the singular, as an adjective)."""
    return f"the {num(spec.landmark or 0)}-{spec.time_unit.removesuffix('s')} landmark"


def since(spec: ReportSpec) -> str:
    """Return where the clock starts, as the figure's axis says it."""
    if spec.index == "landmark":
        return f"from {landmark_name(spec)}"
    return {
        "diagnosis": "since diagnosis",
        "treatment": "since first treatment",
        "operation": "since first operation",
    }[spec.index]


def report_title(spec: ReportSpec, s: dict) -> str:
    """Return the report's heading: "Overall survival by resection strategy".

    A landmark report says so: "..., from the 12-month landmark", since its
    medians and survival are conditional on surviving to the landmark.
    """
    endpoint = ENDPOINT_EVENTS[spec.endpoint][0]
    title = (
        f"{endpoint[0].upper()}{endpoint[1:]} by {in_sentence(s['grouping']['label'])}"
    )
    if spec.index == "landmark":
        title += f", from {landmark_name(spec)}"
    return title


def time_axis(spec: ReportSpec) -> str:
    """Return the unit of the figure's time axis: "months from the 12-month
    landmark", "months since diagnosis"."""
    return f"{spec.time_unit} {since(spec)}"


def immortal_time_warning(
    spec: ReportSpec, *, patients: int, event: str, suggested: float | None
) -> str:
    """Warn that grouping by later events favours the groups defined by surviving.

    `patients` had the later `event` (e.g. "a resection") after diagnosis;
    `suggested` is the landmark a landmark analysis could use (None when the
    grouping cannot be regrouped at a landmark).
    """
    who = "1 patient was" if patients == 1 else f"{patients} patients were"
    text = (
        f"Immortal-time bias: '{VARIABLES[spec.group_by].label}' depends on events "
        f"after the index date ({who} grouped by {event} after diagnosis), so "
        "patients in the groups defined by a later event had to survive to it to be "
        "counted in them."
    )
    if suggested is None:
        return text
    return (
        f"{text} Compare with a landmark analysis (index 'landmark', landmark "
        f"{num(suggested)} {spec.time_unit}: 90% of the resections were done by "
        "then)."
    )


def methods_text(spec: ReportSpec, s: dict) -> str:
    """Return the methods paragraph, from the specification and what was run."""
    endpoint, event = ENDPOINT_EVENTS[spec.endpoint]
    index = {
        "diagnosis": "the date of diagnosis",
        "treatment": "the start of the first treatment",
        "operation": "the first operation",
        "landmark": f"a landmark {num(spec.landmark or 0)} {spec.time_unit} after "
        "diagnosis",
    }[spec.index]
    ci = CI_METHODS[spec.conf_type]
    level = f"{spec.conf_level * 100:g}%"
    text = [
        f"{endpoint.capitalize()} was measured from {index} to {event}; patients "
        f"without the event were censored at their last known contact or at the data "
        f"cut-off ({spec.as_of.isoformat()}), whichever came first.",
        *(
            ["Deaths from other or unknown causes were censored at the date of death."]
            if spec.endpoint == "css"
            else []
        ),
        "Survival was estimated by the Kaplan-Meier method with Greenwood's variance; "
        f"{level} confidence intervals used {ci}.",
        f"Groups ({in_sentence(s['grouping']['label'])}) were compared with the "
        "log-rank test, overall and pairwise with Holm's correction for multiple "
        "comparisons.",
    ]
    if s.get("cox") and not s["cox"].get("error"):  # a model was fitted
        adjusted = (
            ", adjusted for "
            + ", ".join(in_sentence(VARIABLES[c].label) for c in spec.covariates)
            if spec.covariates
            else ""
        )
        text.append(
            "Hazard ratios against the reference group "
            f"({s['cox']['reference']}) came from a Cox proportional-hazards model"
            f"{adjusted} (Efron ties); proportional hazards were checked with the "
            "score test of R's cox.zph (survival 3.x, Kaplan-Meier time transform)."
        )
    text.append(
        "Median follow-up was estimated by the reverse Kaplan-Meier method (the end "
        f"of follow-up as the event, death as censoring), with its {level} confidence "
        f"interval by {CI_SHORT[spec.conf_type]}."
    )
    text.append(
        f"Two-sided P values below {alpha_text(spec.alpha)} were called significant."
    )
    if s["baseline"]["rows"] or s["associations"]:
        text.append(
            "Baseline characteristics were compared by one-way ANOVA and the "
            "Kruskal-Wallis test (continuous), chi-square or Fisher's exact test when "
            "an expected count was below 5 (categorical), and the Cochran-Armitage "
            "test for trend (ordered factor against a yes/no outcome)."
        )
    if s.get("competing_risks"):
        text.append(competing_methods(spec))
    if spec.index == "landmark":
        text.append(
            "In the landmark analysis, only patients alive and under follow-up at the "
            "landmark were included, grouped by the treatment they had received by "
            "then."
        )
    if s.get("disclosure"):
        text.append(s["disclosure"]["note"])
    return " ".join(text)


def patients(n) -> str:
    """Return "1 patient", "74 patients" or "<5 patients" (a hidden count)."""
    return f"{n} patient" if n == 1 else f"{n} patients"


def alpha_text(alpha: float) -> str:
    """Return a significance level as a P value is printed: ".05", ".1"."""
    return f"{alpha:g}".removeprefix("0")


def p_at(p: float, alpha: float) -> str:
    """Return ``p_text(p)``, with more decimals where its rounding reads as alpha.

    P = .0496 prints as "P = .05", which reads as not significant at .05; it is
    written "P = .0496" instead, so the sentence and its P value agree.
    """
    text = p_text(p)
    if not text.startswith("P = ") or float(text.removeprefix("P = ")) != alpha:
        return text
    for digits in (3, 4, 5, 6):
        shown = f"{p:.{digits}f}"
        if float(shown) != alpha:
            break
    return "P = " + shown.rstrip("0").removeprefix("0")


def _share(share: dict) -> str:
    """Return "12 (16%)", or the count alone when its percentage is hidden."""
    if share["percent"] is None:
        return f"{share['n']}"
    return f"{share['n']} ({share['percent']:.0f}%)"


def _were(n) -> str:
    return "was" if n == 1 else "were"


def _had(share: dict) -> str:
    """Return "12 (16%) patients had", "1 (1%) patient had"."""
    noun = "patient" if share["n"] == 1 else "patients"
    return f"{_share(share)} {noun} had"


def results_text(spec: ReportSpec, s: dict) -> str:
    """Return the results paragraph, written from the numbers, abstract-style.

    A sentence that names an association says what its test found at the
    report's significance level (:attr:`ReportSpec.alpha`): "was associated"
    only when P < alpha, "was not significantly associated" otherwise, and
    nothing when the test could not be computed. A P value that was not
    computed is left out rather than written as "not computed".
    """
    unit = spec.time_unit
    cohort = s["cohort"]
    groups = s["groups"]
    # a landmark report's times run from the landmark, among those alive at it
    at = from_ = ""
    if spec.index == "landmark":
        at = f" alive and under follow-up at {landmark_name(spec)}"
        from_ = f" from {landmark_name(spec)}"
    parts = [
        f"{patients(cohort['analysed'])}{at} {_were(cohort['analysed'])} analysed: "
        + ", ".join(f"{g['group']} {g['n']}" for g in groups)
        + "."
    ]
    follow = s["followup"]
    if follow["median"] is not None:
        parts.append(
            f"Median follow-up{from_} was {num(follow['median'])} {unit} (range "
            f"{num(follow['minimum'])}–{num(follow['maximum'])})."
        )
    parts.append(_medians_sentence(spec, s))
    pairs = [p for p in s["pairwise"] if p["p_holm"] is not None]
    if 0 < len(pairs) <= 3:
        parts.append(
            "Pairwise (log-rank, Holm-adjusted): "
            + "; ".join(
                f"{p['group_a']} vs {p['group_b']} {p_text(p['p_holm'])}" for p in pairs
            )
            + "."
        )
    elif pairs:
        parts.append("Pairwise comparisons, Holm-adjusted, are in the table.")
    events = s["events"]
    parts.append(
        f"{_had(events['liver_resected'])} a liver resection; "
        f"{_share(events['converted'])} became resectable only after systemic "
        "therapy."
    )
    parts += [
        sentence
        for association in s["associations"]
        if (sentence := association_sentence(association, spec.alpha))
    ]
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
                    f"Without liver resection, {num(mark['time'])}-{unit[:-1]} "
                    f"survival{from_} was {mark['survival'] * 100:.0f}%."
                )
    if s.get("competing_risks"):
        parts.extend(competing_results(spec, s["competing_risks"]))
    later = events["later_palliative_unresected_primary"]
    if later["of"]:
        parts.append(
            f"{later['n']} of {patients(later['of'])} whose primary was not "
            "resected needed palliative surgery later."
        )
    return " ".join(parts)


def _medians_sentence(spec: ReportSpec, s: dict) -> str:
    """Return the medians by group, with the overall log-rank P when computed."""
    unit = spec.time_unit
    endpoint = ENDPOINT_EVENTS[spec.endpoint][0]
    if spec.index == "landmark":
        endpoint += f" from {landmark_name(spec)}"
    groups = s["groups"]
    # a suppressed group (analytics.disclosure) has no median to give
    shown = [g for g in groups if not g.get("suppressed")]
    medians = [
        rounded(g["median"]["estimate"], unit)
        if g["median"]["estimate"] is not None
        else "not reached"
        for g in shown
    ]
    if len(shown) > 1:
        p_value = s["logrank"].get("p_value")
        test = f"; log-rank {p_at(p_value, spec.alpha)}" if p_value is not None else ""
        return (
            f"Median {endpoint} was {' vs '.join(medians)} {unit} "
            f"({', '.join(g['group'] for g in shown)}{test})."
        )
    if len(groups) > 1:
        return f"Median {endpoint} was {medians[0]} {unit} ({shown[0]['group']})."
    return f"Median {endpoint} was {medians[0]} {unit}."


def association_sentence(association: dict, alpha: float) -> str:
    """Return what the association's test found at level `alpha`, or "".

    The test quoted is the last of the association's tests: the test for trend
    for an ordered factor, else the test of independence. No sentence when it
    could not be computed (e.g. no patient with the factor recorded).
    """
    test = association["tests"][-1] if association["tests"] else None
    if test is None or test["p_value"] is None:
        return ""
    found = (
        "was associated with"
        if test["p_value"] < alpha
        else "was not significantly associated with"
    )
    return (
        f"{association['factor_label']} {found} "
        f"{in_sentence(association['outcome_label'])} ({test['name']}, "
        f"{p_at(test['p_value'], alpha)})."
    )


# --- competing risks ----------------------------------------------------------


def competing_methods(spec: ReportSpec) -> str:
    """Return the Methods sentences of the competing-risks section."""
    level = f"{spec.conf_level * 100:g}%"
    return (
        "The cumulative incidence of recurrence or progression (with death without "
        "recurrence as the competing event) and of death from colorectal cancer "
        "(with death from any other cause, unknown causes included, as the competing "
        "event) was estimated by the Aalen-Johansen method, with Gray's variance as "
        f"R's cmprsk computes it and {level} pointwise confidence intervals by "
        f"{CI_SHORT[spec.conf_type]}; groups were compared with Gray's test."
    )


def competing_results(spec: ReportSpec, section: dict) -> list[str]:
    """Return the Results sentences of the competing-risks section.

    Each names the cumulative incidence at the latest table time estimable in
    every group shown, and says the groups differ only when Gray's test is
    significant at the report's level (:attr:`ReportSpec.alpha`); without a test it
    claims nothing about a difference.
    """
    alpha = spec.alpha
    unit = spec.time_unit
    parts = []
    for analysis in section["analyses"]:
        groups = [g for g in analysis["groups"] if g.get("at")]
        if not groups:
            continue
        common = [
            i
            for i in range(len(analysis["times"]))
            if all(g["at"][i]["estimable"] for g in groups)
        ]
        if not common:
            continue
        i = common[-1]
        time = analysis["times"][i]
        values = [f"{g['at'][i]['estimate'] * 100:.0f}%" for g in groups]
        what = (
            f"The {num(time)}-{unit[:-1]} cumulative incidence of {analysis['label']}"
        )
        if len(groups) == 1:
            parts.append(f"{what} was {values[0]}.")
            continue
        names = ", ".join(g["group"] for g in groups)
        gray = analysis.get("gray")
        p = gray["p_value"] if gray else None
        if p is None:
            parts.append(f"{what} was {' vs '.join(values)} ({names}).")
        elif p < alpha:
            parts.append(
                f"{what} was {' vs '.join(values)} ({names}); it differed "
                f"significantly between the groups (Gray's test, {p_at(p, alpha)})."
            )
        else:
            parts.append(
                f"{what} was {' vs '.join(values)} ({names}); it did not differ "
                f"significantly between the groups (Gray's test, {p_at(p, alpha)})."
            )
    unknown = section.get("deaths_unknown_cause") or 0
    if isinstance(unknown, str):  # hidden by disclosure control ("<5")
        parts.append(
            f"Deaths of unknown cause ({unknown}) were counted with the other causes."
        )
    elif unknown:
        deaths = "death" if unknown == 1 else "deaths"
        were = "was" if unknown == 1 else "were"
        parts.append(
            f"{unknown} {deaths} of unknown cause {were} counted with the other causes."
        )
    return parts
