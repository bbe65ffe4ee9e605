"""The Results and Methods paragraphs say only what the tests found.

Cohorts are built patient by patient (tests/factories.py) so that each test is,
or is not, significant at the report's level; the P values quoted are checked
against R where the sentence depends on them.
"""

import datetime

from django.test import SimpleTestCase, TestCase

from analytics import dataset
from analytics.reports import run_report
from analytics.spec import ReportSpec
from analytics.text import p_at
from registry import facts
from tests.factories import (
    make_death,
    make_followup,
    make_liver,
    make_operation,
    make_patient,
    make_site,
    make_tumour,
)

CUTOFF = "2009-12-31"
#: Only what the text about associations needs: no baseline table or subgroups.
ASSOCIATION_ONLY = {
    "group_by": "sex",
    "baseline": [],
    "subgroups": [],
    "associations": [["extent", "liver_resected"]],
}


def make_case(
    site,
    *,
    extent: str | None = "lt25",
    liver_resected: bool = False,
    primary_resected: bool = True,
    died: bool = False,
    sex: str = "F",
    operation_date: datetime.date = datetime.date(2004, 8, 15),
):
    """Make one patient: liver metastases of `extent` (None: no liver record),
    resected or not, followed to 2005 or dead in 2007."""
    with facts.deferred():
        patient = make_patient(site=site, sex=sex)
        make_tumour(patient)
        if extent is not None:
            make_liver(patient, extent=extent)
        if liver_resected or primary_resected:
            make_operation(
                patient,
                date=operation_date,
                primary_procedure="lar" if primary_resected else "none",
                liver_procedure="minor" if liver_resected else "none",
            )
        make_followup(patient)
        if died:
            make_death(patient)
    return patient


def make_extent_cohort(site, *, small_resected: int, large_resected: int) -> None:
    """Ten patients with < 25% of the liver involved and ten with > 75%, of whom
    `small_resected` and `large_resected` had a liver resection."""
    for extent, resected in (("lt25", small_resected), ("gt75", large_resected)):
        for i in range(10):
            make_case(
                site,
                extent=extent,
                liver_resected=i < resected,
                died=i % 2 == 0,
                sex="F" if i % 3 else "M",
            )


def report(**spec):
    spec.setdefault("as_of", CUTOFF)
    return run_report(ReportSpec.from_dict(spec), user=dataset.AllSites())


class AssociationSentenceTests(TestCase):
    """Expected P values: R 4.2.2, ``prop.trend.test(c(8, 3), c(10, 10))`` gives
    0.0246 (resected 8 of 10 with < 25%, 3 of 10 with > 75%); with every patient
    resected in neither extent the test cannot be computed; with 5 of 10 in both
    it gives 1."""

    def test_a_significant_trend_reads_was_associated(self):
        make_extent_cohort(make_site(), small_resected=8, large_resected=3)
        result = report(**ASSOCIATION_ONLY)
        test = result["associations"][0]["tests"][-1]
        self.assertAlmostEqual(test["p_value"], 0.02461876, places=6)
        self.assertIn(
            "Extent of liver disease was associated with liver resection "
            "(Chi-square test for trend, P = .02).",
            result["results"],
        )

    def test_the_same_trend_at_the_99_percent_level_is_not_significant(self):
        make_extent_cohort(make_site(), small_resected=8, large_resected=3)
        result = report(conf_level=0.99, **ASSOCIATION_ONLY)
        self.assertIn(
            "Extent of liver disease was not significantly associated with liver "
            "resection (Chi-square test for trend, P = .02).",
            result["results"],
        )
        self.assertNotIn(" was associated", result["results"])
        self.assertIn(
            "Two-sided P values below .01 were called significant.", result["methods"]
        )

    def test_no_difference_reads_not_significantly_associated(self):
        make_extent_cohort(make_site(), small_resected=5, large_resected=5)
        result = report(**ASSOCIATION_ONLY)
        self.assertIn(
            "Extent of liver disease was not significantly associated with liver "
            "resection (Chi-square test for trend, P > .99).",
            result["results"],
        )
        self.assertNotIn(" was associated", result["results"])

    def test_a_test_that_could_not_run_gives_no_sentence(self):
        site = make_site()
        for i in range(6):  # no liver metastases recorded: no extent to test
            make_case(site, extent=None, died=i % 2 == 0, sex="FM"[i % 2])
        result = report(**ASSOCIATION_ONLY)
        self.assertIsNone(result["associations"][0]["tests"][-1]["p_value"])
        self.assertNotIn("associated", result["results"])
        self.assertNotIn("not computed", result["results"])


class CountWordingTests(TestCase):
    def test_one_patient_reads_1_patient(self):
        make_case(make_site(), liver_resected=True, died=True)
        result = report(group_by="sex", baseline=[], subgroups=[], associations=[])
        text = result["results"]
        self.assertTrue(text.startswith("1 patient was analysed: "), text)
        self.assertIn("1 (100%) patient had a liver resection", text)
        self.assertNotIn("1 patients", text)

    def test_one_unresected_primary_reads_of_1_patient(self):
        site = make_site()
        make_case(site, primary_resected=False, liver_resected=False)
        make_case(site, liver_resected=True, died=True)
        result = report(group_by="sex", baseline=[], subgroups=[], associations=[])
        text = result["results"]
        self.assertIn("2 patients were analysed", text)
        self.assertIn(
            "0 of 1 patient whose primary was not resected needed palliative "
            "surgery later.",
            text,
        )

    def test_a_log_rank_test_not_computed_is_left_out(self):
        site = make_site()
        make_case(site, sex="M", died=True)  # one man: not tested
        for i in range(4):
            make_case(site, sex="F", died=i % 2 == 0)
        result = report(group_by="sex", baseline=[], subgroups=[], associations=[])
        self.assertIsNone(result["logrank"]["p_value"])
        self.assertIn("Median overall survival was", result["results"])
        self.assertNotIn("P not computed", result["results"])


class PValueNearTheLevelTests(SimpleTestCase):
    def test_a_p_value_that_rounds_to_the_level_gets_more_decimals(self):
        # .0496 is significant at .05 but prints as "P = .05"; .0504 is not.
        self.assertEqual(p_at(0.0496, 0.05), "P = .0496")
        self.assertEqual(p_at(0.0504, 0.05), "P = .0504")
        self.assertEqual(p_at(0.00996, 0.01), "P = .00996")

    def test_other_p_values_print_as_everywhere_else(self):
        self.assertEqual(p_at(0.2, 0.05), "P = .20")
        self.assertEqual(p_at(0.0451, 0.05), "P = .045")
        self.assertEqual(p_at(0.0004, 0.05), "P < .001")
