"""Kaplan-Meier figures with a number-at-risk table, built without pyplot.

A web process must not touch pyplot's global figure registry (it leaks figures
and is not thread-safe), so figures are built as :class:`matplotlib.figure.Figure`
objects and rendered with :func:`render`, whatever backend is configured. Nothing
here touches Django; the curves come from :func:`analytics.survival.kaplan_meier`.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from analytics.formatting import p_text  # noqa: F401 (the figure's P values; re-exported)
from analytics.survival import SMALL_GROUP_SIZE, KaplanMeier

# Every text drawn (titles, group and site names, labels, the PDF report's pages)
# is the user's or the data's: a "$" is a dollar, never the start of math text.
matplotlib.rcParams["text.parse_math"] = False

#: Okabe-Ito colours: distinguishable with the common colour-vision deficiencies
#: and in greyscale print.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
)

FORMATS: dict[str, dict[str, object]] = {
    # fixed metadata so the same figure renders to the same bytes every time
    "png": {"metadata": {"Software": None}},
    "svg": {"metadata": {"Date": None, "Creator": None}},
    "pdf": {"metadata": {"CreationDate": None, "Creator": None, "Producer": None}},
}

#: Most censor marks drawn per curve. A curve of thousands of patients has
#: thousands of censoring times that overprint into a thick line and cost most of
#: the rendering time; an even subsample of them looks the same.
MAX_CENSOR_MARKS = 150

#: gid of the number-at-risk text artists: ``"at-risk|<group>|<tick>"``.
AT_RISK_GID = "at-risk"


def _steps(km: KaplanMeier) -> tuple[np.ndarray, ...]:
    """Step coordinates from time 0 (survival 1, limits 1) through every time."""
    time = np.concatenate(([0.0], km.time))
    surv = np.concatenate(([1.0], km.survival))
    lower = np.concatenate(([1.0], km.lower))
    upper = np.concatenate(([1.0], km.upper))
    # R leaves the log-log limits NA where survival is 1; the band is then the
    # point itself. Where survival is 0 they stay NA and the band stops.
    at_one = surv == 1
    lower = np.where(at_one & np.isnan(lower), 1.0, lower)
    upper = np.where(at_one & np.isnan(upper), 1.0, upper)
    return time, surv, lower, upper


def km_figure(
    curves: Mapping[str, KaplanMeier],
    *,
    ticks: Sequence[float],
    time_unit: str = "months",
    p_value: float | None = None,
    small_groups: Sequence[str] = (),
    title: str | None = None,
    footnote: str | None = None,
    y_label: str = "Survival probability",
    show_ci: bool = True,
    show_censors: bool = True,
    risk_table: bool = True,
    colors: Sequence[str] = PALETTE,
    size: tuple[float, float] = (7.0, 5.5),
) -> Figure:
    """Draw Kaplan-Meier curves with a number-at-risk table under the time axis.

    Parameters
    ----------
    curves
        Group label -> curve, as :func:`analytics.survival.kaplan_meier` returns.
    time_unit
        Unit of the curves' times, written in the axis label: "Time (months)".
    ticks
        Times for the axis ticks and the at-risk columns (a report's
        ``at_risk.ticks``); the axis ends at the last.
    p_value, small_groups
        The log-rank P value, written on the plot; flagged as unstable when
        ``small_groups`` names groups of fewer than ``SMALL_GROUP_SIZE`` patients.
    footnote
        A line under the figure (which groups are not drawn, and why).
    show_ci
        Shade the pointwise confidence band of each curve (as steps).
    show_censors
        Mark censoring times with "+" on the curve.
    risk_table
        Add the number-at-risk table, one row per group in the curve's colour,
        its columns at the axis ticks (``KaplanMeier.at_risk(ticks)``).

    Returns
    -------
    matplotlib.figure.Figure
        A figure not registered with pyplot; render it with :func:`render`.
    """
    if not curves:
        raise ValueError("no curves to draw")
    tick_values = [float(t) for t in ticks]
    groups = list(curves)
    fig = Figure(figsize=size, layout="constrained")
    if risk_table:
        grid = fig.add_gridspec(2, 1, height_ratios=[4.0, 0.35 + 0.3 * len(groups)])
        ax = fig.add_subplot(grid[0])
        table = fig.add_subplot(grid[1], sharex=ax)
    else:
        ax = fig.add_subplot()
        table = None

    for i, (label, km) in enumerate(curves.items()):
        color = colors[i % len(colors)]
        time, surv, lower, upper = _steps(km)
        ax.step(
            time,
            surv,
            where="post",
            color=color,
            linewidth=1.8,
            label=f"{label} (n = {km.n})",
        )
        if show_ci:
            ax.fill_between(
                time, lower, upper, step="post", color=color, alpha=0.15, linewidth=0
            )
        if show_censors:
            censored = np.flatnonzero(km.n_censor > 0)
            if censored.size > MAX_CENSOR_MARKS:
                keep = np.linspace(0, censored.size - 1, MAX_CENSOR_MARKS)
                censored = censored[np.unique(keep.round().astype(int))]
            ax.plot(
                km.time[censored],
                km.survival[censored],
                linestyle="none",
                marker="+",
                markersize=7,
                markeredgewidth=1.2,
                color=color,
            )

    ax.set_xlim(tick_values[0], tick_values[-1])
    ax.set_xticks(tick_values)
    ax.set_ylim(0, 1.02)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_xlabel(f"Time ({time_unit})")
    ax.set_ylabel(y_label)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    # the P value heads the legend, which goes where it hides the least of the
    # curves, so neither covers a step
    heading = None
    if p_value is not None:
        heading = f"Log-rank {p_text(p_value)}"
        if small_groups:
            heading += f"\n(groups under {SMALL_GROUP_SIZE} patients: P unstable)"
    legend = ax.legend(
        loc="best",
        frameon=False,
        fontsize=9,
        title=heading,
        title_fontsize=9,
        alignment="left",
    )
    legend.set_gid("legend")
    if title:
        ax.set_title(title, loc="left", fontsize=11)

    if table is not None:
        _draw_risk_table(table, curves, tick_values, colors)
    if footnote:
        fig.supxlabel(footnote, x=0.01, ha="left", fontsize=8, color="0.3")
    return fig


def _draw_risk_table(
    table, curves: Mapping[str, KaplanMeier], ticks: list[float], colors: Sequence[str]
) -> None:
    groups = list(curves)
    rows = len(groups)
    for i, (label, km) in enumerate(curves.items()):
        y = rows - 1 - i
        color = colors[i % len(colors)]
        for tick, count in zip(ticks, km.at_risk(ticks), strict=True):
            table.text(
                tick,
                y,
                str(count),
                ha="center",
                va="center",
                fontsize=9,
                color=color,
                gid=f"{AT_RISK_GID}|{label}|{tick:g}",
            )
    table.set_ylim(-0.5, rows - 0.5)
    table.set_yticks(range(rows))
    table.set_yticklabels(list(reversed(groups)), fontsize=9)
    for tick_label, i in zip(
        table.get_yticklabels(), reversed(range(rows)), strict=True
    ):
        tick_label.set_color(colors[i % len(colors)])
    # keep the group names clear of the centred counts in the first column
    widest = max(len(str(c)) for km in curves.values() for c in km.at_risk(ticks[:1]))
    table.tick_params(axis="y", length=0, pad=6 + 3.5 * widest)
    table.tick_params(axis="x", bottom=False, labelbottom=False)
    for spine in table.spines.values():
        spine.set_visible(False)
    table.set_title("Number at risk", loc="left", fontsize=9)


def competing_figure(
    section: Mapping,
    *,
    time_unit: str = "months",
    colors: Sequence[str] = PALETTE,
    size: tuple[float, float] = (10.0, 4.5),
) -> Figure:
    """Draw the cumulative incidence curves of a report's competing-risks section.

    One panel per analysis (recurrence, cancer death), one step curve per group,
    from the section's JSON-ready data (``competing_risks`` of a report result),
    so that a stored run draws the same figure. Gray's test heads each legend.
    The y axis is the cumulative incidence, from 0, to the largest value drawn.
    """
    analyses = [a for a in section["analyses"] if a["groups"]]
    if not analyses:
        raise ValueError("no curves to draw")
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(1, len(analyses), squeeze=False)[0]
    top = max(
        (
            max(g["curve"]["estimate"], default=0.0)
            for a in analyses
            for g in a["groups"]
        ),
        default=0.0,
    )
    top = min(1.0, max(0.1, np.ceil(top * 10 + 0.5) / 10))
    for ax, analysis in zip(axes, analyses, strict=True):
        last = 0.0
        for i, group in enumerate(analysis["groups"]):
            curve = group["curve"]
            time = [0.0, *curve["time"], curve["last_time"]]
            estimate = [0.0, *curve["estimate"]]
            estimate.append(estimate[-1])
            last = max(last, curve["last_time"])
            ax.step(
                time,
                estimate,
                where="post",
                color=colors[i % len(colors)],
                linewidth=1.8,
                label=f"{group['group']} (n = {group['n']})",
            )
        gray = analysis.get("gray")
        heading = f"Gray's test {p_text(gray['p_value'])}" if gray else None
        # where it hides the least of the curves, as km_figure's
        ax.legend(
            loc="best",
            frameon=False,
            fontsize=8,
            title=heading,
            title_fontsize=8,
            alignment="left",
        )
        ax.set_title(
            f"{analysis['label'].capitalize()}\n"
            f"(competing: {analysis['competing_label']})",
            loc="left",
            fontsize=10,
        )
        ax.set_xlim(0, last or 1)
        ax.set_ylim(0, top)
        ax.set_xlabel(f"Time ({time_unit})")
        ax.set_ylabel("Cumulative incidence")
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", color="0.9", linewidth=0.8)
        ax.set_axisbelow(True)
    return fig


def render(fig: Figure, *, format: str = "png", dpi: int = 150) -> bytes:
    """Render a figure to PNG, SVG or PDF bytes, without pyplot.

    Metadata carrying the software version or the date is left out, so the same
    figure gives the same bytes.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}, not {format!r}")
    buffer = io.BytesIO()
    # a fixed salt makes the SVG element ids, otherwise random, repeatable
    with matplotlib.rc_context({"svg.hashsalt": "analytics.plots"}):
        fig.savefig(buffer, format=format, dpi=dpi, **FORMATS[format])
    return buffer.getvalue()


