"""Who may open a stored run: it covers sites, and only those who hold them see it."""

import importlib
import io

from django.apps import apps
from django.core.management import call_command
from django.urls import reverse

from analytics.models import ReportRun, SavedReport
from analytics.spec import ReportSpec
from registry.models import Site
from tests.cast import CastTestCase
from tests.factories import make_user

SURVIVAL = {
    "name": "Survival by strategy",
    "as_of": "2009-12-31",
    "times": [12, 24],
    "baseline": [],
    "associations": [],
    "subgroups": [],
}
DOWNLOADS = ("json", "png", "csv", "report.pdf")


class ReportRunTestCase(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        call_command("seed_demo", stdout=io.StringIO())
        cls.nfg = Site.objects.get(code="NFG")
        cls.ruh = Site.objects.get(code="RUH")
        for site in (cls.nfg, cls.ruh):
            site.members.add(cls.ann, cls.mark)
        # Dana: data manager for Northfield only; manages saved reports.
        cls.dana = make_user(
            "dana", group="Data manager", sites=[cls.nfg], is_staff=True
        )

    def saved(self, **changes) -> SavedReport:
        spec = ReportSpec.from_dict({**SURVIVAL, **changes}).to_dict()
        return SavedReport.objects.create(name=spec["name"], spec=spec, owner=self.ann)

    def run_as(self, user, saved: SavedReport) -> ReportRun:
        self.client.force_login(user)
        response = self.client.post(
            reverse("analytics:saved_report_run", args=[saved.pk])
        )
        run = ReportRun.objects.latest("pk")
        self.assertRedirects(response, run.get_absolute_url())
        return run

    def status_of(self, user, run: ReportRun) -> dict[str, int]:
        """Return the status of the run's page and of each of its downloads."""
        self.client.force_login(user)
        pages = {"page": run.get_absolute_url()}
        pages |= {
            fmt: reverse("analytics:report_run_download", args=[run.pk, fmt])
            for fmt in DOWNLOADS
        }
        return {name: self.client.get(url).status_code for name, url in pages.items()}


class RunVisibilityTests(ReportRunTestCase):
    def test_a_run_records_the_sites_its_runner_could_see(self):
        run = self.run_as(self.ann, self.saved())
        self.assertEqual(
            {site.code for site in run.sites.all()}, {"NTH", "STH", "NFG", "RUH"}
        )

    def test_the_cohorts_site_filter_narrows_the_sites_a_run_covers(self):
        run = self.run_as(self.ann, self.saved(cohort={"sites": ["NFG"]}))
        self.assertEqual([site.code for site in run.sites.all()], ["NFG"])

    def test_a_manager_without_every_site_of_a_run_gets_not_found_everywhere(self):
        run = self.run_as(self.ann, self.saved())
        self.assertEqual(
            self.status_of(self.dana, run), dict.fromkeys(["page", *DOWNLOADS], 404)
        )

    def test_a_manager_holding_every_site_of_a_run_opens_and_downloads_it(self):
        run = self.run_as(self.ann, self.saved())
        self.assertEqual(
            self.status_of(self.mark, run), dict.fromkeys(["page", *DOWNLOADS], 200)
        )

    def test_a_manager_opens_a_run_narrowed_to_their_site(self):
        run = self.run_as(self.ann, self.saved(cohort={"sites": ["NFG"]}))
        self.assertEqual(self.status_of(self.dana, run)["page"], 200)

    def test_another_analyst_gets_not_found_whatever_sites_they_hold(self):
        run = self.run_as(self.ann, self.saved())
        # Alex: analyst at every site ann holds, without the right to manage
        alex = make_user(
            "alex",
            group="Analyst",
            sites=[self.north, self.south, self.nfg, self.ruh],
        )
        self.assertEqual(self.status_of(alex, run)["page"], 404)

    def test_the_runner_opens_their_run_and_a_superuser_opens_every_run(self):
        run = self.run_as(self.ann, self.saved())
        root = make_user("root", is_superuser=True, is_staff=True)
        self.assertEqual(self.status_of(self.ann, run)["page"], 200)
        self.assertEqual(self.status_of(root, run)["page"], 200)

    def test_the_saved_reports_page_lists_only_the_runs_this_user_may_open(self):
        saved = self.saved()
        anns = self.run_as(self.ann, saved)
        danas = self.run_as(self.dana, saved)
        self.client.force_login(self.dana)
        page = self.client.get(saved.get_absolute_url())
        self.assertEqual(list(page.context["runs"]), [danas])
        self.assertNotContains(page, anns.get_absolute_url())
        self.client.force_login(self.mark)
        page = self.client.get(saved.get_absolute_url())
        self.assertEqual(list(page.context["runs"]), [danas, anns])

    def test_the_report_list_counts_only_the_runs_this_user_may_open(self):
        saved = self.saved()
        self.run_as(self.ann, saved)
        danas = self.run_as(self.dana, saved)
        self.client.force_login(self.dana)
        listed = self.client.get(reverse("analytics:report_list"))
        row = next(r for r in listed.context["saved_reports"] if r.pk == saved.pk)
        self.assertEqual((row.run_count, row.last_run), (1, danas.run_at))
        self.client.force_login(self.mark)
        listed = self.client.get(reverse("analytics:report_list"))
        row = next(r for r in listed.context["saved_reports"] if r.pk == saved.pk)
        self.assertEqual(row.run_count, 2)

    def test_the_admin_lists_only_the_runs_this_user_may_open(self):
        saved = self.saved()
        self.run_as(self.ann, saved)
        danas = self.run_as(self.dana, saved)
        self.client.force_login(self.dana)
        page = self.client.get(
            reverse("admin:analytics_savedreport_change", args=[saved.pk])
        )
        formset = page.context["inline_admin_formsets"][0].formset
        self.assertEqual([form.instance for form in formset], [danas])


class FillRunSitesMigrationTests(ReportRunTestCase):
    """0003_reportrun_sites gives runs stored before it their runner's sites."""

    def stored_run(self, run_by, **cohort) -> ReportRun:
        saved = self.saved(name=f"Run {ReportRun.objects.count()}")
        return ReportRun.objects.create(
            saved_report=saved,
            run_by=run_by,
            software_version="test",
            data_cutoff="2009-12-31",
            fingerprint="0" * 64,
            patients=0,
            result={"spec": {**saved.spec, "cohort": cohort}},
        )

    def codes(self, run: ReportRun) -> set[str]:
        return {site.code for site in run.sites.all()}

    def test_existing_runs_get_their_runners_sites_or_every_site(self):
        migration = importlib.import_module("analytics.migrations.0003_reportrun_sites")
        root = make_user("root", is_superuser=True)
        gone = make_user("gone")
        nurses = self.stored_run(self.nina)
        narrowed = self.stored_run(self.ann, sites=["NFG", "NTH"])
        roots = self.stored_run(root)
        orphan = self.stored_run(gone)
        gone.delete()
        migration.fill_sites(apps, None)
        every_site = set(Site.objects.values_list("code", flat=True))
        self.assertEqual(self.codes(nurses), {"NTH"})
        self.assertEqual(self.codes(narrowed), {"NFG", "NTH"})
        self.assertEqual(self.codes(roots), every_site)
        self.assertEqual(self.codes(orphan), every_site)
