"""How a report prints its numbers: the one rule for the page, the PDF and the DOCX.

The result page (through the ``report_format`` template filters and
:mod:`analytics.documents.tables`), the typeset PDF and the Word document all
write a number with these functions, so a P value, a "n.e." or a percentage reads
the same wherever it is shown. No Django here: plain values in, text out.
"""

from __future__ import annotations

import math
import re

from analytics.disclosure import is_masked

DASH = "–"
#: Shown for a survival probability beyond the last follow-up of its group.
NOT_ESTIMABLE = "n.e."
#: Shown for an upper limit (or a median) that the curve never reaches.
NOT_REACHED = "NR"

__all__ = [
    "DASH",
    "NOT_ESTIMABLE",
    "NOT_REACHED",
    "continuous_cell",
    "count_percent",
    "hazard_ratio",
    "incidence_cell",
    "landmark_cell",
    "median_cell",
    "num",
    "p_text",
    "pct",
    "pval",
]


def _missing(value) -> bool:
    if value is None or value == "":
        return True
    return isinstance(value, float) and not math.isfinite(value)


def num(value, digits: int = 1) -> str:
    """Return a number to `digits` decimals, a dash for none, a hidden count as is."""
    if _missing(value):
        return DASH
    if is_masked(value):
        return value
    return f"{float(value):.{int(digits)}f}"


def pct(value, digits: int = 0) -> str:
    """Return a proportion (0-1) as a percentage ("62%")."""
    if _missing(value):
        return DASH
    if is_masked(value):
        return value
    return f"{float(value) * 100:.{int(digits)}f}%"


def pval(value) -> str:
    """Return a bare P value for a table cell (".17", "< .001")."""
    if _missing(value):
        return DASH
    return p_text(value).removeprefix("P = ").removeprefix("P ")


def interval(lower, upper, *, digits: int = 1, fmt=num) -> str:
    """Return "[lower–upper]", with NR for an upper limit never reached."""
    high = NOT_REACHED if _missing(upper) else fmt(upper, digits)
    return f"[{fmt(lower, digits)}–{high}]"


def median_cell(median: dict | None, *, long: bool = True) -> str:
    """Return a median survival with its interval ("31.0 [22.1–NR]").

    A median never reached reads "not reached" in the main table and "NR" where
    space is short (`long` false, the subgroup tables, which show no interval).
    """
    median = median or {}
    estimate = median.get("estimate")
    if not long:
        return NOT_REACHED if _missing(estimate) else num(estimate)
    text = "not reached" if _missing(estimate) else num(estimate)
    return f"{text} {interval(median.get('lower'), median.get('upper'))}"


def landmark_cell(mark: dict) -> str:
    """Return survival at a time with its interval ("62% [48%–75%]"), or n.e."""
    if not mark.get("estimable"):
        return NOT_ESTIMABLE
    return (
        f"{pct(mark.get('survival'))} "
        f"[{pct(mark.get('lower'))}–{pct(mark.get('upper'))}]"
    )


def incidence_cell(point: dict) -> str:
    """Return a cumulative incidence at a time with its interval ("18% [9%–30%]"),
    or n.e. beyond the group's last follow-up (as a survival cell). Before the
    first event (0%, no variance) there is no interval to give: the estimate
    alone."""
    if not point.get("estimable"):
        return NOT_ESTIMABLE
    if _missing(point.get("lower")) and _missing(point.get("upper")):
        return pct(point.get("estimate"))
    return (
        f"{pct(point.get('estimate'))} "
        f"[{pct(point.get('lower'))}–{pct(point.get('upper'))}]"
    )


def hazard_ratio(term: dict) -> str:
    """Return a hazard ratio with its interval ("0.62 [0.35–1.10]")."""
    return (
        f"{num(term.get('hazard_ratio'), 2)} "
        f"[{num(term.get('lower'), 2)}–{num(term.get('upper'), 2)}]"
    )


def continuous_cell(summary: dict | None) -> str:
    """Return mean (SD); median [IQR] of one group, as a paper prints it."""
    if not summary or not summary.get("n"):
        return DASH
    if is_masked(summary["n"]):
        return f"n {summary['n']}"
    if summary.get("sd") is None:  # a single value: no spread to give
        return num(summary["mean"])
    return (
        f"{num(summary['mean'])} ({num(summary['sd'])}); {num(summary['median'])} "
        f"[{num(summary['q1'])}–{num(summary['q3'])}]"
    )


def count_percent(n, percent) -> str:
    """Return "12 (40%)" from a count and a percentage (0-100); the count alone
    when the percentage is hidden (a "<5" count, analytics.disclosure)."""
    n = 0 if n is None else n
    if _missing(percent):
        return f"{n}"
    return f"{n} ({float(percent):.0f}%)"


#: First words of a variable's label that keep their capital inside a sentence.
PROPER_NAMES = frozenset({"Charlson"})
_ORDINARY_WORD = re.compile(r"[A-Z][a-z]+(?:-[a-z]+)*")


def in_sentence(label: str) -> str:
    """Return a variable's label as it reads inside a sentence.

    Only an ordinary first word loses its capital ("Resection strategy" ->
    "resection strategy", "First-line biologic" -> "first-line biologic"); an
    acronym, a code or a name keeps it ("ECOG performance status", "KRAS",
    "CEA at diagnosis", "Charlson comorbidity index"). Group labels (the values:
    "Synchronous resection", "FOLFOX", "Lev+5FU", a site's name) are never
    changed: they are names, and are written as recorded.
    """
    first = label.split(" ", 1)[0]
    if first in PROPER_NAMES or not _ORDINARY_WORD.fullmatch(first):
        return label
    return label[0].lower() + label[1:]


def p_text(p: float | None) -> str:
    """Return a P value as a paper prints it: "P = .17", "P = .004", "P < .001".

    Two decimals from .01 up, three below, "P < .001" under that and "P > .99"
    above .99, without the leading zero (AMA style); the figure, the page, the
    text and the downloads all write P values with this one rule.
    """
    if p is None or not math.isfinite(p):
        return "P not computed"
    if p < 0.001:
        return "P < .001"
    if p > 0.99:
        return "P > .99"
    text = f"{p:.3f}" if p < 0.01 else f"{p:.2f}"
    return "P = " + text.removeprefix("0")
