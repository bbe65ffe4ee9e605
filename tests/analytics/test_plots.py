"""Tests for analytics.plots: the Kaplan-Meier figure and its rendering.

The curves come from R's aml data (tests/fixtures/r/data/aml.csv); the numbers at
risk they must show are pinned to R in test_survival.py
(summary(fit, times = ticks, extend = TRUE)$n.risk), so here they only need to
equal ``KaplanMeier.at_risk`` at the plotted ticks.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import FillBetweenPolyCollection, PolyCollection

from analytics.plots import (
    AT_RISK_GID,
    MAX_CENSOR_MARKS,
    RenderedFigures,
    km_figure,
    render,
)
from analytics.survival import kaplan_meier, logrank

DATA = Path(__file__).resolve().parent.parent / "fixtures" / "r" / "data"


#: aml's follow-up reaches 161 weeks
AML_TICKS = [0, 30, 60, 90, 120, 150, 180]


def aml_figure(**kwargs):
    aml = pd.read_csv(DATA / "aml.csv")
    curves = kaplan_meier(aml, duration="time", event="status", group="x")
    result = logrank(aml, duration="time", event="status", group="x")
    kwargs.setdefault("ticks", AML_TICKS)
    return curves, km_figure(
        curves,
        time_unit="weeks",
        p_value=result.p_value,
        small_groups=result.small_groups,
        **kwargs,
    )


def at_risk_shown(fig) -> dict[str, list[tuple[float, int]]]:
    """Group -> [(tick, number shown)] read back from the figure's text artists."""
    shown: dict[str, list[tuple[float, int]]] = {}
    for ax in fig.axes:
        for text in ax.texts:
            gid = text.get_gid() or ""
            if gid.startswith(AT_RISK_GID + "|"):
                _, group, tick = gid.split("|")
                x, _ = text.get_position()
                assert x == float(tick)  # each count sits at its tick
                shown.setdefault(group, []).append((x, int(text.get_text())))
    return shown


class TestKaplanMeierFigure:
    @pytest.mark.parametrize(
        ("fmt", "magic"),
        [("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF-"), ("svg", b"<?xml")],
    )
    def test_figure_renders_to_each_format(self, fmt, magic):
        _, fig = aml_figure()
        data = render(fig, format=fmt)
        assert data.startswith(magic)
        assert len(data) > 5_000
        if fmt == "svg":
            assert b"<svg" in data[:2_000]

    def test_numbers_at_risk_shown_equal_at_risk_at_the_ticks(self):
        ticks = [0, 10, 20, 30, 40, 50]
        curves, fig = aml_figure(ticks=ticks)
        shown = at_risk_shown(fig)
        assert list(shown) == list(curves)
        for group, km in curves.items():
            assert [x for x, _ in shown[group]] == ticks
            assert [n for _, n in shown[group]] == km.at_risk(ticks)
        # aml by hand: Maintained 11 at 0; at 10 weeks 10 (one death at 9)
        assert shown["Maintained"][:2] == [(0, 11), (10, 10)]

    def test_at_risk_columns_align_with_the_time_axis_ticks(self):
        curves, fig = aml_figure()
        main, table = fig.axes
        ticks = list(main.get_xticks())
        assert ticks == AML_TICKS
        for group in curves:
            assert [x for x, _ in at_risk_shown(fig)[group]] == ticks
        fig.canvas.draw()  # columns share the main axis' x scale once laid out
        assert table.get_xlim() == main.get_xlim()

    def test_no_pyplot_figure_is_created(self):
        plt.close("all")
        assert plt.get_fignums() == []
        _, fig = aml_figure()
        render(fig, format="png")
        render(fig, format="svg")
        assert plt.get_fignums() == []

    def test_axis_labels_legend_and_p_value_are_written(self):
        curves, fig = aml_figure()
        main = fig.axes[0]
        assert main.get_xlabel() == "Time (weeks)"
        assert main.get_ylabel() == "Survival probability"
        legend = main.get_legend()
        labels = [t.get_text() for t in legend.get_texts()]
        assert labels == ["Maintained (n = 11)", "Nonmaintained (n = 12)"]
        # survdiff on aml: Chisq = 3.4 on 1 df, p = 0.07 (reference_printed.txt)
        assert legend.get_title().get_text() == "Log-rank P = .07"

    def test_small_groups_are_flagged_next_to_the_p_value(self):
        # edge.csv groups have 2 to 12 patients; aml's 11 and 12 are not flagged
        edge = pd.read_csv(DATA / "edge.csv")
        kwargs = {"duration": "time", "event": "status", "group": "grp"}
        result = logrank(edge, **kwargs)
        fig = km_figure(
            kaplan_meier(edge, **kwargs),
            ticks=[0, 5, 10],
            p_value=result.p_value,
            small_groups=result.small_groups,
        )
        heading = fig.axes[0].get_legend().get_title().get_text()
        assert "groups under 10 patients: P unstable" in heading
        _, fig = aml_figure()
        assert "unstable" not in fig.axes[0].get_legend().get_title().get_text()

    def test_curves_bands_and_censoring_marks_are_drawn(self):
        curves, fig = aml_figure()
        main = fig.axes[0]
        bands = [
            c
            for c in main.collections
            if isinstance(c, FillBetweenPolyCollection | PolyCollection)
        ]
        assert len(bands) == len(curves)
        lines = main.get_lines()
        steps = [ln for ln in lines if ln.get_drawstyle() == "steps-post"]
        assert len(steps) == len(curves)
        marks = [ln for ln in lines if ln.get_marker() == "+"]
        # aml censorings: Maintained at 13, 28, 45, 161; Nonmaintained at 16
        assert sorted(len(m.get_xdata()) for m in marks) == [1, 4]
        maintained = next(m for m in marks if len(m.get_xdata()) == 4)
        assert list(maintained.get_xdata()) == [13, 28, 45, 161]

    def test_thousands_of_censorings_are_marked_by_an_even_subsample(self):
        # 2,000 patients censored at distinct times: marks are thinned to at most
        # MAX_CENSOR_MARKS, spread from the first censoring to the last.
        times = np.arange(1, 2001, dtype=float)
        frame = pd.DataFrame({"time": times, "status": times % 3 == 0})
        curves = kaplan_meier(frame, duration="time", event="status")
        fig = km_figure(curves, ticks=[0, 1000, 2000], risk_table=False, show_ci=False)
        [marks] = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "+"]
        x = marks.get_xdata()
        assert len(x) == MAX_CENSOR_MARKS
        assert (x[0], x[-1]) == (1.0, 2000.0)

    def test_step_curve_starts_at_one_and_follows_the_estimate(self):
        curves, fig = aml_figure(show_ci=False)
        step = fig.axes[0].get_lines()[0]
        km = curves["Maintained"]
        assert list(step.get_xdata()) == [0.0, *km.time]
        np.testing.assert_array_equal(step.get_ydata(), [1.0, *km.survival])

    def test_figure_without_table_or_p_value(self):
        aml = pd.read_csv(DATA / "aml.csv")
        curves = kaplan_meier(aml, duration="time", event="status")
        fig = km_figure(curves, ticks=AML_TICKS, risk_table=False, show_censors=False)
        assert len(fig.axes) == 1
        assert fig.axes[0].get_legend().get_title().get_text() == ""
        assert render(fig, format="png").startswith(b"\x89PNG")

    @pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
    def test_the_same_figure_renders_to_the_same_bytes_without_versions(self, fmt):
        _, fig = aml_figure()
        data = render(fig, format=fmt)
        assert data == render(fig, format=fmt)
        assert matplotlib.__version__.encode() not in data

    def test_unknown_formats_and_empty_input_are_refused(self):
        _, fig = aml_figure()
        with pytest.raises(ValueError, match="format"):
            render(fig, format="gif")
        with pytest.raises(ValueError, match="no curves"):
            km_figure({}, ticks=AML_TICKS)


