"""Reports' reads go to the read replica inside reading_reports(); all else to
default (registry.routers)."""

import os
import threading
import unittest

import pytest
from django.conf import settings
from django.db import connections, router
from django.test import SimpleTestCase, TransactionTestCase, override_settings

from registry import settings as registry_settings
from registry.models import Patient, Site
from registry.routers import ReplicaRouter, reading_reports

#: The settings with a replica alias that is the default database under another
#: name, as DATABASE_REPLICA_URL configures it in tests.
WITH_REPLICA = {
    **settings.DATABASES,
    "replica": {**settings.DATABASES["default"], "TEST": {"MIRROR": "default"}},
}
WITHOUT_REPLICA = {"default": settings.DATABASES["default"]}


# Overriding DATABASES does not reconnect anything (Django warns so); the router
# only reads which aliases exist, and no query runs in these tests.
@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@override_settings(DATABASES=WITH_REPLICA)
class ReplicaRoutingTests(SimpleTestCase):
    def test_reads_inside_reading_reports_go_to_the_replica(self):
        with reading_reports():
            self.assertEqual(router.db_for_read(Patient), "replica")
            self.assertEqual(Patient.objects.all().db, "replica")
            self.assertEqual(Site.objects.filter(code="A").db, "replica")

    def test_reads_outside_reading_reports_go_to_default(self):
        self.assertEqual(router.db_for_read(Patient), "default")
        self.assertEqual(Patient.objects.all().db, "default")

    def test_reads_after_the_block_go_to_default_again(self):
        with reading_reports():
            pass
        self.assertEqual(Patient.objects.all().db, "default")

    def test_the_block_ends_even_when_the_report_fails(self):
        with self.assertRaises(ValueError), reading_reports():
            raise ValueError
        self.assertEqual(Patient.objects.all().db, "default")

    def test_reading_reports_works_as_a_decorator(self):
        @reading_reports()
        def report():
            return Patient.objects.all().db

        self.assertEqual(report(), "replica")
        self.assertEqual(Patient.objects.all().db, "default")

    def test_writes_go_to_default_inside_and_outside_reading_reports(self):
        self.assertEqual(router.db_for_write(Patient), "default")
        with reading_reports():
            self.assertEqual(router.db_for_write(Patient), "default")
            # select_for_update marks the queryset as one that writes
            self.assertEqual(Patient.objects.select_for_update().db, "default")

    def test_an_object_read_from_the_replica_is_saved_to_default(self):
        site = Site(code="A", name="Site A")
        site._state.db = "replica"
        with reading_reports():
            self.assertEqual(router.db_for_write(Site, instance=site), "default")

    def test_other_requests_threads_are_not_routed_to_the_replica(self):
        seen = []
        thread = threading.Thread(target=lambda: seen.append(Patient.objects.all().db))
        with reading_reports():
            thread.start()
            thread.join()
        self.assertEqual(seen, ["default"])

    def test_relations_are_allowed_between_default_and_replica(self):
        patient, site = Patient(), Site()
        patient._state.db, site._state.db = "default", "replica"
        self.assertIs(router.allow_relation(patient, site), True)

    def test_migrations_run_on_default_only(self):
        self.assertTrue(
            router.allow_migrate("default", "registry", model_name="patient")
        )
        self.assertFalse(
            router.allow_migrate("replica", "registry", model_name="patient")
        )


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@override_settings(DATABASES=WITHOUT_REPLICA)
class NoReplicaTests(SimpleTestCase):
    def test_without_a_replica_reports_read_from_default(self):
        with reading_reports():
            self.assertEqual(Patient.objects.all().db, "default")
            self.assertEqual(router.db_for_read(Patient), "default")

    def test_the_router_is_installed(self):
        self.assertIn("registry.routers.ReplicaRouter", settings.DATABASE_ROUTERS)
        self.assertTrue(
            any(isinstance(r, ReplicaRouter) for r in router.routers),
        )


class ReplicaSettingTests(SimpleTestCase):
    def setUp(self):
        self.saved = dict(os.environ)

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.saved)

    def test_no_replica_alias_without_database_replica_url(self):
        os.environ.pop("DATABASE_REPLICA_URL", None)
        self.assertIsNone(
            registry_settings.env_replica_database("DATABASE_REPLICA_URL")
        )

    def test_replica_url_is_parsed_like_database_url_and_mirrors_default_in_tests(
        self,
    ):
        os.environ["DATABASE_REPLICA_URL"] = (
            "postgres://reader@replica.example:5432/crc"
        )
        config = registry_settings.env_replica_database("DATABASE_REPLICA_URL")
        self.assertEqual(config["ENGINE"], "django.db.backends.postgresql")
        self.assertEqual(config["HOST"], "replica.example")
        self.assertEqual(config["USER"], "reader")
        self.assertEqual(config["TEST"], {"MIRROR": "default"})
        self.assertIs(config["ATOMIC_REQUESTS"], False)

    def test_malformed_replica_url_names_the_variable(self):
        os.environ["DATABASE_REPLICA_URL"] = "mysql://root@localhost/registry"
        with self.assertRaisesMessage(Exception, "DATABASE_REPLICA_URL"):
            registry_settings.env_replica_database("DATABASE_REPLICA_URL")


@unittest.skipUnless(
    "replica" in settings.DATABASES,
    "set DATABASE_REPLICA_URL to query through a configured replica alias",
)
class ConfiguredReplicaTests(TransactionTestCase):
    """With DATABASE_REPLICA_URL set, the replica is the test database itself."""

    databases = {"default", "replica"}

    def test_a_report_read_is_answered_through_the_replica_connection(self):
        Site.objects.create(code="R", name="Replica site")
        with reading_reports():
            queryset = Site.objects.filter(code="R")
            self.assertEqual(queryset.db, "replica")
            self.assertEqual([site.name for site in queryset], ["Replica site"])
        self.assertTrue(connections["replica"].connection is not None)


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@override_settings(DATABASES=WITH_REPLICA)
class ReportRunsOnTheReplicaTests(SimpleTestCase):
    def test_a_reports_cohort_is_read_from_the_replica(self):
        from unittest import mock

        from analytics import dataset
        from analytics.reports import run_report
        from analytics.spec import ReportSpec

        class Read(Exception):
            pass

        def survival_table(queryset, **kwargs):
            raise Read(queryset.db)

        spec = ReportSpec.from_dict(
            {"as_of": "2009-12-31", "baseline": [], "associations": [], "subgroups": []}
        )
        with (
            mock.patch.object(dataset, "unknown_sites", return_value=[]),
            mock.patch.object(dataset, "survival_table", survival_table),
            self.assertRaises(Read) as read,
        ):
            run_report(spec, user=dataset.AllSites())
        self.assertEqual(read.exception.args, ("replica",))
