"""A report is computed once: its page and every download read the stored result,
and a change in the data is never served from a result computed before it."""

import datetime
import io
import json
from unittest import mock

from django.core.management import call_command
from django.urls import reverse

from analytics import resultcache
from analytics.models import ComputedReport, ReportRun, SavedReport
from registry.models import Death, DerivedFacts, LiverMetastases, Site
from tests.cast import CastTestCase

QUERY = {
    "name": "Demo study",
    "group_by": "strategy",
    "endpoint": "os",
    "index": "diagnosis",
    "time_unit": "months",
    "times": "12, 24, 36",
    "conf_type": "log-log",
    "conf_level": "0.95",
    "as_of": "2009-12-31",
    "baseline": ["age", "sex", "extent"],
}
DOWNLOADS = ("png", "svg", "pdf", "report.pdf", "xlsx", "json", "csv")
NOT_AGAIN = AssertionError("the statistics were computed again")


class ResultCacheTestCase(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        call_command("seed_demo", stdout=io.StringIO())
        for site in Site.objects.filter(is_synthetic=True):
            site.members.add(cls.ann, cls.mark)

    def setUp(self):
        self.client.force_login(self.ann)

    def download(self, fmt, **extra):
        return self.client.get(
            reverse("analytics:report_download", args=[fmt]), {**QUERY, **extra}
        )


class StoredResultTests(ResultCacheTestCase):
    def test_every_download_is_served_from_the_result_the_page_computed(self):
        page = self.client.get(reverse("analytics:report_result"), QUERY)
        self.assertEqual(page.status_code, 200)
        # Kaplan-Meier is the first statistic of every report: not run again
        with mock.patch("analytics.survival.kaplan_meier", side_effect=NOT_AGAIN):
            for fmt in DOWNLOADS:
                with self.subTest(fmt=fmt):
                    self.assertEqual(self.download(fmt).status_code, 200)
            again = self.client.get(reverse("analytics:report_result"), QUERY)
        self.assertEqual(again.context["data"], page.context["data"])
        self.assertEqual(ComputedReport.objects.count(), 1)

    def test_the_figure_is_rendered_once_for_the_page_and_its_png(self):
        page = self.client.get(reverse("analytics:report_result"), QUERY)
        with mock.patch("analytics.plots.render", side_effect=NOT_AGAIN):
            png = self.download("png")
            self.client.get(reverse("analytics:report_result"), QUERY)
        self.assertTrue(png.content.startswith(b"\x89PNG"))
        self.assertEqual(bytes(ComputedReport.objects.get().figure_png), png.content)
        self.assertContains(page, "data:image/png;base64,")

    def test_a_blank_cut_off_is_a_new_result_each_day(self):
        blank = {**QUERY, "as_of": ""}
        today = "django.utils.timezone.localdate"
        with mock.patch(today, return_value=datetime.date(2009, 12, 31)):
            first = json.loads(self.download("json", **blank).content)
        with mock.patch(today, return_value=datetime.date(2010, 6, 30)):
            second = json.loads(self.download("json", **blank).content)
        self.assertEqual(
            (first["as_of"], second["as_of"]), ("2009-12-31", "2010-06-30")
        )
        self.assertEqual(ComputedReport.objects.count(), 2)

    def test_old_results_are_pruned(self):
        with mock.patch.object(resultcache, "MAX_STORED", 2):
            for times in ("12", "24", "36"):
                self.download("json", times=times, contents="survival")
        self.assertEqual(ComputedReport.objects.count(), 2)


class NeverStaleTests(ResultCacheTestCase):
    def test_a_deleted_death_changes_every_download(self):
        before = json.loads(self.download("json").content)
        csv_before = self.download("csv", table="groups").content
        png_before = self.download("png").content
        Death.objects.order_by("pk").first().delete()
        after = json.loads(self.download("json").content)
        self.assertEqual(after["cohort"]["events"], before["cohort"]["events"] - 1)
        self.assertNotEqual(self.download("csv", table="groups").content, csv_before)
        self.assertNotEqual(self.download("png").content, png_before)

    def test_an_edited_date_of_death_changes_the_result(self):
        before = json.loads(self.download("json").content)
        death = Death.objects.order_by("pk").first()
        death.date -= datetime.timedelta(days=30)
        death.save()
        after = json.loads(self.download("json").content)
        self.assertNotEqual(after["fingerprint"], before["fingerprint"])
        self.assertNotEqual(after["curves"], before["curves"])

    def test_a_change_only_the_baseline_table_reads_changes_it(self):
        # the stored result follows the data version (and the report's own
        # fingerprint, which digests the baseline table's counts too)
        before = json.loads(self.download("json").content)
        liver = LiverMetastases.objects.order_by("pk").first()
        liver.extent = "gt75" if liver.extent != "gt75" else "lt25"
        liver.save()
        after = json.loads(self.download("json").content)
        self.assertNotEqual(after["fingerprint"], before["fingerprint"])
        self.assertNotEqual(after["baseline"], before["baseline"])

    def test_facts_fixed_by_check_facts_are_not_served_from_before_the_fix(self):
        # a stale stored fact (written around the rules), found and fixed by
        # check_facts --fix, which writes no history but records its check
        DerivedFacts.objects.filter(death_date__isnull=False).update(death_date=None)
        stale = json.loads(self.download("json").content)
        self.assertEqual(stale["cohort"]["events"], 0)
        call_command("check_facts", "--fix", stdout=io.StringIO())
        fixed = json.loads(self.download("json").content)
        self.assertEqual(fixed["cohort"]["events"], 43)

    def test_a_masked_result_is_never_served_to_a_user_who_sees_every_count(self):
        analyst = json.loads(self.download("json").content)
        self.client.force_login(self.mark)
        manager = json.loads(self.download("json").content)
        self.assertIn("disclosure", analyst)
        self.assertNotIn("disclosure", manager)
        self.assertEqual(ComputedReport.objects.count(), 2)

    def test_a_user_with_other_sites_gets_their_own_result(self):
        self.download("json")
        north_only = self.ann.__class__.objects.create_user("north_analyst")
        north_only.groups.add(*self.ann.groups.all())
        Site.objects.get(code="NFG").members.add(north_only)
        self.client.force_login(north_only)
        mine = json.loads(self.download("json").content)
        self.assertLess(mine["cohort"]["patients"], 74)
        self.assertEqual(ComputedReport.objects.count(), 2)


class FiguresDrawnOnceTests(ResultCacheTestCase):
    """Every figure of one result is drawn once (analytics.plots.RENDERED), for
    the page, its downloads and both documents, live or stored."""

    def test_the_word_document_reuses_the_pdfs_figures(self):
        pdf = self.download("report.pdf", competing_risks="on")
        self.assertEqual(pdf.status_code, 200)
        with mock.patch("analytics.plots.render", side_effect=NOT_AGAIN):
            docx = self.download("docx", competing_risks="on")
        self.assertEqual(docx.status_code, 200)

    def test_a_stored_run_viewed_again_draws_no_figure(self):
        self.client.get(reverse("analytics:report_result"), QUERY)
        spec = self.client.get(reverse("analytics:report_result"), QUERY).context[
            "spec_json"
        ]
        self.client.post(reverse("analytics:report_save"), {"name": "S", "spec": spec})
        saved = SavedReport.objects.get(name="S")
        self.client.post(reverse("analytics:saved_report_run", args=[saved.pk]))
        run = ReportRun.objects.get()
        first = self.client.get(run.get_absolute_url())
        with mock.patch("analytics.plots.render", side_effect=NOT_AGAIN):
            again = self.client.get(run.get_absolute_url())
            png = self.client.get(
                reverse("analytics:report_run_download", args=[run.pk, "png"])
            )
        self.assertEqual(again.context["figure"], first.context["figure"])
        self.assertTrue(png.content.startswith(b"\x89PNG"))

    def test_a_figure_of_other_data_is_drawn_anew(self):
        before = self.download("report.pdf")
        Death.objects.order_by("pk").first().delete()
        with mock.patch("analytics.plots.render", side_effect=NOT_AGAIN):
            with self.assertRaises(AssertionError):
                self.download("report.pdf")
        self.assertEqual(before.status_code, 200)