#: Bytes of rendered figures each process keeps (:data:`RENDERED`).
RENDERED_MAX_BYTES = 32 * 2**20


@dataclass(frozen=True)
class Rendered:
    """A figure rendered to a file format: its bytes and its size in inches."""

    content: bytes
    width: float
    height: float


class RenderedFigures:
    """The figures this process rendered, by what they were drawn from.

    A figure is a function of what it is drawn from (a report's data, its kind,
    the format and the resolution), so the same ones give the same bytes: the
    page, its PNG download, the PDF and the Word document of one result, or a
    stored run viewed again, need each figure drawn once. The most recently
    used figures are kept up to ``max_bytes`` in all; a figure larger than that
    is not kept.
    """

    def __init__(self, max_bytes: int = RENDERED_MAX_BYTES):
        self.max_bytes = max_bytes
        self._figures: OrderedDict[str, Rendered] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(
        self, drawn_from: object, draw: Callable[[], Figure], *, format: str, dpi: int
    ) -> Rendered:
        """Return the figure ``draw()`` gives rendered to `format` at `dpi`,
        drawing it only if no figure drawn from the same `drawn_from` (any
        JSON-ready value saying everything the figure depends on) is kept."""
        key = hashlib.sha256(
            # (numbers numpy gives, in a live result, by their text)
            json.dumps([drawn_from, format, dpi], sort_keys=True, default=str).encode()
        ).hexdigest()
        with self._lock:
            found = self._figures.get(key)
            if found is not None:
                self._figures.move_to_end(key)
                return found
        fig = draw()
        width, height = (float(v) for v in fig.get_size_inches())
        made = Rendered(render(fig, format=format, dpi=dpi), width, height)
        with self._lock:
            if key not in self._figures and len(made.content) <= self.max_bytes:
                self._figures[key] = made
                self._bytes += len(made.content)
                while self._bytes > self.max_bytes:
                    _, dropped = self._figures.popitem(last=False)
                    self._bytes -= len(dropped.content)
        return made

    def clear(self) -> None:
        with self._lock:
            self._figures.clear()
            self._bytes = 0


