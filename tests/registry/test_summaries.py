"""Per-site summaries are computed once per data version, and never served stale."""

from __future__ import annotations

import datetime
import os
from unittest import mock

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test import SimpleTestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry import summaries
from registry.settings import env_cache
from tests.cast import CastTestCase
from tests.factories import make_followup, make_full_patient, make_patient

DATA_QUALITY = reverse("registry:data_quality")
HOME = reverse("registry:home")


def site_counts(response) -> dict[str, int]:
    return {site.code: site.patients for site in response.context["sites"]}


class DataQualitySummaryTests(CastTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.own = make_full_patient(site=cls.north)
        make_full_patient(site=cls.south)

    def setUp(self):
        self.client.force_login(self.mark)

    def test_a_second_visit_reads_the_kept_summary(self):
        with CaptureQueriesContext(connection) as first:
            before = self.client.get(DATA_QUALITY)
        with CaptureQueriesContext(connection) as second:
            again = self.client.get(DATA_QUALITY)
        self.assertEqual(site_counts(again), site_counts(before))
        self.assertEqual(site_counts(again), {"NTH": 1, "STH": 1})
        # the per-site aggregates and lists are not run again
        self.assertLess(len(second), len(first))

    def test_every_kind_of_write_is_seen_at_once(self):
        self.client.get(DATA_QUALITY)
        # a new patient (an addition)
        make_patient(site=self.north)
        self.assertEqual(
            site_counts(self.client.get(DATA_QUALITY)), {"NTH": 2, "STH": 1}
        )
        # a deleted follow-up (a deletion) makes the patient lack follow-up
        no_follow_up = {
            site.code: site.counts["no_follow_up"]
            for site in self.client.get(DATA_QUALITY).context["sites"]
        }
        self.own.followups.get().delete()
        after = {
            site.code: site.counts["no_follow_up"]
            for site in self.client.get(DATA_QUALITY).context["sites"]
        }
        self.assertEqual(after["NTH"], no_follow_up["NTH"] + 1)
        # an edit: a follow-up added back
        make_followup(self.own, date=datetime.date(2006, 1, 1))
        again = {
            site.code: site.counts["no_follow_up"]
            for site in self.client.get(DATA_QUALITY).context["sites"]
        }
        self.assertEqual(again["NTH"], no_follow_up["NTH"])

    def test_each_set_of_sites_has_its_own_summary(self):
        self.assertEqual(
            site_counts(self.client.get(DATA_QUALITY)), {"NTH": 1, "STH": 1}
        )
        self.client.force_login(self.nina)
        self.assertEqual(site_counts(self.client.get(DATA_QUALITY)), {"NTH": 1})
        self.client.force_login(self.sam)
        self.assertEqual(site_counts(self.client.get(DATA_QUALITY)), {"STH": 1})

    def test_the_home_page_counts_a_new_patient_at_once(self):
        self.assertEqual(self.client.get(HOME).context["total"], 2)
        make_patient(site=self.south)
        self.assertEqual(self.client.get(HOME).context["total"], 3)

    def test_a_write_whose_history_ids_were_drawn_earlier_is_seen(self):
        # Found by an audit (PostgreSQL): an import draws its history ids when
        # it writes, and commits minutes later, after other writes; its commit
        # then moves no table's highest history id, and the worklist it brought
        # up to date was served from the cache. Here the history ids do not
        # move at all: the versions of the sites' data must still tell.
        self.client.force_login(self.nina)
        with mock.patch.object(summaries, "highest_history_ids", return_value=[]):
            overdue = self.client.get(HOME).context["worklist"].overdue_count
            self.assertEqual(overdue, 1)
            make_followup(self.own, date=datetime.date.today())
            overdue = self.client.get(HOME).context["worklist"].overdue_count
        self.assertEqual(overdue, 0)

    def test_the_patient_lists_count_follows_every_write(self):
        url = reverse("registry:patient_list")
        self.assertEqual(self.client.get(url).context["table"].paginator.count, 2)
        make_patient(site=self.north)
        self.assertEqual(self.client.get(url).context["table"].paginator.count, 3)
        # a filtered list is counted every time, and by its filter
        filtered = self.client.get(url, {"site": self.south.pk})
        self.assertEqual(filtered.context["table"].paginator.count, 1)


class PerVersionTests(CastTestCase):
    def test_computed_once_per_version_and_day(self):
        calls = []

        def compute():
            calls.append(1)
            return len(calls)

        day = datetime.date(2026, 1, 1)
        keep = summaries.per_version
        self.assertEqual(keep("x", self.mark, compute, today=day), 1)
        self.assertEqual(keep("x", self.mark, compute, today=day), 1)
        # another day (overdue follow-up depends on it), another summary
        self.assertEqual(keep("x", self.mark, compute, today=day.replace(day=2)), 2)
        # another name, another summary
        self.assertEqual(keep("y", self.mark, compute, today=day), 3)
        # any write changes the data version
        version = summaries.data_version()
        make_patient(site=self.south)
        self.assertNotEqual(summaries.data_version(), version)
        self.assertEqual(keep("x", self.mark, compute, today=day), 4)


class KeptSummariesHoldNoIdentifierTests(CastTestCase):
    def test_no_mrn_or_date_of_birth_is_kept_in_the_cache(self):
        patient = make_patient(
            site=self.north, mrn="ZX99887", date_of_birth=datetime.date(1931, 2, 3)
        )
        # alive, last seen long ago: overdue, and no record marked complete
        make_followup(patient, date=datetime.date(2005, 1, 10))
        self.client.force_login(self.nina)
        home = self.client.get(HOME)
        listed = [p.registry_number for p in home.context["worklist"].overdue]
        self.assertIn(patient.registry_number, listed)
        self.client.get(DATA_QUALITY)
        kept = b"".join(cache._cache.values())  # LocMemCache: the pickled values
        self.assertIn(patient.registry_number.encode(), kept)
        self.assertNotIn(b"ZX99887", kept)
        self.assertNotIn(b"1931", kept)


DATABASE_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "registry_cache",
        "OPTIONS": {"MAX_ENTRIES": 5000},
    }
}


