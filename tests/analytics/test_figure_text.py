"""User text in figures and the PDF report is drawn literally, never as math.

matplotlib reads text between two "$" as math (TeX-like): a report titled
"Cost $5 vs $10" lost its dollars, and one with "$\\cost$" or "$x^$" failed to
render at all, so every download of it answered 500.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from django.core.management import call_command
from django.urls import reverse

from analytics.plots import km_figure, render
from analytics.survival import kaplan_meier
from registry.models import Site
from tests.analytics.documents import pdf_text
from tests.cast import CastTestCase

DATA = Path(__file__).resolve().parent.parent / "fixtures" / "r" / "data"
DOLLARS = "Cost $5 vs $10"
#: not valid math text: matplotlib raised ValueError drawing them
BROKEN = ("Unknown $\\cost$ macro", "Power $x^$")
#: SVG text as <text> elements and PDF streams uncompressed, so tests can read them
READABLE = {"svg.fonttype": "none", "pdf.compression": 0}


def pdf_lines(pdf: bytes) -> list[str]:
    """Return the text of each text object (BT ... ET) of an uncompressed PDF."""
    strings = (
        b"".join(re.findall(rb"\(((?:[^()\\]|\\.)*)\)", block))
        for block in re.findall(rb"BT\n(.*?)\nET", pdf, flags=re.S)
    )
    return [re.sub(rb"\\(.)", rb"\1", s).decode("latin-1") for s in strings]


def dollar_figure(title: str):
    aml = pd.read_csv(DATA / "aml.csv")
    aml["x"] = aml["x"].map({"Maintained": f"{DOLLARS} arm", "Nonmaintained": title})
    curves = kaplan_meier(aml, duration="time", event="status", group="x")
    return km_figure(
        curves,
        ticks=[0, 50, 100, 150],
        time_unit="weeks $",
        y_label="Survival $",
        title=title,
    )


class TestFigureText:
    @pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
    @pytest.mark.parametrize("title", [DOLLARS, *BROKEN])
    def test_titles_labels_and_groups_with_dollars_render_in_every_format(
        self, fmt, title
    ):
        data = render(dollar_figure(title), format=fmt)
        assert len(data) > 5_000

    def test_svg_shows_the_dollars_of_title_group_and_axis_labels(self):
        with matplotlib.rc_context(READABLE):
            svg = render(dollar_figure(DOLLARS), format="svg").decode()
        for text in (DOLLARS, f"{DOLLARS} arm (n = 11)", "Time (weeks $)"):
            assert f">{text}<" in svg
        assert ">Survival $<" in svg

    def test_pdf_shows_the_dollars_of_title_and_groups(self):
        with matplotlib.rc_context(READABLE):
            lines = pdf_lines(render(dollar_figure(DOLLARS), format="pdf"))
        assert DOLLARS in lines
        assert f"{DOLLARS} arm (n = 11)" in lines


class ReportTitleWithDollarsTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        call_command("seed_demo", stdout=io.StringIO())
        for site in Site.objects.filter(is_synthetic=True):
            site.members.add(cls.ann)

    def setUp(self):
        self.client.force_login(self.ann)

    def download(self, fmt: str, name: str):
        query = {
            "name": name,
            "group_by": "strategy",
            "endpoint": "os",
            "index": "diagnosis",
            "time_unit": "months",
            "times": "12, 24",
            "conf_type": "log-log",
            "conf_level": "0.95",
            "as_of": "2009-12-31",
            "contents": "survival",
        }
        with matplotlib.rc_context(READABLE):
            return self.client.get(
                reverse("analytics:report_download", args=[fmt]), query
            )

    def test_every_figure_format_and_the_pdf_report_render_such_a_title(self):
        for fmt in ("png", "svg", "pdf", "report.pdf"):
            for name in (DOLLARS, *BROKEN):
                with self.subTest(fmt=fmt, name=name):
                    self.assertEqual(self.download(fmt, name).status_code, 200)

    def test_pdf_report_shows_the_title_with_its_dollars(self):
        pdf = self.download("report.pdf", DOLLARS).content
        lines = pdf_text(pdf).splitlines()
        self.assertTrue(any(line.startswith(DOLLARS) for line in lines))
