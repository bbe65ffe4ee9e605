"""What the PDF and the Word document both put in: figures and the reading order.

The figures are drawn by :mod:`analytics.plots`; the Kaplan-Meier figure is the
one the page shows (``export.figure``), the forest plot is drawn from the Cox
terms with the labels the Cox table prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics import plots
from analytics.documents import tables
from analytics.formatting import hazard_ratio, p_text

#: Resolution of the figures embedded as PNG: sharp in print at full width.
FIGURE_DPI = 200


@dataclass(frozen=True)
class Picture:
    """A rendered figure: PNG bytes and its size in inches."""

    png: bytes
    width: float
    height: float
    caption: str


def picture(rendered: plots.Rendered, caption: str) -> Picture:
    """Return a figure rendered as a high-resolution PNG, with its caption."""
    return Picture(
        png=rendered.content,
        width=rendered.width,
        height=rendered.height,
        caption=caption,
    )


def km_picture(data: dict) -> Picture:
    """Return the Kaplan-Meier figure of the result, as the page draws it."""
    from analytics import export  # export imports this package's renderers

    level = f"{data['spec']['conf_level'] * 100:g}%"
    caption = (
        f"Kaplan-Meier estimates of {data['endpoint']['label']} by "
        f"{data['grouping']['label'].lower()}, with {level} confidence bands and "
        "the number at risk."
    )
    # the figure's note on the groups not drawn, as text a reader can search
    note = export.suppressed_note(data)
    if note:
        caption = f"{caption} {note}"
    return picture(export.km_rendered(data, "png", dpi=FIGURE_DPI), caption)


def competing_caption(data: dict) -> str:
    """Return what the competing-risks figure shows (the page's alt text too)."""
    return (
        "Cumulative incidence (Aalen-Johansen) of recurrence or progression and of "
        "death from colorectal cancer by "
        f"{data['grouping']['label'].lower()}, deaths from other causes competing; "
        "Gray's test in each legend."
    )


def competing_picture(data: dict) -> Picture | None:
    """Return the competing-risks figure, or None without the section (or with
    every group hidden by disclosure control)."""
    section = data.get("competing_risks")
    if not section or not any(a["groups"] for a in section["analyses"]):
        return None
    from analytics import export  # export imports this package's renderers

    rendered = export.competing_rendered(data, "png", dpi=FIGURE_DPI)
    return picture(rendered, competing_caption(data))


def forest_picture(data: dict) -> Picture | None:
    """Return the forest plot of the Cox hazard ratios, or None without a model."""
    cox = data.get("cox") or {}
    terms = [t for t in cox.get("terms") or [] if t.get("hazard_ratio") is not None]
    if not terms:
        return None
    labels = [f"{hazard_ratio(t)}   {p_text(t['p_value'])}" for t in terms]
    named = [{**t, "term": tables.term_label(t["term"])} for t in terms]
    reference, level = cox["reference"], data["spec"]["conf_level"]
    rendered = plots.RENDERED.get(
        ["forest", named, reference, level, labels],
        lambda: plots.forest_figure(
            named, reference=reference, conf_level=level, labels=labels
        ),
        format="png",
        dpi=FIGURE_DPI,
    )
    caption = (
        f"Hazard ratios against {cox['reference']} "
        f"(Cox model{tables.adjusted_for(cox)})."
    )
    return picture(rendered, caption)
