"""survival::colon, loaded through import_records, reports as R does.

The import files (docs/examples/import/colon/) and the expected numbers
(tests/fixtures/r/colon_report_output.txt) are written by
tests/fixtures/r/colon_import.R (R 4.2.2, survival 3.5-3) from R's own copy of the
trial: 929 patients; overall and recurrence-free survival by sex, in months,
log-log confidence intervals, survival at 12, 36 and 60 months, log-rank test and
Cox hazard ratio of men against women.
"""

import datetime
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import TestCase

from analytics import dataset
from analytics.reports import run_report
from analytics.spec import ReportSpec
from registry.models import Patient, Site

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "docs" / "examples" / "import" / "colon"
EXPECTED = ROOT / "tests" / "fixtures" / "r" / "colon_report_output.txt"
REL = 1e-6


def r_reference() -> dict[str, float | None]:
    values = {}
    for line in EXPECTED.read_text().splitlines():
        key, _, value = line.strip().rpartition(" ")
        values[key] = None if value == "NA" else float(value)
    return values


class ColonImportReportTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        Site.objects.create(code="NCCTG", name="North Central Cancer Treatment Group")
        cls.dry_run = io.StringIO()
        call_command(
            "import_records", str(FILES), "--site", "NCCTG", stdout=cls.dry_run
        )
        call_command(
            "import_records",
            str(FILES),
            "--site",
            "NCCTG",
            "--commit",
            stdout=io.StringIO(),
        )
        cls.r = r_reference()
        cls.reports = {
            endpoint: run_report(
                ReportSpec.from_dict(
                    {
                        "group_by": "sex",
                        "endpoint": endpoint,
                        "as_of": datetime.date(2000, 1, 1).isoformat(),
                        "conf_type": "log-log",
                        "times": [12, 36, 60],
                    }
                ),
                user=dataset.AllSites(),
            )
            for endpoint in ("os", "rfs")
        }

    def approx(self, value):
        return pytest.approx(value, rel=REL)

    def test_the_dry_run_is_clean(self):
        self.assertIn("Dry run: no problems in 4796 rows", self.dry_run.getvalue())
        self.assertEqual(Patient.objects.count(), 929)

    def test_counts_events_and_medians_match_r_survfit(self):
        for endpoint, report in self.reports.items():
            for group in report["groups"]:
                label = group["group"]
                key = f"{endpoint}|{{}}|{label}"
                with self.subTest(endpoint=endpoint, group=label):
                    self.assertEqual(group["n"], self.r[key.format("n")])
                    self.assertEqual(group["events"], self.r[key.format("events")])
                    for ours, theirs in (
                        ("estimate", "median"),
                        ("lower", "median_lower"),
                        ("upper", "median_upper"),
                    ):
                        expected = self.r[key.format(theirs)]
                        if expected is None:
                            self.assertIsNone(group["median"][ours])
                        else:
                            self.assertEqual(
                                group["median"][ours], self.approx(expected)
                            )

    def test_survival_at_12_36_60_months_matches_r_summary(self):
        for endpoint, report in self.reports.items():
            for group in report["groups"]:
                for mark in group["landmarks"]:
                    key = f"{endpoint}|{group['group']}|{mark['time']:g}"
                    with self.subTest(key=key):
                        self.assertEqual(
                            mark["survival"], self.approx(self.r[f"surv|{key}"])
                        )
                        self.assertEqual(
                            mark["lower"], self.approx(self.r[f"lower|{key}"])
                        )
                        self.assertEqual(
                            mark["upper"], self.approx(self.r[f"upper|{key}"])
                        )
                        self.assertEqual(mark["n_risk"], self.r[f"n_risk|{key}"])

    def test_logrank_and_hazard_ratio_match_r(self):
        for endpoint, report in self.reports.items():
            with self.subTest(endpoint=endpoint):
                logrank = report["logrank"]
                self.assertEqual(
                    logrank["statistic"],
                    self.approx(self.r[f"{endpoint}|logrank_chisq"]),
                )
                self.assertEqual(
                    logrank["p_value"], self.approx(self.r[f"{endpoint}|logrank_p"])
                )
                (term,) = report["cox"]["terms"]
                self.assertEqual(
                    term["hazard_ratio"], self.approx(self.r[f"{endpoint}|hr|Male"])
                )
                self.assertEqual(
                    term["lower"], self.approx(self.r[f"{endpoint}|hr_lower|Male"])
                )
                self.assertEqual(
                    term["upper"], self.approx(self.r[f"{endpoint}|hr_upper|Male"])
                )
