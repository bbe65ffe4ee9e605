"""The home page says what the registry holds, by site and strategy."""

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.cast import CastTestCase
from tests.factories import make_full_patient


class HomeTests(CastTestCase):
    def test_counts_by_site_and_strategy_for_a_data_manager(self):
        make_full_patient(site=self.north)
        make_full_patient(site=self.south).operations.all().delete()
        self.client.force_login(self.mark)
        response = self.client.get(reverse("registry:home"))
        self.assertEqual(response.context["total"], 2)
        by_strategy = {code: n for code, _, n in response.context["by_strategy"]}
        self.assertEqual(by_strategy["synchronous"], 1)
        self.assertEqual(by_strategy["none"], 1)
        self.assertContains(response, "North Hospital")

    def test_a_nurse_sees_only_her_sites_counts(self):
        make_full_patient(site=self.north)
        make_full_patient(site=self.south)
        self.client.force_login(self.nina)
        response = self.client.get(reverse("registry:home"))
        self.assertEqual(response.context["total"], 1)
        self.assertNotContains(response, "South Hospital")

    def test_query_count_does_not_grow_with_the_registry(self):
        self.client.force_login(self.mark)
        counts = []
        for _ in range(2):
            for _ in range(4):
                make_full_patient(site=self.north)
            with CaptureQueriesContext(connection) as queries:
                self.client.get(reverse("registry:home"))
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1])


class FactsCountedAloneTests(CastTestCase):
    """The summaries that count the stored facts read them alone (each row
    carries the patient's site), without joining the patients: at 10^6 patients
    the join was most of each count's time."""

    def test_the_home_page_and_data_quality_count_the_facts_alone(self):
        make_full_patient(site=self.north)
        make_full_patient(site=self.south).operations.all().delete()
        self.client.force_login(self.mark)
        for url in (reverse("registry:home"), reverse("registry:data_quality")):
            cache.clear()
            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(self.client.get(url).status_code, 200)
            counts = [
                q["sql"]
                for q in queries.captured_queries
                if "registry_derivedfacts" in q["sql"]
                and ("COUNT(" in q["sql"] or "SUM(" in q["sql"])
            ]
            with self.subTest(url=url):
                # home: the strategies, the accrual and the key fields filled,
                # counted once; data quality: the checks and completeness
                self.assertEqual(len(counts), 1, counts)
                for sql in counts:
                    self.assertNotIn("registry_patient", sql)

    def test_the_managers_home_counts_the_patients_per_site_once(self):
        # the holdings and the form statuses per site share one count
        make_full_patient(site=self.north)
        make_full_patient(site=self.south)
        self.client.force_login(self.mark)
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get(reverse("registry:home"))
        per_site = [
            q["sql"]
            for q in queries.captured_queries
            if 'COUNT("registry_patient"."id") AS "n"' in q["sql"]
        ]
        self.assertEqual(len(per_site), 1, per_site)
        overview = {s.code: s.patients for s in response.context["site_overview"]}
        self.assertEqual(overview, {"NTH": 1, "STH": 1})

    def test_data_quality_after_the_home_page_counts_no_patients_per_site(self):
        # one count of the patients per site, kept per data version, serves the
        # home page, the data-quality checks and the form statuses per site
        make_full_patient(site=self.north)
        self.client.force_login(self.mark)
        pages = {}
        for url in (reverse("registry:home"), reverse("registry:data_quality")):
            with CaptureQueriesContext(connection) as queries:
                response = self.client.get(url)
            pages[url] = [
                q["sql"]
                for q in queries.captured_queries
                if 'COUNT("registry_patient"."id") AS "n"' in q["sql"]
            ]
        self.assertEqual([len(found) for found in pages.values()], [1, 0], pages)
        sites = {site.code: site.patients for site in response.context["sites"]}
        self.assertEqual(sites, {"NTH": 1})  # the sites with patients

    def test_a_nurse_counts_only_the_facts_of_her_sites(self):
        make_full_patient(site=self.north)
        make_full_patient(site=self.south).operations.all().delete()
        self.client.force_login(self.nina)
        response = self.client.get(reverse("registry:home"))
        by_strategy = {code: n for code, _, n in response.context["by_strategy"]}
        self.assertEqual(
            by_strategy, {**dict.fromkeys(by_strategy, 0), "synchronous": 1}
        )
