"""The home page says what the registry holds, by site and strategy."""

import datetime

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry.models import FollowUp, Patient, Site
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

    def test_an_analyst_sees_no_count_below_the_minimum_cell(self):
        # Found by an audit: the home page showed "No resection 1", a count the
        # analyst's reports mask as "<5" (README, Minimum cell size)
        for _ in range(6):
            make_full_patient(site=self.north)
        make_full_patient(site=self.north).operations.all().delete()
        self.client.force_login(self.ann)
        response = self.client.get(reverse("registry:home"))
        by_strategy = {code: n for code, _, n in response.context["by_strategy"]}
        self.assertEqual(by_strategy["synchronous"], 6)
        self.assertEqual(by_strategy["none"], "<5")
        self.assertEqual(by_strategy["staged"], "<5")  # zero too, as reports
        by_site = {row["site__code"]: row["n"] for row in response.context["by_site"]}
        self.assertEqual(by_site["NTH"], 7)
        self.assertNotContains(response, '<td class="num">1</td>')
        # who may see identifiers sees every count
        self.client.force_login(self.mark)
        response = self.client.get(reverse("registry:home"))
        by_strategy = {code: n for code, _, n in response.context["by_strategy"]}
        self.assertEqual((by_strategy["none"], by_strategy["staged"]), (1, 0))

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
        per_site = counting(queries, "registry_patient")
        self.assertEqual(len(per_site), 1, per_site)
        overview = {s.code: s.patients for s in response.context["site_overview"]}
        self.assertEqual(overview, {"NTH": 1, "STH": 1})

    def test_a_nurse_counts_only_the_facts_of_her_sites(self):
        make_full_patient(site=self.north)
        make_full_patient(site=self.south).operations.all().delete()
        self.client.force_login(self.nina)
        response = self.client.get(reverse("registry:home"))
        by_strategy = {code: n for code, _, n in response.context["by_strategy"]}
        self.assertEqual(
            by_strategy, {**dict.fromkeys(by_strategy, 0), "synchronous": 1}
        )


def counting(queries, table: str) -> list[str]:
    """Return the captured queries that count rows of `table` per site."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(f'SELECT "{table}"."site_id"') and "COUNT(" in q["sql"]
    ]


class KeptPerSiteTests(CastTestCase):
    """The home page and data quality keep each site's counts until a write to
    that site's patients (registry.summaries.Scope.per_site): at 10^6 patients
    in 40 sites, the page after a write counts one site, not all of them."""

    def setUp(self):
        self.first = make_full_patient(site=self.north)
        self.second = make_full_patient(site=self.south)
        self.client.force_login(self.mark)

    def visit(self, name: str):
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get(reverse(name))
        self.assertEqual(response.status_code, 200)
        return response, queries

    def test_a_write_at_one_site_counts_that_site_alone_again(self):
        self.visit("registry:home")
        FollowUp.objects.create(
            patient=self.first, date=datetime.date(2024, 1, 5), disease_status="ned"
        )
        make_full_patient(site=self.north)
        response, queries = self.visit("registry:home")
        counts = counting(queries, "registry_patient") + counting(
            queries, "registry_derivedfacts"
        )
        self.assertEqual(len(counts), 2, counts)  # patients, facts: north's
        for sql in counts:
            self.assertIn(f"IN ({self.north.pk})", sql)
        holdings = {row["site__code"]: row["n"] for row in response.context["by_site"]}
        self.assertEqual(holdings, {"NTH": 2, "STH": 1})
        overview = {s.code: s.patients for s in response.context["site_overview"]}
        self.assertEqual(overview, {"NTH": 2, "STH": 1})
        by_strategy = {code: n for code, _, n in response.context["by_strategy"]}
        self.assertEqual(by_strategy["synchronous"], 3)
        # seen again with no write: nothing counted
        _, queries = self.visit("registry:home")
        self.assertEqual(counting(queries, "registry_derivedfacts"), [])

    def test_data_quality_checks_the_written_site_alone_again(self):
        first, _ = self.visit("registry:data_quality")
        south = [s for s in first.context["sites"] if s.code == "STH"]
        self.first.operations.all().delete()
        response, queries = self.visit("registry:data_quality")
        facts = counting(queries, "registry_derivedfacts")
        self.assertEqual(len(facts), 1, facts)
        self.assertIn(f"IN ({self.north.pk})", facts[0])
        sites = {s.code: s for s in response.context["sites"]}
        self.assertEqual([sites["STH"]], south)  # kept as it was
        self.assertNotEqual(sites["NTH"], first.context["sites"][0])

    def test_a_transfer_counts_both_sites_again(self):
        self.visit("registry:home")
        self.visit("registry:data_quality")
        self.second.site = self.north
        self.second.save()
        response, _ = self.visit("registry:home")
        holdings = {row["site__code"]: row["n"] for row in response.context["by_site"]}
        self.assertEqual(holdings, {"NTH": 2})
        response, _ = self.visit("registry:data_quality")
        self.assertEqual(
            {s.code: s.patients for s in response.context["sites"]}, {"NTH": 2}
        )

    def test_a_deleted_patient_is_counted_out(self):
        self.visit("registry:home")
        self.visit("registry:data_quality")
        self.second.delete()
        response, _ = self.visit("registry:home")
        self.assertEqual(response.context["total"], 1)
        by_strategy = {code: n for code, _, n in response.context["by_strategy"]}
        self.assertEqual(by_strategy["synchronous"], 1)
        response, _ = self.visit("registry:data_quality")
        self.assertEqual([s.code for s in response.context["sites"]], ["NTH"])

    def test_a_patient_deleted_after_a_transfer_is_counted_out_where_they_were(self):
        # moved by QuerySet.update: the instance in hand still names South
        Patient.objects.filter(pk=self.second.pk).update(site=self.north)
        response, _ = self.visit("registry:home")
        self.assertEqual(response.context["by_site"][0]["n"], 2)
        self.second.delete()
        response, _ = self.visit("registry:home")
        holdings = {row["site__code"]: row["n"] for row in response.context["by_site"]}
        self.assertEqual(holdings, {"NTH": 1})

    def test_a_sites_name_is_read_on_every_page_not_kept(self):
        self.visit("registry:home")
        self.visit("registry:data_quality")
        # renamed without a save (no new version): the kept counts stay, the
        # name shown is today's
        Site.objects.filter(pk=self.south.pk).update(name="South General")
        for name in ("registry:home", "registry:data_quality"):
            with self.subTest(page=name):
                self.assertContains(self.visit(name)[0], "South General")
