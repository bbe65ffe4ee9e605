"""Report pages: build, run, download, save and re-run, for the right people."""

import io
import json
import re
from unittest import mock

from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.models import ReportRun, SavedReport
from registry.models import Death, Patient, Site
from tests.cast import CastTestCase

QUERY = {
    "group_by": "strategy",
    "endpoint": "os",
    "index": "diagnosis",
    "time_unit": "months",
    "times": "12, 24, 36",
    "conf_type": "log-log",
    "conf_level": "0.95",
    "as_of": "2009-12-31",
    "baseline": ["age", "sex", "extent"],
    "name": "Demo study",
}


class ReportViewTestCase(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        call_command("seed_demo", stdout=io.StringIO())
        for site in Site.objects.filter(is_synthetic=True):
            site.members.add(cls.ann, cls.mark)

    def setUp(self):
        self.client.force_login(self.ann)


class ReportResultTests(ReportViewTestCase):
    def test_analyst_runs_the_demo_report_and_sees_the_studys_numbers(self):
        response = self.client.get(reverse("analytics:report_result"), QUERY)
        self.assertEqual(response.status_code, 200)
        data = response.context["data"]
        self.assertEqual([g["n"] for g in data["groups"]], [30, 13, 22, 9])
        self.assertContains(response, "Immortal-time bias")
        self.assertContains(response, "Run the landmark analysis (12 months)")
        self.assertContains(response, "data:image/png;base64,")
        self.assertContains(
            response, "Median overall survival was 47 vs 47 vs 32 vs 22 months"
        )
        content = response.content.decode()
        mrns = Patient.objects.values_list("mrn", flat=True)
        leaked = [mrn for mrn in mrns if mrn in content]
        self.assertEqual(leaked, [], "an MRN reached the report page")

    def test_survival_only_report_shows_survival_without_the_patient_tables(self):
        # the page never reads one row per patient: the frame is not built
        with mock.patch(
            "analytics.dataset.patient_frame", side_effect=AssertionError("rows read")
        ):
            response = self.client.get(
                reverse("analytics:report_result"), {**QUERY, "contents": "survival"}
            )
        self.assertEqual(response.status_code, 200)
        data = response.context["data"]
        self.assertEqual([g["n"] for g in data["groups"]], [30, 13, 22, 9])
        self.assertEqual(data["spec"]["baseline"], [])
        self.assertEqual((data["subgroups"], data["associations"]), ([], []))
        self.assertContains(response, "Immortal-time bias")
        self.assertContains(response, "data:image/png;base64,")
        self.assertNotContains(response, "Baseline characteristics")
        full = self.client.get(reverse("analytics:report_result"), QUERY)
        self.assertEqual(data["logrank"], full.context["data"]["logrank"])

    def test_every_field_description_the_builder_points_to_exists(self):
        page = self.client.get(reverse("analytics:report_new")).content.decode()
        described = set(re.findall(r'aria-describedby="([^"]+)"', page))
        self.assertTrue(described)
        for ids in described:
            for id_ in ids.split():
                self.assertIn(f'id="{id_}"', page)

    def test_research_nurse_may_not_run_reports(self):
        self.client.force_login(self.nina)
        self.assertEqual(
            self.client.get(reverse("analytics:report_list")).status_code, 403
        )
        self.assertEqual(
            self.client.get(reverse("analytics:report_result"), QUERY).status_code, 403
        )

    def test_bad_specification_shows_the_message_in_the_page(self):
        response = self.client.get(
            reverse("analytics:report_result"),
            {**QUERY, "index": "landmark", "landmark": "500"},
        )
        self.assertEqual(response.status_code, 400)
        # beside its field, where the builder shows it
        self.assertIn(
            "500 months is beyond the longest follow-up",
            response.context["form"].errors["landmark"][0],
        )

    def test_malformed_form_value_is_shown_at_the_field(self):
        response = self.client.get(
            reverse("analytics:report_result"), {**QUERY, "times": "12, soon"}
        )
        self.assertEqual(response.status_code, 400)
        self.assertContains(
            response, "&#x27;soon&#x27; is not a number", status_code=400
        )

    def test_empty_cohort_shows_a_clear_message(self):
        # as the data manager: an analyst is told only "fewer than 5" (test_disclosure)
        self.client.force_login(self.mark)
        response = self.client.get(
            reverse("analytics:report_result"),
            {**QUERY, "diagnosed_to": "1990-01-01"},
        )
        self.assertContains(
            response, "no patients match these filters", status_code=400
        )

    def test_landmark_link_runs_the_landmark_version(self):
        response = self.client.get(reverse("analytics:report_result"), QUERY)
        query = response.context["landmark_query"]
        landmark = self.client.get(reverse("analytics:report_result") + "?" + query)
        self.assertEqual(landmark.status_code, 200)
        self.assertEqual(
            landmark.context["data"]["landmark_analysis"]["landmark"], 12.0
        )

    def test_query_count_is_fixed_whatever_the_cohort_size(self):
        with CaptureQueriesContext(connection) as first:
            self.client.get(reverse("analytics:report_result"), QUERY)
        call_command(
            "seed_demo", "--replace", "--patients", "300", stdout=io.StringIO()
        )
        for site in Site.objects.filter(is_synthetic=True):
            site.members.add(self.ann)
        with CaptureQueriesContext(connection) as second:
            response = self.client.get(reverse("analytics:report_result"), QUERY)
        self.assertEqual(response.context["data"]["cohort"]["patients"], 300)
        self.assertEqual(len(first), len(second))


class ReportDownloadTests(ReportViewTestCase):
    def download(self, fmt, **extra):
        return self.client.get(
            reverse("analytics:report_download", args=[fmt]), {**QUERY, **extra}
        )

    def test_figure_downloads_are_real_png_svg_and_pdf(self):
        magic = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}
        for fmt, start in magic.items():
            with self.subTest(fmt=fmt):
                response = self.download(fmt)
                self.assertEqual(response.status_code, 200)
                self.assertTrue(response.content.startswith(start))
                self.assertIn("attachment", response["Content-Disposition"])

    def test_tables_download_as_csv_and_xlsx(self):
        csv = self.download("csv", table="groups").content.decode()
        self.assertTrue(csv.startswith("group,n,events,median (months)"))
        self.assertIn("Synchronous resection,30,15,", csv)
        xlsx = self.download("xlsx")
        self.assertTrue(xlsx.content.startswith(b"PK"))

    def test_whole_result_downloads_as_json_and_pdf(self):
        data = json.loads(self.download("json").content)
        self.assertEqual(data["cohort"]["analysed"], 74)
        self.assertIn("curves", data)
        self.assertTrue(self.download("report.pdf").content.startswith(b"%PDF"))

    def test_tables_name_the_confidence_level_asked_for(self):
        header = self.download("csv", conf_level="0.9").content.decode().splitlines()[0]
        self.assertIn("median lower 90%", header)
        page = self.client.get(
            reverse("analytics:report_result"), {**QUERY, "conf_level": "0.9"}
        )
        self.assertContains(page, "HR [90% CI]")
        self.assertNotContains(page, "95%")

    def test_survival_only_report_downloads_in_every_format(self):
        survival = {"contents": "survival"}
        self.assertTrue(
            self.download("report.pdf", **survival).content.startswith(b"%PDF")
        )
        self.assertTrue(self.download("xlsx", **survival).content.startswith(b"PK"))
        baseline = self.download("csv", table="baseline", **survival)
        self.assertEqual(baseline.status_code, 200)
        data = json.loads(self.download("json", **survival).content)
        self.assertEqual(data["baseline"]["rows"], [])
        self.assertEqual([g["n"] for g in data["groups"]], [30, 13, 22, 9])

    def test_bad_specification_download_answers_json_errors(self):
        response = self.download("json", group_by="colour")
        self.assertEqual(response.status_code, 400)
        self.assertIn("group_by", json.loads(response.content)["errors"][0])

    def test_unknown_table_or_format_is_not_found(self):
        self.assertEqual(self.download("csv", table="nothing").status_code, 404)
        self.assertEqual(self.download("odt").status_code, 404)


