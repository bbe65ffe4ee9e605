"""run_report on the demo cohort: warnings, landmark analysis, clear errors."""

import datetime
import io
import math

import numpy as np
from django.core.management import call_command
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from analytics import dataset, export
from analytics.plots import p_text
from analytics.reports import (
    ReportError,
    needs_rows,
    run_report,
    weighted_quantile,
)
from analytics.spec import InvalidSpec, ReportSpec
from analytics.text import methods_text
from tests.factories import (
    make_death,
    make_full_patient,
    make_patient,
    make_site,
    make_tumour,
)

CUTOFF = "2009-12-31"
#: A report of survival alone: no baseline table, associations or subgroups.
SURVIVAL_ONLY = {"baseline": [], "associations": [], "subgroups": []}
#: The sections a survival-only report shares with the full one.
SURVIVAL_SECTIONS = (
    "cohort",
    "groups",
    "at_risk",
    "logrank",
    "pairwise",
    "cox",
    "followup",
    "events",
    "suggested_landmark",
    "warnings",
)


def report(**spec):
    spec.setdefault("as_of", CUTOFF)
    return run_report(ReportSpec.from_dict(spec), user=dataset.AllSites())


def assert_close(a, b, where="report"):
    """Assert two JSON-like values are equal, floats to 1e-9 relative."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (where, a, b)
    else:
        assert a == b, (where, a, b)


class ReportOnDemoCohortTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("seed_demo", stdout=io.StringIO())

    def test_grouping_by_a_later_event_warns_of_immortal_time_bias(self):
        result = report()
        self.assertTrue(result["warnings"][0].startswith("Immortal-time bias"))
        self.assertEqual(result["suggested_landmark"], 12.0)

    def test_grouping_by_a_baseline_field_gives_no_immortal_time_warning(self):
        result = report(group_by="sex")
        self.assertFalse(any("Immortal" in w for w in result["warnings"]))
        self.assertIsNone(result["suggested_landmark"])

    def test_landmark_analysis_restarts_the_clock_and_counts_exclusions(self):
        full = report()
        landmark = report(index="landmark", landmark=12)
        info = landmark["landmark_analysis"]
        excluded = sum(info["excluded"].values())
        self.assertEqual(info["included"] + excluded, full["cohort"]["analysed"])
        self.assertEqual(landmark["cohort"]["analysed"], info["included"])
        self.assertGreater(
            info["excluded"]["died (or had the event) by the landmark"], 0
        )
        self.assertFalse(any("Immortal" in w for w in landmark["warnings"]))
        # Every patient kept was followed beyond the landmark: the restarted
        # clock is the full time minus 12 months.
        self.assertLessEqual(
            landmark["followup"]["maximum"], full["followup"]["maximum"] - 12 + 1e-9
        )

    def test_landmark_beyond_follow_up_is_a_clear_error(self):
        with self.assertRaises(ReportError) as caught:
            report(index="landmark", landmark=120)
        self.assertIn(
            "landmark: 120 months is beyond the longest follow-up",
            caught.exception.errors[0],
        )

    def test_survival_beyond_follow_up_is_flagged_not_invented(self):
        result = report(times=[24, 72])
        self.assertIn(
            "Survival at 72 months is not estimable", " ".join(result["warnings"])
        )
        mark = result["groups"][0]["landmarks"][1]
        self.assertEqual((mark["estimable"], mark["survival"]), (False, None))

    def test_empty_cohort_is_a_clear_error(self):
        with self.assertRaises(ReportError) as caught:
            report(cohort={"diagnosed_from": "2020-01-01"})
        self.assertIn("no patients match", caught.exception.errors[0])

    def test_unknown_site_is_a_clear_error(self):
        with self.assertRaises(ReportError) as caught:
            report(cohort={"sites": ["ZZZ"]})
        self.assertEqual(
            caught.exception.errors,
            ["cohort.sites: no site ZZZ among the sites you can see"],
        )

    def test_small_groups_are_flagged_not_hidden(self):
        result = report()
        small = [g["group"] for g in result["groups"] if g["small"]]
        self.assertEqual(small, ["No resection"])
        self.assertEqual(result["logrank"]["small_groups"], ["No resection"])
        self.assertIsNotNone(result["logrank"]["p_value"])
        # and on the figure, next to the P value
        figure = export.figure(export.result_json(result))
        heading = figure.axes[0].get_legend().get_title().get_text()
        self.assertIn("P = .20\n(groups under 10 patients: P unstable)", heading)

    def test_unknown_cox_reference_is_a_clear_error(self):
        with self.assertRaises(ReportError) as caught:
            report(reference="liver_only")
        self.assertIn(
            "reference: 'liver_only' is not one of the groups",
            caught.exception.errors[0],
        )

    def test_cox_adjusted_for_covariates_reports_every_term(self):
        result = report(covariates=["age", "ecog"], reference="primary_only")
        terms = [t["term"] for t in result["cox"]["terms"]]
        self.assertEqual(result["cox"]["reference"], "Primary only")
        self.assertIn("age", terms)
        self.assertEqual(len(terms), 3 + 1 + 2)  # 3 groups, age, ECOG 1 and 2 vs 0

    def test_doubtful_proportional_hazards_read_as_the_report_writes(self):
        # the covariate by its label and the P value in the report's one style,
        # not "proportional hazards doubtful for ecog (cox.zph P = 0.0102)"
        result = report(covariates=["age", "ecog"], reference="primary_only")
        warned = [w for w in result["cox"]["warnings"] if "doubtful" in w]
        tested = {t["term"]: t["p_value"] for t in result["cox"]["ph_test"]}
        self.assertTrue(warned)  # this cohort has doubtful terms (age, ECOG)
        self.assertEqual(len(warned), sum(p < 0.05 for p in tested.values()))
        for warning in warned:
            self.assertRegex(
                warning,
                r"^Proportional hazards doubtful for (age at diagnosis|ECOG "
                r"performance status|the groups|the model as a whole) \(cox\.zph, "
                r"P (=|<) \.\d+\)$",
            )

    def test_recurrence_free_survival_is_never_longer_than_overall(self):
        overall = report()
        rfs = report(endpoint="rfs")
        self.assertGreaterEqual(rfs["cohort"]["events"], overall["cohort"]["events"])
        self.assertIn("Recurrence-free survival was measured", rfs["methods"])

    def test_log_confidence_intervals_are_offered_and_named_in_the_methods(self):
        result = report(conf_type="log")
        self.assertIn("log transformation (R survfit's default)", result["methods"])

    def test_cut_off_must_be_given(self):
        with self.assertRaises(InvalidSpec):
            run_report(ReportSpec.from_dict({}), user=dataset.AllSites())

    def test_the_fingerprint_changes_when_the_data_change(self):
        before = report().fingerprint
        self.assertEqual(before, report().fingerprint)
        from registry.models import Death

        Death.objects.order_by("pk").first().delete()
        self.assertNotEqual(before, report().fingerprint)


class SurvivalOnlyReportTests(TestCase):
    """A report of survival alone is counted in the database (docs/architecture.md,
    the analytics contract: aggregate before leaving the database where the
    statistic allows it); its numbers must be those of the per-patient path, which
    test_demo_report.py pins to R."""

    @classmethod
    def setUpTestData(cls):
        call_command("seed_demo", stdout=io.StringIO())

    def test_only_cox_covariates_and_a_landmark_need_one_row_per_patient(self):
        def spec(**data):
            return ReportSpec.from_dict({"as_of": CUTOFF, **data})

        self.assertFalse(needs_rows(spec()))
        self.assertFalse(needs_rows(spec(**SURVIVAL_ONLY)))
        for extra in (
            {"baseline": ["age"]},
            {"subgroups": ["liver_resected"]},
            {"associations": [["extent", "liver_resected"]]},
            {"group_by": "regimen"},
        ):
            with self.subTest(extra=extra):
                self.assertFalse(needs_rows(spec(**{**SURVIVAL_ONLY, **extra})))
        for extra in (
            {"covariates": ["age"]},
            {"index": "landmark", "landmark": 12},
        ):
            with self.subTest(extra=extra):
                self.assertTrue(needs_rows(spec(**{**SURVIVAL_ONLY, **extra})))

    def test_a_survival_report_reads_the_database_once_whatever_the_size(self):
        site = make_site()
        seen = []
        for more in (0, 12):
            for _ in range(more):
                make_full_patient(site=site)
            with CaptureQueriesContext(connection) as queries:
                result = report(**SURVIVAL_ONLY)
            seen.append((result["cohort"]["patients"], len(queries)))
        self.assertEqual(seen[1][0], seen[0][0] + 12)
        self.assertEqual([count for _, count in seen], [1, 1])

    def test_counted_reports_give_the_numbers_of_the_per_patient_reports(self):
        for spec in (
            {},
            {"group_by": "sex", "reference": "F"},
            {"group_by": "extent"},
            {"group_by": "liver_resected"},
            {"endpoint": "rfs", "conf_type": "log", "time_unit": "years"},
            {"index": "treatment", "times": [6, 12]},
            {"cohort": {"strategies": ["synchronous", "staged"]}},
        ):
            with self.subTest(spec=spec):
                full = report(**spec)
                counted = report(**spec, **SURVIVAL_ONLY)
                for key in SURVIVAL_SECTIONS:
                    assert_close(counted[key], full[key], key)
                # the methods say what was done: no baseline comparisons
                self.assertTrue(full["methods"].startswith(counted["methods"]))
                self.assertNotIn("Baseline", counted["methods"])
                self.assertEqual(counted["baseline"]["rows"], [])
                self.assertEqual(counted["baseline"]["n"], full["baseline"]["n"])

    def test_the_fingerprint_of_a_counted_report_changes_when_the_data_change(self):
        before = report(**SURVIVAL_ONLY).fingerprint
        self.assertEqual(before, report(**SURVIVAL_ONLY).fingerprint)
        from registry.models import Death

        Death.objects.order_by("pk").first().delete()
        self.assertNotEqual(before, report(**SURVIVAL_ONLY).fingerprint)

    def test_bad_data_give_the_same_clear_errors(self):
        with self.assertRaisesMessage(ReportError, "no patients match"):
            report(cohort={"diagnosed_from": "2020-01-01"}, **SURVIVAL_ONLY)
        with self.assertRaisesMessage(ReportError, "'liver_only' is not one of"):
            report(reference="liver_only", **SURVIVAL_ONLY)


class WeightedQuantileTests(TestCase):
    def test_counts_give_numpys_quantile_of_the_repeated_values(self):
        # numpy's default (linear, R's type 7) on the values repeated by count
        rng = np.random.default_rng(7)
        for _ in range(50):
            values = rng.integers(0, 400, size=rng.integers(1, 30)).astype(float)
            counts = rng.integers(1, 6, size=values.size)
            for q in (0.0, 0.1, 0.5, 0.9, 1.0):
                self.assertAlmostEqual(
                    weighted_quantile(values, counts, q),
                    float(np.quantile(np.repeat(values, counts), q)),
                    places=9,
                )


class GroupOfOneTests(TestCase):
    def test_a_group_of_one_is_shown_but_left_out_of_the_tests_with_a_message(self):
        site = make_site()
        for _ in range(4):
            make_full_patient(site=site)
        lonely = make_full_patient(site=site)
        lonely.operations.update(liver_procedure="none")
        result = report(as_of="2010-01-01")
        self.assertEqual([g["n"] for g in result["groups"]], [4, 1])
        self.assertIn(
            "Group 'Primary only' has only 1 patient", " ".join(result["warnings"])
        )
        self.assertIsNone(result["logrank"]["p_value"])
        self.assertEqual(result["logrank"]["note"], "one group: nothing to compare")
        self.assertIsNone(result["cox"])


class ConstantCovariateTests(TestCase):
    def test_a_covariate_of_one_value_is_refused_and_no_model_is_described(self):
        # every patient ECOG 2: R's coxph refuses such a factor ("contrasts can
        # be applied only to factors with 2 or more levels"); the report must
        # neither drop it silently nor say the model was adjusted for it
        site = make_site()
        for i in range(10):
            patient = make_patient(site=site, sex="FM"[i % 2], ecog=2)
            make_tumour(patient, diagnosis_date=datetime.date(2004, 1, 10))
            make_death(patient, date=datetime.date(2005, 1 + i, 1))
        spec = ReportSpec.from_dict(
            {"group_by": "sex", "covariates": ["ecog"], "as_of": CUTOFF}
        )
        result = run_report(spec, user=dataset.AllSites())
        self.assertIn("ecog has one value only", result["cox"]["error"])
        self.assertIn("could not be fitted", " ".join(result["warnings"]))
        methods = methods_text(spec, result.sections)
        self.assertNotIn("Cox proportional-hazards model", methods)
        self.assertNotIn("adjusted for", methods)


class PTextTests(TestCase):
    def test_p_values_print_as_in_a_paper(self):
        self.assertEqual(
            [
                p_text(p)
                for p in (
                    0.1734,
                    0.6,
                    0.0423,
                    0.0042,
                    0.0004,
                    0.995,
                    None,
                    float("nan"),
                )
            ],
            [
                "P = .17",
                "P = .60",
                "P = .04",
                "P = .004",
                "P < .001",
                "P > .99",
                "P not computed",
                "P not computed",
            ],
        )
