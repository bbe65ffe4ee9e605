"""The Results and Methods paragraphs say only what the tests found.

Cohorts are built patient by patient (tests/factories.py) so that each test is,
or is not, significant at the report's level; the P values quoted are checked
against R where the sentence depends on them.
"""

import datetime
import io

from django.core.management import call_command
from django.test import SimpleTestCase, TestCase
from django.urls import reverse

from analytics import dataset, export
from analytics.reports import run_report
from analytics.spec import ReportSpec
from analytics.text import in_sentence, p_at
from registry import facts
from registry.models import Site
from tests.cast import CastTestCase
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
    **patient_fields,
):
    """Make one patient: liver metastases of `extent` (None: no liver record),
    resected or not, followed to 2005 or dead in 2007."""
    with facts.deferred():
        patient = make_patient(site=site, sex=sex, **patient_fields)
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


class LandmarkWordingTests(TestCase):
    """A landmark report says everywhere that its times run from the landmark."""

    @classmethod
    def setUpTestData(cls):
        call_command("seed_demo", stdout=io.StringIO())
        cls.result = report(index="landmark", landmark=12)
        cls.data = export.result_json(cls.result)

    def test_title_names_the_landmark(self):
        self.assertEqual(
            self.result["title"],
            "Overall survival by resection strategy, from the 12-month landmark",
        )

    def test_figure_title_and_time_axis_name_the_landmark(self):
        figure = export.figure(self.data)
        ax = figure.axes[0]
        self.assertEqual(ax.get_xlabel(), "Time (months from the 12-month landmark)")
        self.assertEqual(
            ax.get_title(loc="left"),
            "Overall survival by resection strategy, from the 12-month landmark",
        )

    def test_results_paragraph_gives_medians_from_the_landmark(self):
        text = self.result["results"]
        analysed = self.result["cohort"]["analysed"]
        self.assertTrue(
            text.startswith(
                f"{analysed} patients alive and under follow-up at the 12-month "
                "landmark were analysed: "
            ),
            text,
        )
        self.assertIn("Median follow-up from the 12-month landmark was", text)
        self.assertIn("Median overall survival from the 12-month landmark was", text)

    def test_a_report_from_diagnosis_says_since_diagnosis(self):
        result = report(baseline=[], associations=[], subgroups=[])
        self.assertEqual(result["title"], "Overall survival by resection strategy")
        self.assertEqual(result["time_axis"], "months since diagnosis")
        self.assertNotIn("landmark", result["results"])


class ResultPageWordingTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        call_command("seed_demo", stdout=io.StringIO())
        for site in Site.objects.filter(is_synthetic=True):
            site.members.add(cls.ann)

    def test_result_page_heading_names_the_landmark(self):
        self.client.force_login(self.ann)
        response = self.client.get(
            reverse("analytics:report_result"),
            {
                "group_by": "strategy",
                "endpoint": "os",
                "index": "landmark",
                "landmark": "12",
                "time_unit": "months",
                "times": "12, 24",
                "conf_type": "log-log",
                "conf_level": "0.95",
                "as_of": "2009-12-31",
            },
        )
        self.assertContains(
            response,
            "Overall survival by resection strategy, from the 12-month landmark",
        )

    def test_result_page_keeps_an_acronym_in_its_headings(self):
        self.client.force_login(self.ann)
        response = self.client.get(
            reverse("analytics:report_result"),
            {
                "group_by": "ecog",
                "endpoint": "os",
                "index": "diagnosis",
                "time_unit": "months",
                "times": "12, 24",
                "conf_type": "log-log",
                "conf_level": "0.95",
                "as_of": "2009-12-31",
                "baseline": ["age", "sex"],
            },
        )
        self.assertContains(response, "Survival by ECOG performance status")
        self.assertContains(response, "Baseline characteristics by ECOG performance")
        self.assertNotContains(response, "ecog performance")