#: This process's rendered figures (analytics.export and analytics.documents).
RENDERED = RenderedFigures()


#: Hazard ratios marked on a forest plot's (logarithmic) axis, where in range.
FOREST_TICKS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20)


def forest_figure(
    terms: Sequence[Mapping],
    *,
    reference: str,
    conf_level: float = 0.95,
    labels: Sequence[str] | None = None,
    width: float = 7.0,
) -> Figure:
    """Draw the hazard ratios of a Cox model with their intervals (a forest plot).

    Parameters
    ----------
    terms
        The model's terms as the report holds them (``hazard_ratio``, ``lower``,
        ``upper``, ``p_value``); a term without a finite ratio or interval is
        listed without a point, not dropped.
    reference
        The reference group, drawn at 1 and named in the axis label.
    labels
        The right-hand column, one per term (the formatted "HR [CI]  P").

    The axis is logarithmic, as ratios are: 0.5 and 2 lie as far from 1.
    """
    names = [str(t["term"]) for t in terms]
    fig = Figure(figsize=(width, 0.9 + 0.38 * max(len(terms), 1)), layout="constrained")
    ax = fig.add_subplot()
    finite = []
    for y, term in enumerate(terms):
        values = [term.get(k) for k in ("hazard_ratio", "lower", "upper")]
        if any(v is None or not np.isfinite(v) or v <= 0 for v in values):
            continue
        hr, low, high = values
        finite += [low, high]
        ax.plot([low, high], [y, y], color=PALETTE[0], linewidth=1.6)
        ax.plot([hr], [y], marker="s", markersize=6, color=PALETTE[0])
    ax.axvline(1, color="0.4", linewidth=0.9, linestyle="--")
    ax.set_xscale("log")
    low, high = (min(finite), max(finite)) if finite else (0.5, 2.0)
    low, high = min(low, 0.8), max(high, 1.25)
    ax.set_xlim(low / 1.15, high * 1.15)
    ticks = [t for t in FOREST_TICKS if low / 1.2 <= t <= high * 1.2]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_yticks(range(len(names)), names, fontsize=9)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel(
        f"Hazard ratio against {reference} ({conf_level * 100:g}% CI, log scale)",
        fontsize=9,
    )
    ax.spines[["top", "right"]].set_visible(False)
    if labels:
        right = ax.secondary_yaxis("right")
        right.set_yticks(range(len(labels)), list(labels), fontsize=9)
        right.tick_params(length=0)
        right.spines["right"].set_visible(False)
    return fig


__all__ = [
    "AT_RISK_GID",
    "PALETTE",
    "RENDERED",
    "Rendered",
    "RenderedFigures",
    "forest_figure",
    "km_figure",
    "p_text",
    "render",
]