class SavedReportTests(ReportViewTestCase):
    def save(self):
        result = self.client.get(reverse("analytics:report_result"), QUERY)
        response = self.client.post(
            reverse("analytics:report_save"),
            {"name": "Demo study", "spec": result.context["spec_json"]},
        )
        return SavedReport.objects.get(name="Demo study"), response

    def test_save_then_run_stores_provenance(self):
        saved, response = self.save()
        self.assertRedirects(response, saved.get_absolute_url())
        run_response = self.client.post(
            reverse("analytics:saved_report_run", args=[saved.pk])
        )
        run = ReportRun.objects.get()
        self.assertRedirects(run_response, run.get_absolute_url())
        self.assertEqual(run.run_by, self.ann)
        self.assertEqual(str(run.data_cutoff), "2009-12-31")
        self.assertEqual(len(run.fingerprint), 64)
        self.assertIn("scipy", run.software_version)
        self.assertEqual(run.patients, 74)
        page = self.client.get(run.get_absolute_url())
        self.assertContains(page, run.fingerprint)
        self.assertContains(page, "Provenance")

    def test_a_name_over_its_limit_is_refused_naming_the_field(self):
        # Found by an audit: "Ensure this value has at most 200 characters",
        # not saying of which field
        result = self.client.get(reverse("analytics:report_result"), QUERY)
        response = self.client.post(
            reverse("analytics:report_save"),
            {"name": "N" * 250, "spec": result.context["spec_json"]},
            follow=True,
        )
        self.assertFalse(SavedReport.objects.exists())
        notices = [str(m) for m in response.context["messages"]]
        self.assertTrue(
            any("saved: name: Ensure this value has at most 200" in n for n in notices),
            notices,
        )

    def test_a_name_or_specification_with_a_null_character_is_refused(self):
        # PostgreSQL's text and jsonb hold no NUL: refused with a message, and
        # nothing saved. In the specification's JSON (its name or any value)
        # it is the specification's refusal; a raw one in the form's name, the
        # registry's 400 before any view (registry.middleware)
        spec = {"group_by": "sex", "as_of": "2009-12-31"}
        for data in ({**spec, "reference": "\x00"}, {**spec, "name": "Demo\x00"}):
            with self.subTest(data=data):
                response = self.client.post(
                    reverse("analytics:report_save"),
                    {"name": "Demo study", "spec": json.dumps(data)},
                    follow=True,
                )
                self.assertContains(response, "The report could not be saved")
                self.assertContains(response, "NUL character")
        response = self.client.post(
            reverse("analytics:report_save"),
            {"name": "Demo\x00study", "spec": json.dumps(spec)},
        )
        self.assertContains(response, "'name' holds a NUL character", status_code=400)
        self.assertFalse(SavedReport.objects.exists())

    def test_rerun_says_whether_the_data_changed(self):
        saved, _ = self.save()
        url = reverse("analytics:saved_report_run", args=[saved.pk])
        self.client.post(url)
        second = self.client.post(url, follow=True)
        self.assertContains(second, "unchanged since your run")
        Death.objects.order_by("pk").first().delete()
        third = self.client.post(url, follow=True)
        self.assertContains(third, "have changed since your run")
        detail = self.client.get(saved.get_absolute_url())
        self.assertContains(detail, "changed")
        self.assertEqual(detail.context["runs"][0].data_changed, True)
        self.assertEqual(detail.context["runs"][1].data_changed, False)

    def test_duplicate_name_is_refused_with_a_message(self):
        self.save()
        _, response = self.save()
        self.assertEqual(SavedReport.objects.count(), 1)
        messages = [str(m) for m in response.wsgi_request._messages]
        self.assertIn(
            "The report could not be saved: You already have a saved report of this "
            "name.",
            messages,
        )

    def test_another_analysts_run_is_not_shown(self):
        saved, _ = self.save()
        self.client.post(reverse("analytics:saved_report_run", args=[saved.pk]))
        run = ReportRun.objects.get()
        other = self.ann.__class__.objects.create_user("other_analyst")
        other.groups.add(*self.ann.groups.all())
        self.client.force_login(other)
        # not found, not forbidden: another user's run is not confirmed to exist
        self.assertEqual(self.client.get(run.get_absolute_url()).status_code, 404)
        self.client.force_login(self.mark)  # a data manager holding its sites sees it
        self.assertEqual(self.client.get(run.get_absolute_url()).status_code, 200)

    def test_a_name_too_long_is_refused_by_the_model_rule(self):
        result = self.client.get(reverse("analytics:report_result"), QUERY)
        response = self.client.post(
            reverse("analytics:report_save"),
            {"name": "x" * 201, "spec": result.context["spec_json"]},
        )
        self.assertEqual(SavedReport.objects.count(), 0)
        messages = [str(m) for m in response.wsgi_request._messages]
        self.assertIn("at most 200 characters", messages[0])

    def test_each_run_is_compared_with_its_own_runners_previous_run(self):
        # a run covers its runner's sites: another user's run is no comparison
        saved, _ = self.save()
        self.client.post(reverse("analytics:saved_report_run", args=[saved.pk]))
        self.client.force_login(self.mark)
        self.client.post(reverse("analytics:saved_report_run", args=[saved.pk]))
        runs = self.client.get(saved.get_absolute_url()).context["runs"]
        self.assertEqual(
            [(r.run_by, r.first) for r in runs], [(self.mark, True), (self.ann, True)]
        )
        self.client.post(reverse("analytics:saved_report_run", args=[saved.pk]))
        runs = self.client.get(saved.get_absolute_url()).context["runs"]
        self.assertEqual(
            [(r.first, r.data_changed) for r in runs],
            [(False, False), (True, False), (True, False)],
        )

    def test_builder_answers_a_malformed_saved_report_with_not_found(self):
        response = self.client.get(reverse("analytics:report_new"), {"saved": "abc"})
        self.assertEqual(response.status_code, 404)

    def test_download_names_are_quoted_for_any_title(self):
        response = self.client.get(
            reverse("analytics:report_download", args=["json"]),
            {**QUERY, "name": 'Survie "stade IV"'},
        )
        self.assertEqual(
            response["Content-Disposition"],
            'attachment; filename="Survie_\\"stade_IV\\".json"',
        )

    def test_stored_run_downloads_from_the_stored_result(self):
        saved, _ = self.save()
        self.client.post(reverse("analytics:saved_report_run", args=[saved.pk]))
        run = ReportRun.objects.get()
        Death.objects.all().delete()  # the stored run must not change
        response = self.client.get(
            reverse("analytics:report_run_download", args=[run.pk, "json"])
        )
        self.assertEqual(json.loads(response.content)["cohort"]["events"], 43)
        png = self.client.get(
            reverse("analytics:report_run_download", args=[run.pk, "png"])
        )
        self.assertTrue(png.content.startswith(b"\x89PNG"))

    def test_builder_opens_a_saved_survival_report_as_survival_only(self):
        result = self.client.get(
            reverse("analytics:report_result"), {**QUERY, "contents": "survival"}
        )
        self.client.post(
            reverse("analytics:report_save"),
            {"name": "Survival", "spec": result.context["spec_json"]},
        )
        saved = SavedReport.objects.get(name="Survival")
        self.assertEqual(saved.spec["subgroups"], [])
        response = self.client.get(reverse("analytics:report_new"), {"saved": saved.pk})
        self.assertEqual(response.context["form"].initial["contents"], "survival")

    def test_builder_opens_filled_from_a_saved_report(self):
        saved, _ = self.save()
        response = self.client.get(reverse("analytics:report_new"), {"saved": saved.pk})
        self.assertEqual(response.context["form"].initial["times"], "12, 24, 36")
