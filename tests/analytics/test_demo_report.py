"""The demo cohort's report agrees with R's survival package, number by number.

Expected numbers: tests/fixtures/r/demo_report_output.txt, printed by
tests/fixtures/r/demo_report.R (R 4.2.2, survival 3.5-3) from the demo cohort's
analysis rows in tests/fixtures/r/data/demo_cohort.csv.
"""

import datetime
import io
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.test import TestCase

from analytics import dataset
from analytics.reports import run_report
from analytics.spec import ReportSpec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "r"
CUTOFF = datetime.date(2009, 12, 31)
REL = 1e-6


def r_reference() -> dict[str, float | None]:
    values = {}
    for line in (FIXTURES / "demo_report_output.txt").read_text().splitlines():
        key, _, value = line.strip().rpartition(" ")
        values[key] = None if value == "NA" else float(value)
    return values


class DemoReportAgainstRTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("seed_demo", stdout=io.StringIO())
        cls.r = r_reference()
        spec = ReportSpec.from_dict(
            {"as_of": CUTOFF.isoformat(), "conf_type": "log-log", "times": [12, 24, 36]}
        )
        cls.report = run_report(spec, user=dataset.AllSites())
        cls.groups = {g["group"]: g for g in cls.report["groups"]}

    def approx(self, value):
        return pytest.approx(value, rel=REL)

    def test_fixture_rows_are_the_current_demo_cohort(self):
        frame = dataset.patient_frame(
            dataset.cohort_queryset(dataset.AllSites(), dataset.Cohort()),
            group="strategy",
            as_of=CUTOFF,
        ).sort_values("registry_number")
        fixture = pd.read_csv(FIXTURES / "data" / "demo_cohort.csv")
        self.assertEqual(
            list(frame["registry_number"]), list(fixture["registry_number"])
        )
        self.assertEqual(list(frame["group"].astype(str)), list(fixture["group"]))
        self.assertEqual(list(frame["days"].astype(int)), list(fixture["days"]))
        self.assertEqual(list(frame["event"].astype(int)), list(fixture["event"]))

    def test_counts_by_strategy_are_30_13_22_9(self):
        counts = [(g["group"], g["n"]) for g in self.report["groups"]]
        self.assertEqual(
            counts,
            [
                ("Synchronous resection", 30),
                ("Staged resection", 13),
                ("Primary only", 22),
                ("No resection", 9),
            ],
        )

    def test_medians_and_confidence_limits_match_r_survfit(self):
        for label, group in self.groups.items():
            with self.subTest(group=label):
                self.assertEqual(group["events"], self.r[f"events|{label}"])
                for ours, theirs in (
                    ("estimate", "median"),
                    ("lower", "median_lower"),
                    ("upper", "median_upper"),
                ):
                    expected = self.r[f"{theirs}|{label}"]
                    if expected is None:
                        self.assertIsNone(group["median"][ours])
                    else:
                        self.assertEqual(group["median"][ours], self.approx(expected))

    def test_survival_at_landmark_times_matches_r_summary(self):
        for label, group in self.groups.items():
            for mark in group["landmarks"]:
                key = f"{label}|{mark['time']:g}"
                with self.subTest(key=key):
                    self.assertEqual(
                        mark["survival"], self.approx(self.r[f"surv|{key}"])
                    )
                    self.assertEqual(mark["lower"], self.approx(self.r[f"lower|{key}"]))
                    self.assertEqual(mark["upper"], self.approx(self.r[f"upper|{key}"]))
                    self.assertEqual(mark["n_risk"], self.r[f"n_risk|{key}"])

    def test_logrank_overall_and_pairwise_holm_match_r_survdiff(self):
        logrank = self.report["logrank"]
        self.assertEqual(logrank["statistic"], self.approx(self.r["logrank_chisq"]))
        self.assertEqual(logrank["p_value"], self.approx(self.r["logrank_p"]))
        for pair in self.report["pairwise"]:
            key = f"{pair['group_a']}|{pair['group_b']}"
            with self.subTest(pair=key):
                self.assertEqual(pair["p_value"], self.approx(self.r[f"pair_p|{key}"]))
                self.assertEqual(
                    pair["p_holm"], self.approx(self.r[f"pair_holm|{key}"])
                )

    def test_hazard_ratios_match_r_coxph(self):
        terms = {t["term"]: t for t in self.report["cox"]["terms"]}
        for label in ("Staged resection", "Primary only", "No resection"):
            with self.subTest(group=label):
                term = terms[label]
                self.assertEqual(
                    term["hazard_ratio"], self.approx(self.r[f"hr|{label}"])
                )
                self.assertEqual(
                    term["lower"], self.approx(self.r[f"hr_lower|{label}"])
                )
                self.assertEqual(
                    term["upper"], self.approx(self.r[f"hr_upper|{label}"])
                )
                self.assertEqual(term["p_value"], self.approx(self.r[f"hr_p|{label}"]))
        zph = {t["term"]: t for t in self.report["cox"]["ph_test"]}
        self.assertEqual(
            zph["GLOBAL"]["statistic"], self.approx(self.r["zph_global_chisq"])
        )
        self.assertEqual(zph["GLOBAL"]["p_value"], self.approx(self.r["zph_global_p"]))

    def test_median_follow_up_by_reverse_km_and_range_match_r(self):
        follow = self.report["followup"]
        self.assertEqual(follow["median"], self.approx(self.r["followup_median"]))
        self.assertEqual(follow["lower"], self.approx(self.r["followup_lower"]))
        self.assertEqual(follow["upper"], self.approx(self.r["followup_upper"]))
        self.assertEqual(follow["minimum"], self.approx(self.r["followup_min"]))
        self.assertEqual(follow["maximum"], self.approx(self.r["followup_max"]))

    def test_two_year_survival_without_liver_resection_matches_r(self):
        subgroup = next(
            s for s in self.report["subgroups"] if s["field"] == "liver_resected"
        )
        no = next(level for level in subgroup["levels"] if level["group"] == "No")
        mark = next(m for m in no["landmarks"] if m["time"] == 24)
        self.assertEqual(mark["survival"], self.approx(self.r["no_liver_surv_24"]))
        self.assertEqual(mark["lower"], self.approx(self.r["no_liver_lower_24"]))
        self.assertEqual(mark["upper"], self.approx(self.r["no_liver_upper_24"]))

    def test_liver_extent_predicts_resection_as_in_r(self):
        association = self.report["associations"][0]
        tests = {t["name"]: t for t in association["tests"]}
        self.assertEqual(
            tests["Fisher's exact test"]["p_value"],
            self.approx(self.r["extent_fisher_p"]),
        )
        trend = tests["Chi-square test for trend"]
        self.assertEqual(trend["statistic"], self.approx(self.r["extent_trend_chisq"]))
        self.assertEqual(trend["p_value"], self.approx(self.r["extent_trend_p"]))

    def test_report_carries_the_study_paragraphs_facts(self):
        events = self.report["events"]
        self.assertEqual(events["liver_resected"]["n"], 43)
        self.assertEqual(events["converted"]["n"], 19)
        self.assertEqual(
            events["later_palliative_unresected_primary"], {"n": 6, "of": 9}
        )
        self.assertIn("Immortal-time bias", self.report["warnings"][0])
        text = self.report["results"]
        self.assertIn("Median overall survival was 47 vs 47 vs 32 vs 22 months", text)
        self.assertIn("P = .20", text)
        self.assertIn("Without liver resection, 24-month survival was 59%", text)
        self.assertIn("6 of 9 patients whose primary was not resected", text)


