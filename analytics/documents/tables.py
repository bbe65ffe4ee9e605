"""A report's tables and text, formatted once for the page, the PDF and the DOCX.

:func:`report_tables` turns a result (``export.result_json``'s data, live or a
stored run) into :class:`Table` objects whose cells are the text a reader sees:
"31.0 [22.1–NR]", "62% [48%–75%]", "n.e.", ".004", "12 (40%)". The result page
renders them (``analytics/_table.html``), :mod:`analytics.documents.pdf` typesets
them and :mod:`analytics.documents.docx` writes them as Word tables, so the three
cannot disagree. Numbers are written by :mod:`analytics.formatting`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analytics.formatting import (
    DASH,
    NOT_ESTIMABLE,
    continuous_cell,
    count_percent,
    hazard_ratio,
    in_sentence,
    incidence_cell,
    landmark_cell,
    median_cell,
    num,
    p_text,
    pct,
    pval,
)
from analytics.variables import VARIABLES

SMALL_GROUP_TITLE = "Fewer than 10 patients: estimates and P values are unstable"
NOT_ESTIMABLE_TITLE = "Beyond the last follow-up of this group"


@dataclass(frozen=True)
class Cell:
    """One table cell: its text (lines split at newlines) and how it is shown.

    ``detail`` is a second, lighter line under the text (a baseline variable's
    level or its summary's description); ``badge`` a flag beside it ("small"),
    explained by ``title``.
    """

    text: str
    header: bool = False
    numeric: bool = False
    muted: bool = False
    colspan: int = 1
    detail: str = ""
    badge: str = ""
    title: str = ""

    @property
    def lines(self) -> list[str]:
        """Return the cell's lines as printed (text, then detail), badge included."""
        text = f"{self.text} ({self.badge})" if self.badge else self.text
        return [line for line in (*text.split("\n"), self.detail) if line]


@dataclass(frozen=True)
class Column:
    """A column heading; numeric columns are right-aligned."""

    text: str
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    """A titled table with its caption above and its notes below."""

    key: str
    title: str
    columns: list[Column]
    rows: list[list[Cell]]
    caption: str = ""
    notes: list[str] = field(default_factory=list)
    #: cautions about the table (a model that fitted badly), after the notes
    warnings: list[str] = field(default_factory=list)
    #: columns repeated on each part when a table is too wide and is split
    keep_columns: int = 1
    css_class: str = ""


@dataclass(frozen=True)
class Section:
    """Paragraphs and a list under a heading (follow-up, later events)."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReportTables:
    """Every table and text section of a result, in the page's order."""

    groups: Table
    pairwise: Table | None
    cox: Table | None
    subgroups: list[Table]
    associations: list[Table]
    baseline: Table | None
    followup: Section
    #: the competing-risks section's table (None without the section)
    competing: Table | None = None

    def all(self) -> list[Table]:
        """Return the tables present, in reading order."""
        tables = [self.groups, self.pairwise, self.cox, self.competing]
        tables += self.subgroups
        tables += [*self.associations, self.baseline]
        return [t for t in tables if t is not None]


def report_tables(data: dict) -> ReportTables:
    """Return the formatted tables and sections of a result."""
    return ReportTables(
        groups=groups_table(data),
        pairwise=pairwise_table(data),
        cox=cox_table(data),
        subgroups=[subgroup_table(data, s) for s in data.get("subgroups") or []],
        associations=[association_table(a) for a in data.get("associations") or []],
        baseline=baseline_table(data),
        followup=followup_section(data),
        competing=competing_table(data),
    )


# --- headings -------------------------------------------------------------------


def title(data: dict) -> str:
    """Return the report's title: its name, or what it shows."""
    return data["spec"].get("name") or "Outcome report"


def subtitle(data: dict) -> str:
    """Return the line under the title: endpoint, grouping, cut-off, cohort."""
    cohort = data["cohort"]
    return (
        f"{data.get('title') or data['endpoint']['label'].capitalize()}"
        f" · data cut-off {data['as_of']} · "
        f"{cohort['analysed']} of {cohort['patients']} patients analysed, "
        f"{cohort['events']} events"
    )


def exclusions_text(data: dict) -> str:
    """Return the sentence listing the patients left out, or ""."""
    excluded = data["cohort"].get("excluded") or {}
    if not excluded:
        return ""
    return (
        "Excluded: "
        + "; ".join(f"{n} {reason}" for reason, n in excluded.items())
        + "."
    )


def _level(data: dict) -> str:
    return pct(data["spec"]["conf_level"])


def _time_columns(data: dict) -> list[Column]:
    unit = data["time_unit"]
    return [Column(f"{num(t, 0)} {unit}", numeric=True) for t in data["spec"]["times"]]


def _hidden(data: dict, span: int) -> Cell:
    min_cell = (data.get("disclosure") or {}).get("min_cell")
    return Cell(f"not shown: fewer than {min_cell} patients", muted=True, colspan=span)


def _landmark_cells(marks: list[dict]) -> list[Cell]:
    return [
        Cell(
            landmark_cell(m),
            numeric=True,
            muted=not m.get("estimable"),
            title="" if m.get("estimable") else NOT_ESTIMABLE_TITLE,
        )
        for m in marks
    ]


# --- survival ---------------------------------------------------------------------


def groups_table(data: dict) -> Table:
    """Return n, events, median and survival at each time, by group."""
    unit = data["time_unit"]
    times = len(data["spec"]["times"])
    rows = []
    for group in data["groups"]:
        row = [
            Cell(
                group["group"],
                header=True,
                badge="small" if group.get("small") else "",
                title=SMALL_GROUP_TITLE if group.get("small") else "",
            ),
            Cell(str(group["n"]), numeric=True),
        ]
        if group.get("suppressed"):
            row.append(_hidden(data, times + 2))
        else:
            row.append(Cell(str(group["events"]), numeric=True))
            row.append(Cell(median_cell(group["median"]), numeric=True))
            row += _landmark_cells(group["landmarks"])
        rows.append(row)
    return Table(
        key="groups",
        title=f"Survival by {in_sentence(data['grouping']['label'])}",
        columns=[
            Column("Group"),
            Column("n", numeric=True),
            Column("Events", numeric=True),
            Column(f"Median ({unit}) [{_level(data)} CI]", numeric=True),
            *_time_columns(data),
        ],
        rows=rows,
        notes=[logrank_text(data)],
    )


def logrank_text(data: dict) -> str:
    """Return the overall log-rank test as a sentence."""
    logrank = data.get("logrank") or {}
    if logrank.get("p_value") is None:
        return f"Log-rank test: {logrank.get('note') or 'not computed'}."
    text = (
        f"Log-rank test: χ² = {num(logrank['statistic'], 2)}, df = {logrank['df']}, "
        f"{p_text(logrank['p_value'])}"
    )
    if logrank.get("small_groups"):
        text += " (unstable: small groups)"
    return text + "."


def pairwise_table(data: dict) -> Table | None:
    """Return the pairwise log-rank tests, with Holm's adjusted P, or None."""
    if not data.get("pairwise"):
        return None
    rows = [
        [
            Cell(
                f"{pair['group_a']} vs {pair['group_b']}",
                badge="unstable" if pair.get("small_groups") else "",
            ),
            Cell(num(pair["statistic"], 2), numeric=True),
            Cell(pval(pair["p_value"]), numeric=True),
            Cell(pval(pair["p_holm"]), numeric=True),
        ]
        for pair in data["pairwise"]
    ]
    return Table(
        key="pairwise",
        title="Pairwise log-rank",
        columns=[
            Column("Comparison"),
            Column("χ²", numeric=True),
            Column("P", numeric=True),
            Column("P (Holm)", numeric=True),
        ],
        rows=rows,
    )


def term_label(term: str) -> str:
    """Return a Cox term as a reader knows it: a covariate by its label ("age" ->
    "Age at diagnosis (years)", "ecog=1" -> "ECOG performance status: 1"); a
    group (the groups compared) as it is named."""
    name, sep, level = term.partition("=")
    variable = VARIABLES.get(name)
    if variable is None:
        return term
    if sep:
        codes = {str(code): label for code, label in variable.labels().items()}
        return f"{variable.label}: {codes.get(level, level)}"
    return f"{variable.label} ({variable.unit})" if variable.unit else variable.label


def adjusted_for(cox: dict) -> str:
    """Return ", adjusted for age at diagnosis, ECOG performance status (against
    0)", or "": a categorical covariate with the level its ratios are against."""
    references = cox.get("covariate_references") or {}
    covariates = [
        (in_sentence(VARIABLES[c].label) if c in VARIABLES else c)
        + (f" (against {references[c]})" if c in references else "")
        for c in cox.get("covariates") or ()
    ]
    return f", adjusted for {', '.join(covariates)}" if covariates else ""


def cox_caption(cox: dict) -> str:
    """Return what the Cox model compared against and on how many patients."""
    return (
        f"Against {cox['reference']}{adjusted_for(cox)}; "
        f"{cox.get('n', DASH)} patients, {cox.get('events', DASH)} events."
    )


def cox_table(data: dict) -> Table | None:
    """Return the Cox hazard ratios against the reference group, or None."""
    cox = data.get("cox") or {}
    if not cox.get("terms"):
        return None
    notes = []
    if cox.get("ph_test"):
        notes.append(
            "Proportional hazards (cox.zph): "
            + "; ".join(
                f"{term_label(t['term'])} {p_text(t['p_value'])}"
                for t in cox["ph_test"]
            )
            + "."
        )
    return Table(
        key="cox",
        title="Hazard ratios (Cox)",
        caption=cox_caption(cox),
        columns=[
            Column("Term"),
            Column(f"HR [{_level(data)} CI]", numeric=True),
            Column("P", numeric=True),
        ],
        rows=[
            [
                Cell(term_label(term["term"])),
                Cell(hazard_ratio(term), numeric=True),
                Cell(pval(term["p_value"]), numeric=True),
            ]
            for term in cox["terms"]
        ],
        notes=notes,
        warnings=list(cox.get("warnings") or []),
    )


def subgroup_table(data: dict, subgroup: dict) -> Table:
    """Return the medians and survival at each time by the levels of a subgroup."""
    times = len(data["spec"]["times"])
    rows = []
    for level in subgroup["levels"]:
        row = [Cell(level["group"], header=True), Cell(str(level["n"]), numeric=True)]
        if level.get("suppressed"):
            row.append(_hidden(data, times + 1))
        else:
            row.append(Cell(median_cell(level["median"], long=False), numeric=True))
            row += _landmark_cells(level["landmarks"])
        rows.append(row)
    return Table(
        key=f"subgroup_{subgroup['field']}",
        title=f"By {in_sentence(subgroup['label'])}",
        columns=[
            Column(subgroup["label"]),
            Column("n", numeric=True),
            Column("Median", numeric=True),
            *_time_columns(data),
        ],
        rows=rows,
    )


def ordered_levels(association: dict) -> list[tuple[str, dict]]:
    """Return (level, counts) in the factor's order: the result's ``levels`` (a
    result stored in PostgreSQL's jsonb comes back with its keys reordered), or
    the table's own order for results stored before ``levels`` was kept."""
    table = association["table"]
    levels = association.get("levels") or list(table)
    return [(level, table.get(level)) for level in levels if level in table]


def association_table(association: dict) -> Table:
    """Return the cross-table of a factor against a yes/no outcome, with its tests."""
    return Table(
        key=f"association_{association['factor']}_{association['outcome']}",
        title=(
            f"{association['factor_label']} and "
            f"{in_sentence(association['outcome_label'])}"
        ),
        columns=[
            Column(association["factor_label"]),
            Column(f"{association['outcome_label']}: no", numeric=True),
            Column("yes", numeric=True),
        ],
        rows=[
            [
                Cell(level, header=True),
                Cell(str((row or {}).get("No") or 0), numeric=True),
                Cell(str((row or {}).get("Yes") or 0), numeric=True),
            ]
            for level, row in ordered_levels(association)
        ],
        notes=[
            "; ".join(
                f"{t['name']}: {p_text(t['p_value'])}" for t in association["tests"]
            )
            + "."
        ],
        css_class="narrow-table",
    )


# --- competing risks -------------------------------------------------------------


def gray_text(analysis: dict) -> str:
    """Return Gray's test of an event and of its competing event as a sentence."""
    parts = []
    for key, label in (
        ("gray", analysis["label"]),
        ("gray_competing", analysis["competing_label"]),
    ):
        test = analysis.get(key)
        if test is None or test.get("p_value") is None:
            parts.append(f"{label}, not computed")
        else:
            parts.append(
                f"{label}, χ² = {num(test['statistic'], 2)}, df = {test['df']}, "
                f"{p_text(test['p_value'])}"
            )
    return f"Gray's test: {'; '.join(parts)}."


def competing_table(data: dict) -> Table | None:
    """Return the cumulative incidence of each event per group at the section's
    times, with its interval, and Gray's tests below; None without the section.

    The event and its competing event head each block of rows; a count hidden by
    disclosure control ("<5") is printed as it is, a hidden group is not listed.
    """
    section = data.get("competing_risks")
    analyses = [a for a in (section or {}).get("analyses", []) if a["groups"]]
    if not analyses:
        return None
    times = analyses[0]["times"]
    unit = data["time_unit"]
    rows = []
    for analysis in analyses:
        for i, group in enumerate(analysis["groups"]):
            first = i == 0
            rows.append(
                [
                    Cell(
                        analysis["label"].capitalize() if first else "",
                        header=True,
                        detail=f"competing: {analysis['competing_label']}"
                        if first
                        else "",
                    ),
                    Cell(group["group"]),
                    Cell(str(group["n"]), numeric=True),
                    Cell(str(group["events"]), numeric=True),
                    Cell(str(group["competing"]), numeric=True),
                    *[
                        Cell(
                            incidence_cell(point),
                            numeric=True,
                            muted=not point.get("estimable"),
                            title="" if point.get("estimable") else NOT_ESTIMABLE_TITLE,
                        )
                        for point in group["at"]
                    ],
                ]
            )
    notes = [gray_text(a) for a in analyses]
    unknown = section.get("deaths_unknown_cause")
    if unknown not in (None, 0):
        notes.append(
            f"Deaths without a recorded cause ({unknown}) are counted with the "
            "other causes."
        )
    return Table(
        key="competing",
        title="Competing risks: cumulative incidence",
        caption=(
            f"Aalen-Johansen cumulative incidence [{pct(section['conf_level'])} CI] "
            f"by {in_sentence(data['grouping']['label'])}; events and competing "
            "events counted per group."
        ),
        columns=[
            Column("Event"),
            Column("Group"),
            Column("n", numeric=True),
            Column("Events", numeric=True),
            Column("Competing events", numeric=True),
            *[Column(f"{num(t, 0)} {unit}", numeric=True) for t in times],
        ],
        rows=rows,
        notes=notes,
        keep_columns=2,
    )


# --- baseline ---------------------------------------------------------------------


def _tests_text(tests: list[dict]) -> str:
    return "\n".join(f"{t['name']} {p_text(t['p_value'])}" for t in tests if t["name"])


def baseline_table(data: dict) -> Table | None:
    """Return the baseline characteristics by group, with a test per variable."""
    baseline = data.get("baseline") or {}
    if not baseline.get("rows"):
        return None
    groups = baseline["groups"]
    rows = []
    for row in baseline["rows"]:
        tests = Cell(_tests_text(row["tests"]))
        if row["kind"] == "continuous":
            label = row["label"] + (f" ({row['unit']})" if row.get("unit") else "")
            rows.append(
                [
                    Cell(label, header=True, detail="mean (SD); median [IQR]"),
                    *[Cell(continuous_cell(row["groups"].get(g))) for g in groups],
                    tests,
                ]
            )
            continue
        for i, level in enumerate(row["levels"]):
            counts = [
                count_percent(
                    (row["counts"].get(g) or {}).get(level, 0),
                    (row["percents"].get(g) or {}).get(level),
                )
                for g in groups
            ]
            rows.append(
                [
                    Cell(row["label"] if i == 0 else "", header=True, detail=level),
                    *[Cell(text) for text in counts],
                    tests if i == 0 else Cell(""),
                ]
            )
    n = baseline.get("n") or {}
    return Table(
        key="baseline",
        title=f"Baseline characteristics by {in_sentence(data['grouping']['label'])}",
        columns=[
            Column("Variable"),
            *[Column(f"{g} (n = {n.get(g, DASH)})") for g in groups],
            Column("Test"),
        ],
        rows=rows,
        css_class="baseline",
    )


# --- follow-up and later events ---------------------------------------------------


def followup_text(data: dict) -> str:
    """Return median follow-up (reverse Kaplan-Meier) with its interval and range."""
    follow = data["followup"]
    unit = data["time_unit"]
    return (
        f"Median follow-up (reverse Kaplan-Meier) {num(follow['median'])} {unit} "
        f"{_bracket(follow)}; range {num(follow['minimum'])}–"
        f"{num(follow['maximum'])} {unit}."
    )


def _bracket(follow: dict) -> str:
    upper = "NR" if follow.get("upper") is None else num(follow["upper"])
    return f"[{num(follow.get('lower'))}–{upper}]"


def _share(share: dict) -> str:
    text = f"{share['n']} of {share['of']}"
    if share.get("percent") is not None:
        text += f" ({num(share['percent'], 0)}%)"
    return text


def event_lines(data: dict) -> list[str]:
    """Return the treatment and later events, one line each."""
    events = data["events"]
    later = events["later_palliative_unresected_primary"]
    return [
        f"Liver resection: {_share(events['liver_resected'])}",
        "Converted to resectable after systemic therapy: "
        f"{_share(events['converted'])}",
        "Later palliative surgery, primary not resected: "
        f"{later['n']} of {later['of']}",
    ]


def landmark_text(data: dict) -> str:
    """Return who the landmark analysis included and excluded, or ""."""
    info = data.get("landmark_analysis")
    if not info:
        return ""
    excluded = "; ".join(f"{n} {reason}" for reason, n in info["excluded"].items())
    return (
        f"Landmark {num(info['landmark'])} {data['time_unit']}: {info['included']} "
        f"patients included, grouped by {in_sentence(info['grouped_by'])}. "
        f"Excluded: {excluded}."
    )


def followup_section(data: dict) -> Section:
    """Return follow-up, the later events and the landmark's inclusions."""
    paragraphs = [followup_text(data)]
    if data.get("landmark_analysis"):
        paragraphs.append(landmark_text(data))
    return Section(title="Follow-up", paragraphs=paragraphs, bullets=event_lines(data))


__all__ = [
    "NOT_ESTIMABLE",
    "Cell",
    "Column",
    "ReportTables",
    "Section",
    "Table",
    "report_tables",
    "subtitle",
    "title",
]