class TestRenderedFigures:
    """A figure is drawn once per process for what it is drawn from."""

    def draw_counting(self, drawn: list, **kwargs):
        def draw():
            drawn.append(1)
            return aml_figure(**kwargs)[1]

        return draw

    def test_the_same_figure_is_drawn_once_and_served_as_drawn(self):
        figures, drawn = RenderedFigures(), []
        first = figures.get(["aml"], self.draw_counting(drawn), format="png", dpi=72)
        again = figures.get(["aml"], self.draw_counting(drawn), format="png", dpi=72)
        assert len(drawn) == 1
        assert again == first
        assert first.content == render(aml_figure()[1], format="png", dpi=72)
        assert (first.width, first.height) == (7.0, 5.5)

    def test_other_data_a_format_or_a_resolution_is_drawn_again(self):
        figures, drawn = RenderedFigures(), []
        png = figures.get(["aml"], self.draw_counting(drawn), format="png", dpi=72)
        titled = figures.get(
            ["aml", "titled"],
            self.draw_counting(drawn, title="AML"),
            format="png",
            dpi=72,
        )
        svg = figures.get(["aml"], self.draw_counting(drawn), format="svg", dpi=72)
        sharper = figures.get(["aml"], self.draw_counting(drawn), format="png", dpi=90)
        assert len(drawn) == 4
        assert len({png.content, titled.content, svg.content, sharper.content}) == 4

    def test_the_least_recently_used_figures_go_past_the_limit(self):
        one = render(aml_figure()[1], format="png", dpi=72)
        figures, drawn = RenderedFigures(max_bytes=int(len(one) * 2.5)), []
        for name in ("a", "b", "a", "c"):  # "a" used again: "b" is the oldest
            figures.get([name], self.draw_counting(drawn), format="png", dpi=72)
        assert len(drawn) == 3
        figures.get(["a"], self.draw_counting(drawn), format="png", dpi=72)
        figures.get(["c"], self.draw_counting(drawn), format="png", dpi=72)
        assert len(drawn) == 3
        figures.get(["b"], self.draw_counting(drawn), format="png", dpi=72)
        assert len(drawn) == 4

    def test_a_figure_larger_than_the_limit_is_served_but_not_kept(self):
        figures, drawn = RenderedFigures(max_bytes=100), []
        for _ in range(2):
            made = figures.get(["aml"], self.draw_counting(drawn), format="png", dpi=72)
            assert made.content.startswith(b"\x89PNG")
        assert len(drawn) == 2

    def test_numpy_numbers_in_what_it_is_drawn_from_are_keys_too(self):
        # a live result (the report command's) may hold numpy's numbers
        figures, drawn = RenderedFigures(), []
        for _ in range(2):
            figures.get(
                ["aml", np.int64(3), np.float64(0.5)],
                self.draw_counting(drawn),
                format="png",
                dpi=72,
            )
        assert len(drawn) == 1