@override_settings(CACHES=DATABASE_CACHE)
class SharedCacheTests(CastTestCase):
    """REGISTRY_CACHE=database: one cache for every server process."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        call_command("createcachetable", verbosity=0)

    def setUp(self):
        self.client.force_login(self.mark)

    def kept(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM registry_cache")
            return cursor.fetchone()[0]

    def test_summaries_are_kept_in_the_database_and_follow_writes(self):
        make_full_patient(site=self.north)
        first = site_counts(self.client.get(DATA_QUALITY))
        self.assertEqual(first, {"NTH": 1})
        self.assertGreater(self.kept(), 0)  # in a table every process reads
        with CaptureQueriesContext(connection) as again:
            self.assertEqual(site_counts(self.client.get(DATA_QUALITY)), first)
        self.assertTrue(any("registry_cache" in q["sql"] for q in again))
        make_patient(site=self.south)
        self.assertEqual(
            site_counts(self.client.get(DATA_QUALITY)), {"NTH": 1, "STH": 1}
        )


class CacheSettingTests(SimpleTestCase):
    def tearDown(self):
        os.environ.pop("REGISTRY_CACHE", None)

    def test_memory_by_default_database_on_request_anything_else_refused(self):
        os.environ.pop("REGISTRY_CACHE", None)
        self.assertIn("LocMemCache", env_cache("REGISTRY_CACHE")["default"]["BACKEND"])
        os.environ["REGISTRY_CACHE"] = "Database"
        self.assertEqual(
            env_cache("REGISTRY_CACHE")["default"],
            DATABASE_CACHE["default"],
        )
        os.environ["REGISTRY_CACHE"] = "redis"
        with self.assertRaisesMessage(
            ImproperlyConfigured, "REGISTRY_CACHE='redis' is neither memory"
        ):
            env_cache("REGISTRY_CACHE")


class CacheRoomTests(SimpleTestCase):
    def test_the_cache_keeps_a_national_registrys_summaries_a_busy_quarter_hour(
        self,
    ):
        # 40 sites, three summaries per site, and the stale versions of a
        # quarter-hour of data entry beside them (a write every second or two):
        # nothing is dropped. Django's own default keeps 300 and then drops a
        # third of them, live and stale alike.
        cache.clear()
        keys = [f"test-room:{i}" for i in range(1500)]
        for key in keys:
            cache.set(key, (1,), 900)
        self.assertEqual(len(cache.get_many(keys)), len(keys))
        cache.clear()


class OneVersionPerPageTests(CastTestCase):
    """A page showing several summaries reads the user's sites and the data
    version once, not once per summary."""

    def reads(self, user, url) -> dict[str, int]:
        """Return how many times a visit to `url` read the data version."""
        self.client.force_login(user)
        self.client.get(url)  # the summaries computed and kept
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(self.client.get(url).status_code, 200)
        sql = [query["sql"] for query in queries.captured_queries]
        return {
            "data version": sum(s.startswith("SELECT (SELECT MAX(") for s in sql),
        }

    def test_the_managers_home_and_data_quality_read_the_version_once(self):
        make_full_patient(site=self.north)
        for url in (HOME, DATA_QUALITY):
            with self.subTest(url=url):
                self.assertEqual(self.reads(self.mark, url), {"data version": 1})

    def test_the_nurses_home_reads_the_version_once(self):
        make_full_patient(site=self.north)
        self.assertEqual(self.reads(self.nina, HOME), {"data version": 1})
