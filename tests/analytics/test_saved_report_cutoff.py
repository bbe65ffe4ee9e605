"""A saved report's cut-off and title: a blank cut-off is the day of each run."""

import datetime
import io
from unittest import mock

from django.core.management import call_command
from django.urls import reverse

from analytics.models import ReportRun, SavedReport
from registry.models import Site
from tests.cast import CastTestCase

#: The builder's query with the data cut-off left blank.
BLANK_CUTOFF = {
    "name": "Demo study",
    "group_by": "strategy",
    "endpoint": "os",
    "index": "diagnosis",
    "time_unit": "months",
    "times": "12, 24",
    "conf_type": "log-log",
    "conf_level": "0.95",
    "contents": "survival",
}
SAVED_ON = datetime.date(2025, 1, 10)
RUN_ON = datetime.date(2026, 3, 2)


def on(day: datetime.date):
    """Return a patch making `day` the date the report pages read as today."""
    return mock.patch("django.utils.timezone.localdate", return_value=day)


class SavedReportCutoffTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        call_command("seed_demo", stdout=io.StringIO())
        for site in Site.objects.filter(is_synthetic=True):
            site.members.add(cls.ann, cls.mark)

    def setUp(self):
        self.client.force_login(self.mark)

    def save(self, query: dict, **post) -> SavedReport:
        with on(SAVED_ON):
            result = self.client.get(reverse("analytics:report_result"), query)
        self.assertEqual(result.status_code, 200)
        self.client.post(
            reverse("analytics:report_save"),
            {"name": "Demo study", "spec": result.context["spec_json"], **post},
        )
        return SavedReport.objects.get()

    def run_on(self, saved: SavedReport, day: datetime.date) -> ReportRun:
        with on(day):
            self.client.post(reverse("analytics:saved_report_run", args=[saved.pk]))
        return ReportRun.objects.latest("pk")

    def test_a_blank_cut_off_is_saved_blank_and_each_run_censors_at_its_own_day(self):
        saved = self.save(BLANK_CUTOFF)
        self.assertIsNone(saved.spec["as_of"])
        run = self.run_on(saved, RUN_ON)
        self.assertEqual(run.data_cutoff, RUN_ON)
        self.assertEqual(run.result["as_of"], RUN_ON.isoformat())
        self.assertEqual(run.result["spec"]["as_of"], RUN_ON.isoformat())
        later = self.run_on(saved, RUN_ON + datetime.timedelta(days=400))
        self.assertEqual(later.data_cutoff, RUN_ON + datetime.timedelta(days=400))

    def test_the_result_page_shows_the_day_it_used_for_a_blank_cut_off(self):
        with on(SAVED_ON):
            page = self.client.get(reverse("analytics:report_result"), BLANK_CUTOFF)
        self.assertContains(page, "data cut-off 2025-01-10")
        self.assertContains(page, "each run of the saved report censors at the day")

    def test_a_cut_off_given_stays_fixed_for_every_run(self):
        saved = self.save({**BLANK_CUTOFF, "as_of": "2009-12-31"})
        self.assertEqual(saved.spec["as_of"], "2009-12-31")
        self.assertEqual(
            self.run_on(saved, RUN_ON).data_cutoff, datetime.date(2009, 12, 31)
        )

    def test_a_blank_cut_off_can_be_fixed_at_the_day_used_when_saving(self):
        saved = self.save(BLANK_CUTOFF, fix_cutoff=SAVED_ON.isoformat())
        self.assertEqual(saved.spec["as_of"], SAVED_ON.isoformat())
        self.assertEqual(self.run_on(saved, RUN_ON).data_cutoff, SAVED_ON)

    def test_the_saved_reports_page_says_which_cut_off_its_runs_use(self):
        saved = self.save(BLANK_CUTOFF)
        page = self.client.get(saved.get_absolute_url())
        self.assertContains(page, "Data cut-off: the day each run is made.")

    def test_the_saved_name_titles_its_runs(self):
        with on(SAVED_ON):
            result = self.client.get(reverse("analytics:report_result"), BLANK_CUTOFF)
        self.client.post(
            reverse("analytics:report_save"),
            {"name": "Liver study 2026", "spec": result.context["spec_json"]},
        )
        saved = SavedReport.objects.get()
        self.assertEqual(saved.spec["name"], "Liver study 2026")
        run = self.run_on(saved, RUN_ON)
        self.assertEqual(run.result["spec"]["name"], "Liver study 2026")
        page = self.client.get(run.get_absolute_url())
        self.assertContains(page, "<h1>Liver study 2026</h1>", html=True)
        download = self.client.get(
            reverse("analytics:report_run_download", args=[run.pk, "json"])
        )
        self.assertIn("Liver_study_2026.json", download["Content-Disposition"])

    def test_a_report_renamed_since_titles_its_next_run_by_the_new_name(self):
        saved = self.save(BLANK_CUTOFF)
        saved.name = "Renamed in the admin"
        saved.save()
        run = self.run_on(saved, RUN_ON)
        self.assertEqual(run.result["spec"]["name"], "Renamed in the admin")