class LandmarkSubgroupTests(TestCase):
    def test_liver_resection_subgroup_is_taken_at_the_landmark(self):
        # Three patients resected (liver) 6.6 months after diagnosis, three 21
        # months after, three never; a 12-month landmark counts only the first
        # three as resected, in the groups and in the liver resection subgroup.
        site = make_site()
        for i, when in enumerate(
            [datetime.date(2004, 8, 1)] * 3 + [datetime.date(2005, 10, 1)] * 3
        ):
            make_case(site, liver_resected=True, operation_date=when, died=i == 0)
        for i in range(3):
            make_case(site, died=i == 0)
        for patient_case in Site.objects.get(pk=site.pk).patients.all():
            make_followup(patient_case, date=datetime.date(2008, 1, 10))
        result = report(
            group_by="liver_resected",
            index="landmark",
            landmark=12,
            baseline=[],
            associations=[],
            subgroups=["liver_resected", "sex"],
        )
        groups = {g["group"]: g["n"] for g in result["groups"]}
        self.assertEqual(groups, {"No": 6, "Yes": 3})
        report_strategy = report(
            index="landmark",
            landmark=12,
            baseline=[],
            associations=[],
            subgroups=["liver_resected"],
        )
        (subgroup,) = report_strategy["subgroups"]
        levels = {level["group"]: level["n"] for level in subgroup["levels"]}
        self.assertEqual(levels, {"No": 6, "Yes": 3})


class GroupLabelTests(TestCase):
    """Groups are shown by their labels, as recorded, everywhere in a result."""

    @classmethod
    def setUpTestData(cls):
        for code, name in (("NFG", "Northfield General"), ("SHU", "St Helen's")):
            site = make_site(code=code, name=name)
            for i in range(5):
                make_case(site, liver_resected=i < 2, died=i % 2 == 0, ecog=i % 2)

    def test_site_groups_are_the_sites_names_not_codes(self):
        result = report(
            group_by="site", reference="SHU", baseline=[], associations=[], subgroups=[]
        )
        data = export.result_json(result)
        names = ["Northfield General", "St Helen's"]
        self.assertEqual([g["group"] for g in result["groups"]], names)
        self.assertEqual(list(result["at_risk"]["groups"]), names)
        self.assertEqual(result["cox"]["reference"], "St Helen's")
        self.assertEqual([t["term"] for t in result["cox"]["terms"]], names[:1])
        self.assertEqual(list(export.tables(data)["groups"]["group"]), names)
        legend = export.figure(data).axes[0].get_legend()
        self.assertEqual(
            [t.get_text() for t in legend.get_texts()],
            ["Northfield General (n = 5)", "St Helen's (n = 5)"],
        )
        self.assertIn(
            "10 patients were analysed: Northfield General 5, St Helen's 5.",
            result["results"],
        )
        self.assertIn("(Northfield General, St Helen's; log-rank P", result["results"])
        self.assertNotIn("NFG", result["results"] + result["methods"])

    def test_group_labels_keep_their_case_inside_sentences(self):
        result = report(baseline=[], associations=[], subgroups=[])
        text = result["results"]
        self.assertIn("patients were analysed: Synchronous resection ", text)
        self.assertIn("(Synchronous resection, Primary only; log-rank P", text)
        self.assertIn("Synchronous resection vs Primary only P", text)
        self.assertNotIn("synchronous resection", text)

    def test_a_variable_named_by_an_acronym_keeps_it(self):
        result = report(group_by="ecog", baseline=[], associations=[], subgroups=[])
        self.assertIn(
            "Groups (ECOG performance status) were compared", result["methods"]
        )
        self.assertEqual(result["title"], "Overall survival by ECOG performance status")
        strategy = report(baseline=[], associations=[], subgroups=[])
        self.assertIn("Groups (resection strategy) were compared", strategy["methods"])


class InSentenceTests(SimpleTestCase):
    def test_only_an_ordinary_first_word_loses_its_capital(self):
        self.assertEqual(in_sentence("Resection strategy"), "resection strategy")
        self.assertEqual(in_sentence("First-line biologic"), "first-line biologic")
        self.assertEqual(in_sentence("Site"), "site")

    def test_acronyms_codes_and_names_keep_their_case(self):
        for label in (
            "ECOG performance status",
            "KRAS",
            "CEA at diagnosis",
            "MMR / MSI",
            "Charlson comorbidity index",
            "Lev+5FU",
        ):
            with self.subTest(label=label):
                self.assertEqual(in_sentence(label), label)
