"""The report's competing-risks section: numbers, text, figure, table, masking.

The numbers of the demo cohort's section are pinned to R: competing.R runs
``cmprsk::cuminc`` and ``cmprsk::timepoints`` on the demo cohort's rows as the
registry codes them (tests/fixtures/r/data/demo_competing.csv, written by
tests/fixtures/r/export_demo_competing.py after ``seed_demo``), and the CI with
``survival:::survfit_confint(est, sqrt(var), logse = FALSE, "log-log")``. The
first test checks the fixture rows are the demo cohort the report reads.
"""

from __future__ import annotations

import datetime
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.db import connection
from django.test import SimpleTestCase, TestCase
from django.test.utils import CaptureQueriesContext

from analytics import dataset, disclosure, export, plots
from analytics.reports import run_report
from analytics.spec import InvalidSpec, ReportSpec
from analytics.text import competing_results, methods_text
from registry.choices import Endpoint
from registry.models import Death
from tests.analytics.r_reference import FIXTURES
from tests.analytics.test_competing import r_case
from tests.factories import make_death, make_full_patient, make_site

CUTOFF = datetime.date(2009, 12, 31)
STRATEGIES = [
    "Synchronous resection",
    "Staged resection",
    "Primary only",
    "No resection",
]
#: The report's table times on the demo cohort (tick_times without 0) = competing.R's
TIMES = [12.0, 24.0, 36.0, 48.0, 60.0]


def report(**spec):
    spec.setdefault("as_of", CUTOFF.isoformat())
    return run_report(ReportSpec.from_dict(spec), user=dataset.AllSites())


def coded(endpoint: Endpoint) -> pd.DataFrame:
    """The demo cohort as export_demo_competing.py codes it for cuminc."""
    frame = dataset.patient_frame(
        dataset.cohort_queryset(dataset.AllSites(), dataset.Cohort()),
        group="strategy",
        endpoint=endpoint,
        as_of=CUTOFF,
    ).sort_values("registry_number")
    status = frame["competing"].astype(int) * 2 + (
        frame["event"] & ~frame["competing"]
    ).astype(int)
    return pd.DataFrame(
        {
            "registry_number": frame["registry_number"].to_numpy(),
            "days": frame["days"].astype(int).to_numpy(),
            "status": status.to_numpy(),
        }
    )


class DemoCompetingRisksAgainstRTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("seed_demo", stdout=io.StringIO())
        cls.result = report(competing_risks=True, endpoint="css").to_dict()
        cls.section = cls.result["competing_risks"]

    def analysis(self, event):
        return next(a for a in self.section["analyses"] if a["event"] == event)

    def test_fixture_rows_are_the_current_demo_cohort(self):
        fixture = pd.read_csv(FIXTURES / "data" / "demo_competing.csv")
        for name, endpoint in (
            ("rfs", Endpoint.RECURRENCE_FREE),
            ("css", Endpoint.CANCER_SPECIFIC),
        ):
            rows = coded(endpoint)
            self.assertEqual(
                list(rows["registry_number"]), list(fixture["registry_number"])
            )
            self.assertEqual(list(rows["days"]), list(fixture[f"days_{name}"]))
            self.assertEqual(list(rows["status"]), list(fixture[f"status_{name}"]))

    def test_cumulative_incidence_and_limits_equal_cuminc(self):
        for event, case in (("recurrence", "demo_rfs"), ("cancer_death", "demo_css")):
            r = r_case(case)
            analysis = self.analysis(event)
            self.assertEqual(analysis["times"], TIMES)
            self.assertEqual([g["group"] for g in analysis["groups"]], STRATEGIES)
            for g in analysis["groups"]:
                name = f"{g['group']} 1"
                with self.subTest(event=event, group=g["group"]):
                    at = g["at"]
                    estimate = [
                        np.nan if p["estimate"] is None else p["estimate"] for p in at
                    ]
                    variance = [
                        np.nan if p["std_err"] is None else p["std_err"] ** 2
                        for p in at
                    ]
                    lower = [np.nan if p["lower"] is None else p["lower"] for p in at]
                    upper = [np.nan if p["upper"] is None else p["upper"] for p in at]
                    tight = {"rel": 1e-9, "abs": 1e-12, "nan_ok": True}
                    assert estimate == pytest.approx(r[f"{name}|at.est"], **tight)
                    assert variance == pytest.approx(r[f"{name}|at.var"], **tight)
                    key = "log-log|0.95"
                    assert lower == pytest.approx(r[f"{name}|at.lower|{key}"], **tight)
                    assert upper == pytest.approx(r[f"{name}|at.upper|{key}"], **tight)

    def test_gray_tests_equal_cuminc(self):
        rfs, css = r_case("demo_rfs"), r_case("demo_css")
        recurrence = self.analysis("recurrence")
        assert recurrence["gray"]["statistic"] == pytest.approx(rfs["tests|stat"][0])
        assert recurrence["gray"]["p_value"] == pytest.approx(rfs["tests|pv"][0])
        self.assertEqual(recurrence["gray"]["df"], 3)
        # no death without recurrence in the demo: cuminc has no cause 2 to test
        self.assertEqual(rfs["tests|cause"], ["1"])
        self.assertIsNone(recurrence["gray_competing"]["p_value"])
        death = self.analysis("cancer_death")
        assert [death["gray"]["statistic"], death["gray_competing"]["statistic"]] == (
            pytest.approx(list(css["tests|stat"]))
        )
        assert [death["gray"]["p_value"], death["gray_competing"]["p_value"]] == (
            pytest.approx(list(css["tests|pv"]))
        )

    def test_counts_of_events_and_competing_deaths(self):
        fixture = pd.read_csv(FIXTURES / "data" / "demo_competing.csv")
        death = self.analysis("cancer_death")
        self.assertEqual(
            sum(g["events"] for g in death["groups"]),
            int((fixture["status_css"] == 1).sum()),
        )
        self.assertEqual(
            sum(g["competing"] for g in death["groups"]),
            int((fixture["status_css"] == 2).sum()),
        )

    def test_methods_name_aalen_johansen_and_gray(self):
        methods = self.result["methods"]
        self.assertIn("Aalen-Johansen", methods)
        self.assertIn("Gray's test", methods)
        self.assertIn("death without recurrence as the competing event", methods)
        self.assertIn(
            "Deaths from other or unknown causes were censored at the date of death",
            methods,
        )

    def test_results_follow_from_grays_test(self):
        # cancer death: Gray's P = .52, not significant at the report's 5%
        self.assertIn(
            "cumulative incidence of death from colorectal cancer was 52% vs 47% vs "
            "54% vs 74%",
            self.result["results"],
        )
        self.assertIn(
            "it did not differ significantly between the groups (Gray's test, P = .52)",
            self.result["results"],
        )

    def test_follow_up_under_css_ends_at_any_death(self):
        # reverse Kaplan-Meier censors every death: other-cause deaths included
        overall = report(endpoint="os").to_dict()
        self.assertEqual(self.result["followup"], overall["followup"])

    def test_without_the_option_there_is_no_section_and_no_extra_query(self):
        with CaptureQueriesContext(connection) as plain:
            result = report(endpoint="css")
        with CaptureQueriesContext(connection) as competing:
            report(endpoint="css", competing_risks=True)
        self.assertIsNone(result["competing_risks"])
        # two counted tables and the deaths of unknown cause
        self.assertEqual(len(competing) - len(plain), 3)

    def test_figure_has_a_panel_per_event_and_a_curve_per_group(self):
        figure = plots.competing_figure(self.section, time_unit="months")
        axes = figure.get_axes()
        self.assertEqual(len(axes), 2)
        for ax in axes:
            self.assertEqual(len(ax.get_lines()), len(STRATEGIES))
            self.assertIn("Gray's test P = ", ax.get_legend().get_title().get_text())
        self.assertTrue(
            export.competing_rendered(self.result, "png").content.startswith(b"\x89PNG")
        )

    def test_csv_table_holds_each_time_and_the_tests(self):
        table = export.competing_table(self.result)
        estimates = table[table["group"] != "Gray's test"]
        self.assertEqual(len(estimates), 2 * len(STRATEGIES) * len(TIMES))
        self.assertEqual(len(table) - len(estimates), 4)
        csv = export.to_csv(self.result, "competing")
        self.assertIn("cumulative incidence", csv.splitlines()[0])

    def test_report_command_accepts_the_option(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "spec.json"
            path.write_text(
                json.dumps({"as_of": CUTOFF.isoformat(), "competing_risks": True})
            )
            out = io.StringIO()
            call_command("report", "--spec", str(path), stdout=out)
        data = json.loads(out.getvalue())
        self.assertEqual(len(data["competing_risks"]["analyses"]), 2)
        self.assertTrue(data["spec"]["competing_risks"])


class CompetingQueriesTests(TestCase):
    def test_the_section_reads_a_fixed_number_of_queries(self):
        site = make_site()
        counts = []
        for size in (4, 12):
            while (
                dataset.cohort_queryset(dataset.AllSites(), dataset.Cohort()).count()
                < size
            ):
                patient = make_full_patient(site=site)
                make_death(patient, cause="other" if size % 2 else "colorectal")
            with CaptureQueriesContext(connection) as queries:
                report(competing_risks=True, **{"baseline": [], "subgroups": []})
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1])

    def test_a_change_of_cause_of_death_changes_the_fingerprint(self):
        site = make_site()
        for cause in ("colorectal", "other", "colorectal"):
            make_death(make_full_patient(site=site), cause=cause)
        before = report(competing_risks=True).fingerprint
        death = Death.objects.filter(cause="other").get()
        death.cause = "colorectal"
        death.save()
        self.assertNotEqual(report(competing_risks=True).fingerprint, before)

    def test_deaths_of_unknown_cause_are_counted_and_said(self):
        site = make_site()
        for cause in ("colorectal", "unknown", "colorectal"):
            make_death(make_full_patient(site=site), cause=cause)
        result = report(competing_risks=True, group_by="sex")
        self.assertEqual(result["competing_risks"]["deaths_unknown_cause"], 1)
        self.assertIn(
            "1 death of unknown cause was counted with the other causes",
            result["results"],
        )


