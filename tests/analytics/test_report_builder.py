"""The report builder as a statistician expects it: every problem beside its field
at once, in plain words; the reference group from the grouping; the landmark
only with the landmark index; presets."""

import io

from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse

from analytics.forms import ReportForm
from analytics.presets import PRESETS
from analytics.spec import ReportSpec
from registry.models import Site
from tests.cast import CastTestCase
from tests.factories import make_site, make_user

VALID = {
    "group_by": "strategy",
    "endpoint": "os",
    "index": "diagnosis",
    "time_unit": "months",
    "times": "12, 24",
    "conf_type": "log-log",
    "conf_level": "0.95",
    "contents": "survival",
}


class ReportFormTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.north = make_site(code="NTH", name="North Hospital")
        cls.south = make_site(code="STH", name="South Hospital")
        # Ann: statistician at North only.
        cls.ann = make_user("ann", group="Analyst", sites=[cls.north])

    def form(self, **changes) -> ReportForm:
        return ReportForm({**VALID, **changes}, user=self.ann)

    def test_every_problem_is_reported_at_its_field_at_once(self):
        form = self.form(
            times="12, soon",
            diagnosed_from="2008-01-01",
            diagnosed_to="2002-01-01",
            index="landmark",
            covariates=["strategy"],
            reference="F",
        )
        self.assertFalse(form.is_valid())
        self.assertEqual(
            sorted(form.errors),
            ["covariates", "diagnosed_to", "landmark", "reference", "times"],
        )
        self.assertEqual(form.non_field_errors(), [])

    def test_dates_in_the_wrong_order_are_named_in_the_builders_words(self):
        form = self.form(diagnosed_from="2008-01-01", diagnosed_to="2002-01-01")
        self.assertEqual(
            form.errors["diagnosed_to"], ["Diagnosed to is before diagnosed from."]
        )

    def test_a_cut_off_before_the_cohort_starts_is_explained(self):
        form = self.form(diagnosed_from="2008-01-01", as_of="2007-12-31")
        self.assertIn(
            "The data cut-off is before diagnosed from", form.errors["as_of"][0]
        )

    def test_the_landmark_index_asks_for_the_landmark_in_the_time_unit(self):
        form = self.form(index="landmark", time_unit="years")
        self.assertEqual(
            form.errors["landmark"],
            [
                "Give the landmark time in years: the landmark index starts the "
                "clock there, for the patients still followed then."
            ],
        )

    def test_a_landmark_left_with_another_index_is_ignored(self):
        form = self.form(index="diagnosis", landmark="12")
        self.assertTrue(form.is_valid(), form.errors)
        self.assertIsNone(form.spec().landmark)

    def test_a_landmark_with_the_landmark_index_reaches_the_specification(self):
        form = self.form(index="landmark", landmark="12")
        self.assertTrue(form.is_valid(), form.errors)
        self.assertEqual(form.spec().landmark, 12.0)

    def test_the_grouping_as_a_covariate_is_refused_in_words(self):
        form = self.form(covariates=["strategy", "age"])
        self.assertEqual(
            form.errors["covariates"],
            [
                "Resection strategy is the grouping: adjust the hazard ratios for "
                "other fields."
            ],
        )

    def test_the_reference_is_a_choice_among_each_groupings_groups(self):
        choices = dict(self.form().fields["reference"].choices)
        self.assertEqual(choices[""], "First group")
        self.assertEqual(
            [value for value, _ in choices["Resection strategy"]],
            ["synchronous", "staged", "primary_only", "liver_only", "none"],
        )
        self.assertEqual(dict(choices["Sex"])["F"], "Female")
        self.assertEqual([v for v, _ in choices["Liver resection"]], ["No", "Yes"])

    def test_the_site_grouping_offers_only_the_users_sites(self):
        choices = dict(self.form().fields["reference"].choices)
        self.assertEqual([value for value, _ in choices["Site"]], ["NTH"])
        self.assertIn("reference", self.form(group_by="site", reference="STH").errors)

    def test_a_reference_from_another_grouping_is_refused_beside_the_field(self):
        form = self.form(group_by="sex", reference="synchronous")
        self.assertEqual(
            form.errors["reference"],
            [
                "“synchronous” is not a group of sex: choose one of Female, Male, "
                "Other / not stated, or leave it blank for the first group."
            ],
        )

    def test_a_reference_of_the_grouping_reaches_the_specification(self):
        form = self.form(group_by="extent", reference="lt25")
        self.assertTrue(form.is_valid(), form.errors)
        self.assertEqual(form.spec().reference, "lt25")

    def test_free_text_is_not_a_reference_group(self):
        form = self.form(reference="whatever I type")
        self.assertIn("reference", form.errors)

    def test_a_blank_cut_off_stays_blank_in_the_specification(self):
        form = self.form()
        self.assertTrue(form.is_valid(), form.errors)
        self.assertIsNone(form.spec().as_of)

    def test_a_reference_saved_by_its_label_selects_its_group(self):
        initial = ReportForm.initial_from_spec({"reference": "Staged resection"})
        self.assertEqual(initial["reference"], "staged")

    def test_every_preset_is_a_valid_specification_that_fills_the_form(self):
        for preset in PRESETS.values():
            with self.subTest(preset=preset.slug):
                spec = ReportSpec.from_dict(preset.spec)
                initial = ReportForm.initial_from_spec(preset.spec)
                self.assertEqual(initial["group_by"], spec.group_by)
                self.assertEqual(initial["endpoint"], spec.endpoint)


class ReportBuilderPageTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        call_command("seed_demo", stdout=io.StringIO())
        for site in Site.objects.filter(is_synthetic=True):
            site.members.add(cls.ann)

    def setUp(self):
        self.client.force_login(self.ann)

    def test_the_page_shows_every_error_beside_its_field_and_in_a_summary(self):
        response = self.client.get(
            reverse("analytics:report_result"),
            {
                **VALID,
                "diagnosed_from": "2008-01-01",
                "diagnosed_to": "2002-01-01",
                "times": "12, soon",
            },
        )
        self.assertEqual(response.status_code, 400)
        page = response.content.decode()
        self.assertIn("2 fields need attention", page)
        self.assertIn(
            '<ul class="errorlist" id="id_diagnosed_to_errors"><li>Diagnosed to is '
            "before diagnosed from.</li></ul>",
            page,
        )
        self.assertIn('<a href="#id_times">Survival at times</a>', page)

    def test_a_problem_only_the_data_reveal_is_shown_at_its_field(self):
        response = self.client.get(
            reverse("analytics:report_result"),
            {**VALID, "as_of": "2009-12-31", "index": "landmark", "landmark": "500"},
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn(
            "500 months is beyond the longest follow-up",
            response.context["form"].errors["landmark"][0],
        )

    def test_a_landmark_left_with_another_index_runs_the_report(self):
        response = self.client.get(
            reverse("analytics:report_result"), {**VALID, "landmark": "12"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertIsNone(response.context["data"]["spec"]["landmark"])

    def test_the_landmark_field_and_the_script_that_shows_it_are_on_the_page(self):
        page = self.client.get(reverse("analytics:report_new"))
        self.assertContains(page, 'id="field-landmark"')
        self.assertContains(page, 'src="/static/js/report.js"')
        self.assertContains(page, 'class="report-form" data-computing')
        self.assertContains(page, "Computing the report…")

    def test_the_builder_offers_the_presets(self):
        page = self.client.get(reverse("analytics:report_new"))
        for preset in PRESETS.values():
            self.assertContains(page, f"?preset={preset.slug}")
            self.assertContains(page, preset.title)

    def test_the_seed_study_preset_fills_the_builder_and_gives_the_studys_arms(self):
        page = self.client.get(
            reverse("analytics:report_new"), {"preset": "seed-study"}
        )
        form = page.context["form"]
        self.assertEqual(form.initial["as_of"], "2009-12-31")
        self.assertEqual(form.initial["reference"], "synchronous")
        query = {
            name: form[name].value()
            for name in form.fields
            if form[name].value() not in (None, "", [])
        }
        result = self.client.get(reverse("analytics:report_result"), query)
        self.assertEqual(result.status_code, 200)
        data = result.context["data"]
        self.assertEqual([g["n"] for g in data["groups"]], [30, 13, 22, 9])
        self.assertEqual(data["cox"]["reference"], "Synchronous resection")

    def test_the_rfs_by_extent_preset_fills_the_endpoint_and_grouping(self):
        page = self.client.get(
            reverse("analytics:report_new"), {"preset": "rfs-by-extent"}
        )
        initial = page.context["form"].initial
        self.assertEqual((initial["endpoint"], initial["group_by"]), ("rfs", "extent"))
        self.assertEqual(initial["contents"], "survival")
        self.assertContains(page, '<option value="lt25" selected>', html=False)

    def test_an_unknown_preset_is_not_found(self):
        response = self.client.get(reverse("analytics:report_new"), {"preset": "nope"})
        self.assertEqual(response.status_code, 404)
