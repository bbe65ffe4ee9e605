"""The home page says what the registry holds, by site and strategy."""

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