class CompetingSpecTests(SimpleTestCase):
    def test_option_round_trips_and_defaults_to_off(self):
        spec = ReportSpec.from_dict({"competing_risks": True})
        self.assertTrue(spec.competing_risks)
        self.assertEqual(ReportSpec.from_dict(spec.to_dict()), spec)
        self.assertFalse(ReportSpec.from_dict({}).competing_risks)

    def test_not_a_boolean_is_refused_with_its_field(self):
        with self.assertRaises(InvalidSpec) as caught:
            ReportSpec.from_dict({"competing_risks": "yes"})
        self.assertEqual(
            caught.exception.errors,
            ["competing_risks: expected true or false, got 'yes'"],
        )

    def test_landmark_index_is_refused(self):
        with self.assertRaises(InvalidSpec) as caught:
            ReportSpec.from_dict(
                {"competing_risks": True, "index": "landmark", "landmark": 12}
            )
        self.assertIn(
            "competing_risks: not available with the landmark index",
            caught.exception.errors[0],
        )

    def test_css_is_an_endpoint(self):
        self.assertEqual(ReportSpec.from_dict({"endpoint": "css"}).endpoint, "css")


def section(p_value, *, groups=("A", "B")):
    """A competing-risks section of one analysis, with Gray's P = `p_value`."""
    return {
        "analyses": [
            {
                "event": "cancer_death",
                "label": "death from colorectal cancer",
                "competing_label": "death from other causes",
                "times": [12.0, 24.0],
                "groups": [
                    {
                        "group": g,
                        "n": 20,
                        "events": 5,
                        "competing": 2,
                        "at": [
                            {
                                "time": 12.0,
                                "estimate": 0.1 * (i + 1),
                                "estimable": True,
                            },
                            {"time": 24.0, "estimate": None, "estimable": False},
                        ],
                        "curve": {"time": [3.0], "estimate": [0.1], "last_time": 20.0},
                    }
                    for i, g in enumerate(groups)
                ],
                "gray": None
                if p_value is None
                else {
                    "statistic": 1.0,
                    "df": 1,
                    "p_value": p_value,
                    "groups": list(groups),
                },
                "gray_competing": None,
            }
        ],
        "conf_type": "log-log",
        "conf_level": 0.95,
        "deaths_unknown_cause": 0,
    }