class DemoFollowUpConfidenceIntervalTests(TestCase):
    """Median follow-up takes the report's conf_type and conf_level.

    Expected: followup_<median|lower|upper>|<conf.type>|<level> in
    demo_report_output.txt, R's ``survfit(Surv(time, 1 - event) ~ 1, conf.type =,
    conf.int =)`` on the demo cohort (demo_report.R). The log interval's upper
    limit (54.5) differs from the log-log one (53.2) that was given whatever the
    report asked.
    """

    @classmethod
    def setUpTestData(cls):
        call_command("seed_demo", stdout=io.StringIO())
        cls.r = r_reference()

    def run_report(self, conf_type: str, conf_level: float):
        spec = ReportSpec.from_dict(
            {
                "as_of": CUTOFF.isoformat(),
                "conf_type": conf_type,
                "conf_level": conf_level,
                "baseline": [],
                "associations": [],
                "subgroups": [],
            }
        )
        return run_report(spec, user=dataset.AllSites())

    def test_follow_up_interval_matches_r_for_each_type_and_level(self):
        for conf_type in ("log", "log-log", "plain"):
            for level in (0.9, 0.95):
                with self.subTest(conf_type=conf_type, level=level):
                    follow = self.run_report(conf_type, level)["followup"]
                    key = f"|{conf_type}|{level}"
                    for ours in ("median", "lower", "upper"):
                        self.assertEqual(
                            follow[ours],
                            pytest.approx(self.r[f"followup_{ours}{key}"], rel=REL),
                        )
                    self.assertEqual(
                        (follow["conf_type"], follow["conf_level"]), (conf_type, level)
                    )

    def test_methods_paragraph_names_the_follow_up_interval(self):
        methods = self.run_report("log", 0.9)["methods"]
        self.assertIn(
            "Median follow-up was estimated by the reverse Kaplan-Meier method (the "
            "end of follow-up as the event, death as censoring), with its 90% "
            "confidence interval by the log transformation.",
            methods,
        )
        self.assertIn("90% confidence intervals used the log transformation", methods)
