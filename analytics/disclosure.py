"""Disclosure control: a report as a user without access to identifiers may see it.

A count of a few patients can point at one of them (a cohort of one shows their
age, sex, CEA and date of death), so users who may not see identifiers see no
count below the minimum cell size (``REGISTRY_MIN_CELL``):

- a count below the minimum, zero included, is shown as ``"<5"`` (generally
  ``"<{min_cell}"``), and a percentage next to it is hidden;
- a group (or subgroup level) of fewer patients than the minimum is listed with
  that ``n`` and without its own statistics: no events, median, survival at the
  landmark times, curve, at-risk row, observed/expected counts, pairwise test or
  Cox term;
- a test computed with such a group is not shown: :func:`analytics.reports.run_report`
  leaves suppressed groups out of every test before this module masks what is left.

No database: the functions take and return a report result as
:func:`analytics.export.result_json` builds it (or the sections of one). What
a count below the minimum is, and who sees one, is registry.disclosure's rule,
which the registry's own pages follow too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping

from registry.disclosure import cell, is_masked, is_small, masked

#: The groups of liver_resected, converted, ...: a cross table's outcome columns.
YES_NO = ("No", "Yes")


def suppressed_groups(sizes: Mapping[str, int], min_cell: int) -> list[str]:
    """Return the groups of fewer than `min_cell` patients, in order."""
    return [group for group, n in sizes.items() if is_small(n, min_cell)]


def note(min_cell: int, suppressed: Iterable[str]) -> str:
    """Return the sentence that tells the reader what was hidden and why."""
    suppressed = list(suppressed)
    text = (
        "Disclosure control: so that no patient can be recognised, counts below "
        f"{min_cell} (zero included) are shown as {masked(min_cell)} without their "
        "percentages"
    )
    if not suppressed:
        return text + "."
    return (
        f"{text}, and groups of fewer than {min_cell} patients "
        f"({', '.join(suppressed)}) are shown without their own statistics or curve "
        "and are left out of every test (log-rank, Cox model, baseline comparisons)."
    )


def mask_result(
    data: dict, curves: Mapping | None = None, *, min_cell: int
) -> tuple[dict, dict]:
    """Return a result and its curves with every small count hidden.

    Parameters
    ----------
    data
        A report result (``analytics.export.result_json``) or its sections; not
        changed. Its ``curves`` key, when present, is masked like `curves`.
    curves
        Group label -> Kaplan-Meier curve (any value); the suppressed groups'
        curves are left out.
    min_cell
        The smallest count that may be shown.

    Returns
    -------
    (dict, dict)
        The masked result, with a ``disclosure`` section (``min_cell``,
        ``suppressed_groups``, ``note``), and the curves that may be drawn.
        The text (``methods``, ``results``) is left as it was: the caller writes
        it again from the masked numbers.

    Masking a masked result again changes nothing. A test that was computed with
    a suppressed group (a result stored before this rule) is hidden: the
    overall log-rank statistic, the Cox model and the baseline tests.
    """
    data = copy.deepcopy(data)
    suppressed = suppressed_groups(
        {g["group"]: g["n"] for g in data.get("groups", [])}, min_cell
    )
    hidden = set(suppressed)
    data["groups"] = [
        _suppressed_group(g, min_cell) if g["group"] in hidden else g
        for g in data.get("groups", [])
    ]
    if data.get("at_risk"):
        data["at_risk"]["groups"] = {
            g: row for g, row in data["at_risk"]["groups"].items() if g not in hidden
        }
    _mask_tests(data, hidden)
    if data.get("baseline"):
        data["baseline"] = _mask_baseline(data["baseline"], hidden, min_cell)
    data["associations"] = [
        _mask_association(a, min_cell) for a in data.get("associations", [])
    ]
    data["subgroups"] = [_mask_subgroup(s, min_cell) for s in data.get("subgroups", [])]
    if data.get("events"):
        data["events"] = {
            name: _mask_share(share, min_cell) for name, share in data["events"].items()
        }
    if data.get("competing_risks"):
        data["competing_risks"] = _mask_competing(
            data["competing_risks"], hidden, min_cell
        )
    if data.get("cohort"):
        data["cohort"]["excluded"] = _mask_counts(data["cohort"]["excluded"], min_cell)
    if data.get("landmark_analysis"):
        landmark = data["landmark_analysis"]
        landmark["excluded"] = _mask_counts(landmark["excluded"], min_cell)
    data["warnings"] = [
        w
        for w in data.get("warnings", [])
        if not any(f"'{group}'" in w for group in hidden)
    ]
    if "curves" in data:
        data["curves"] = {k: v for k, v in data["curves"].items() if k not in hidden}
    earlier = (data.get("disclosure") or {}).get("suppressed_groups", [])
    suppressed = list(dict.fromkeys([*earlier, *suppressed]))
    data["disclosure"] = {
        "min_cell": min_cell,
        "suppressed_groups": suppressed,
        "note": note(min_cell, suppressed),
    }
    shown = {k: v for k, v in (curves or {}).items() if k not in hidden}
    return data, shown


def _suppressed_group(group: dict, min_cell: int) -> dict:
    return {
        "group": group["group"],
        "n": masked(min_cell),
        "events": None,
        "median": None,
        "landmarks": [],
        "small": True,
        "suppressed": True,
    }


def _mask_competing(section: dict, hidden: set[str], min_cell: int) -> dict:
    """Hide the competing-risks section's small counts and hidden groups.

    A hidden group loses its row and curve; a Gray's test computed with one (a
    result stored before the rule) is not shown.
    """
    for analysis in section["analyses"]:
        analysis["groups"] = [
            {
                **g,
                **{k: cell(g[k], min_cell) for k in ("n", "events", "competing")},
            }
            for g in analysis["groups"]
            if g["group"] not in hidden
        ]
        for key in ("gray", "gray_competing"):
            test = analysis.get(key)
            if test and hidden & set(test["groups"]):
                analysis[key] = None
    section["deaths_unknown_cause"] = cell(section["deaths_unknown_cause"], min_cell)
    return section


def _mask_counts(counts: Mapping[str, int], min_cell: int) -> dict:
    return {key: cell(n, min_cell) for key, n in counts.items()}


def _mask_tests(data: dict, hidden: set[str]) -> None:
    """Drop what names a suppressed group; hide a test computed with one."""
    logrank = data.get("logrank")
    if logrank:
        tested = set(logrank.get("observed", {})) | set(logrank.get("expected", {}))
        if tested & hidden:
            logrank.update(
                statistic=None,
                p_value=None,
                note="not shown: it was computed with a group of too few patients",
            )
        for key in ("observed", "expected"):
            if key in logrank:
                logrank[key] = {
                    g: v for g, v in logrank[key].items() if g not in hidden
                }
        if "small_groups" in logrank:
            logrank["small_groups"] = [
                g for g in logrank["small_groups"] if g not in hidden
            ]
        if "warnings" in logrank:
            logrank["warnings"] = [
                w for w in logrank["warnings"] if not _names(w, hidden)
            ]
    data["pairwise"] = [
        pair
        for pair in data.get("pairwise", [])
        if pair["group_a"] not in hidden and pair["group_b"] not in hidden
    ]
    cox = data.get("cox")
    if cox and (
        cox.get("reference") in hidden
        or any(t["term"] in hidden for t in cox.get("terms", []))
    ):
        data["cox"] = None


def _names(text: str, groups: Iterable[str]) -> bool:
    """Return whether `text` names one of `groups` (as a whole word)."""
    return any(re.search(rf"(?<!\w){re.escape(group)}(?!\w)", text) for group in groups)


def _mask_baseline(baseline: dict, hidden: set[str], min_cell: int) -> dict:
    with_hidden = bool(set(baseline["groups"]) & hidden)
    groups = [g for g in baseline["groups"] if g not in hidden]
    rows = []
    for row in baseline["rows"]:
        row = dict(row)
        if with_hidden:
            row["tests"] = []  # computed with a suppressed group
        if row["kind"] == "continuous":
            row["groups"] = {
                g: _mask_summary(s, min_cell)
                for g, s in row["groups"].items()
                if g in groups
            }
            row["overall"] = _mask_summary(row["overall"], min_cell)
        else:
            counts, percents = {}, {}
            for g in groups:
                got = row["counts"].get(g, {})
                counts[g] = {
                    level: cell(got.get(level, 0), min_cell) for level in row["levels"]
                }
                percents[g] = {
                    level: None
                    if is_small(counts[g][level], min_cell)
                    else row["percents"].get(g, {}).get(level)
                    for level in row["levels"]
                }
            row["counts"], row["percents"] = counts, percents
            row["overall"] = {
                level: cell(row["overall"].get(level, 0), min_cell)
                for level in row["levels"]
            }
            row["missing"] = {
                g: cell(n, min_cell)
                for g, n in row.get("missing", {}).items()
                if g not in hidden
            }
        rows.append(row)
    return {
        "groups": groups,
        "n": {g: n for g, n in baseline["n"].items() if g not in hidden},
        "rows": rows,
    }


def _mask_summary(summary: dict | None, min_cell: int) -> dict | None:
    """Hide the summary of fewer than `min_cell` values, and every single value."""
    if summary is None:
        return None
    summary = dict(summary)
    # the smallest and largest values are one patient's each
    summary["minimum"] = summary["maximum"] = None
    summary["missing"] = cell(summary.get("missing"), min_cell)
    if is_small(summary["n"], min_cell):
        summary = {key: None for key in summary} | {
            "n": masked(min_cell),
            "missing": summary["missing"],
        }
    return summary


def _mask_association(association: dict, min_cell: int) -> dict:
    association = dict(association)
    columns = list(
        dict.fromkeys(
            [*YES_NO, *(k for row in association["table"].values() for k in row)]
        )
    )
    association["table"] = {
        level: {k: cell(row.get(k, 0), min_cell) for k in columns}
        for level, row in association["table"].items()
    }
    return association


def _mask_subgroup(subgroup: dict, min_cell: int) -> dict:
    subgroup = dict(subgroup)
    levels = []
    for level in subgroup["levels"]:
        if is_small(level["n"], min_cell):
            levels.append(_suppressed_group(level, min_cell))
        else:
            levels.append({**level, "events": cell(level["events"], min_cell)})
    subgroup["levels"] = levels
    return subgroup


def _mask_share(share: dict, min_cell: int) -> dict:
    """Mask "n of N (percent)"; the percentage goes with a hidden n."""
    share = dict(share)
    share["n"] = cell(share["n"], min_cell)
    share["of"] = cell(share["of"], min_cell)
    if "percent" in share and is_small(share["n"], min_cell):
        share["percent"] = None
    return share


__all__ = [
    "cell",
    "is_masked",
    "is_small",
    "mask_result",
    "masked",
    "note",
    "suppressed_groups",
]