class CompetingResultsTextTests(SimpleTestCase):
    def text(self, p_value, conf_level=0.95, **options):
        spec = ReportSpec.from_dict(
            {"as_of": "2009-12-31", "conf_level": conf_level, "competing_risks": True}
        )
        return " ".join(competing_results(spec, section(p_value, **options)))

    def test_significant_test_says_the_groups_differ(self):
        text = self.text(0.01)
        self.assertIn(
            "12-month cumulative incidence of death from colorectal cancer", text
        )
        self.assertIn("was 10% vs 20% (A, B); it differed significantly", text)
        self.assertIn("(Gray's test, P = .01)", text)

    def test_not_significant_test_says_so(self):
        text = self.text(0.4)
        self.assertIn("it did not differ significantly between the groups", text)
        self.assertNotIn("differed significantly", text)

    def test_the_level_is_the_reports(self):
        self.assertIn("it differed significantly", self.text(0.07, conf_level=0.9))
        self.assertIn("did not differ", self.text(0.07, conf_level=0.95))

    def test_without_a_test_no_difference_is_claimed(self):
        text = self.text(None)
        self.assertIn("was 10% vs 20% (A, B).", text)
        self.assertNotIn("differ", text)

    def test_one_group_gives_its_value_alone(self):
        self.assertEqual(
            self.text(None, groups=("All",)),
            "The 12-month cumulative incidence of death from colorectal cancer "
            "was 10%.",
        )

    def test_methods_mention_the_section_only_when_run(self):
        spec = ReportSpec.from_dict({"as_of": "2009-12-31"})
        base = {"grouping": {"label": "Sex"}, "cox": None, "baseline": {"rows": []}}
        base["associations"] = []
        self.assertNotIn("Aalen-Johansen", methods_text(spec, base))
        with_section = {**base, "competing_risks": section(0.5)}
        self.assertIn("Aalen-Johansen", methods_text(spec, with_section))


class CompetingDisclosureTests(SimpleTestCase):
    def test_hidden_group_and_small_counts_are_masked(self):
        data = {
            "groups": [{"group": "A", "n": 20}, {"group": "B", "n": 3}],
            "competing_risks": section(0.3),
        }
        masked, _ = disclosure.mask_result(data, min_cell=5)
        analysis = masked["competing_risks"]["analyses"][0]
        self.assertEqual([g["group"] for g in analysis["groups"]], ["A"])
        self.assertEqual(analysis["groups"][0]["competing"], "<5")
        self.assertEqual(analysis["groups"][0]["n"], 20)
        # the test was computed with the hidden group: not shown
        self.assertIsNone(analysis["gray"])
        self.assertEqual(masked["competing_risks"]["deaths_unknown_cause"], "<5")
        again, _ = disclosure.mask_result(masked, min_cell=5)
        self.assertEqual(again["competing_risks"], masked["competing_risks"])
